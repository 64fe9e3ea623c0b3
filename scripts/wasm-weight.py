#!/usr/bin/env python3
"""What the browser bundle's wasm holds, by crate: the code bytes of each function, summed
by the crate its name starts in (from the wasm's name section, as twiggy reads it).

    scripts/wasm-weight.py FILE.wasm [TOP]

Give it a module that still has its names: parley-wasm-bundle strips them from what it
writes, so use cargo's output, $CARGO_TARGET_DIR/front/wasm32-unknown-unknown/wasm-release/
app_hydrate.wasm (the whole app, before the split).
"""
import collections
import re
import sys


def uleb(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, i


def functions(data):
    """(name, code bytes) of each function defined in the module."""
    if data[:4] != b"\0asm":
        sys.exit("not a wasm module")
    i, imported, bodies, names = 8, 0, [], {}
    while i < len(data):
        section = data[i]
        size, i = uleb(data, i + 1)
        end = i + size
        if section == 2:  # imports: functions among them shift the indices
            count, j = uleb(data, i)
            for _ in range(count):
                for _ in range(2):
                    length, j = uleb(data, j)
                    j += length
                kind = data[j]
                j += 1
                if kind == 0:
                    _, j = uleb(data, j)
                    imported += 1
                elif kind in (1, 2):
                    j += 1 if kind == 1 else 0
                    flags = data[j]
                    _, j = uleb(data, j + 1)
                    if flags & 1:
                        _, j = uleb(data, j)
                elif kind == 3:
                    j += 2
                elif kind == 4:
                    _, j = uleb(data, j + 1)
        elif section == 10:  # code
            count, j = uleb(data, i)
            for _ in range(count):
                length, j = uleb(data, j)
                bodies.append(length)
                j += length
        elif section == 0:
            length, j = uleb(data, i)
            if data[j : j + length] == b"name":
                j += length
                while j < end:
                    sub = data[j]
                    sub_size, j = uleb(data, j + 1)
                    if sub == 1:
                        count, k = uleb(data, j)
                        for _ in range(count):
                            index, k = uleb(data, k)
                            length, k = uleb(data, k)
                            names[index] = data[k : k + length].decode("utf-8", "replace")
                            k += length
                    j += sub_size
        i = end
    return [(names.get(imported + n, "?"), size) for n, size in enumerate(bodies)]


LEGACY = {"$LT$": "<", "$GT$": ">", "$RF$": "&", "$BP$": "*", "$u20$": " ", "$C$": ",", "..": "::"}


def crate(name):
    """The first crate a (legacy- or v0-mangled) name mentions."""
    if name.startswith("_R"):
        found = re.search(r"C(?:s[0-9a-zA-Z]*_)?(\d+)", name)
        return name[found.end() : found.end() + int(found.group(1))] if found else "?"
    if name.startswith("_ZN"):
        found = re.match(r"_ZN(\d+)", name)
        segment = name[found.end() : found.end() + int(found.group(1))]
        if "$LT$" not in segment:
            return segment
        for code, char in LEGACY.items():
            segment = segment.replace(code, char)
        found = re.search(r"([a-z_][a-z0-9_]*)::", segment)
        return found.group(1) if found else "?"
    return "(unmangled) " + name.split("::")[0].split("(")[0][:30]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    listed = functions(open(sys.argv[1], "rb").read())
    by_crate = collections.Counter()
    for name, size in listed:
        by_crate[crate(name)] += size
    total = sum(by_crate.values())
    print(f"{sys.argv[1]}: {len(listed)} functions, {total} code bytes")
    for name, size in by_crate.most_common(top):
        print(f"{size:>10} {100 * size / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
