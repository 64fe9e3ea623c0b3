#!/usr/bin/env bash
# Set-up time as a new machine sees it: clones this checkout's HEAD into an empty home (its
# own cargo registry, target folder, npm and tool caches; the Rust toolchain is the
# machine's) and times `make run` until Parley listens. Prints where the server's build
# went (`cargo build --timings`, the largest groups of crates). About 12 to 25 minutes on 2
# cores, as the machine goes (README, Set-up time).
#
#   scripts/bench-setup.sh        (make bench-setup)
set -euo pipefail
cd "$(dirname "$0")/.."
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
fresh=$(mktemp -d)
trap 'pkill -f "$fresh/.cache/parley/target/dist/parley serve" || true; rm -rf "$fresh"' EXIT
log=$fresh/make-run.log
start=$(date +%s)
git clone -q "$PWD" "$fresh/parley"
cd "$fresh/parley"
# Only to read where the time goes: the server's build writes its --timings report.
sed -i 's#--no-default-features$#--no-default-features --timings#' scripts/build.sh
grep -q -- '--timings' scripts/build.sh || { echo "bench-setup: cannot add --timings to scripts/build.sh" >&2; exit 1; }
env -u CARGO_TARGET_DIR -u LEPTOS_OUTPUT_NAME HOME="$fresh" RUSTUP_HOME="$rustup_home" \
    CARGO_HOME="$fresh/.cargo" PATH="$cargo_bin:$PATH" make run > "$log" 2>&1 &
make_pid=$!
until grep -q 'Parley listening' "$log"; do
    if ! kill -0 "$make_pid" 2>/dev/null; then
        tail -20 "$log" >&2
        echo "bench-setup: make run stopped before Parley listened" >&2
        exit 1
    fi
    sleep 2
done
echo "clone to serving: $(( $(date +%s) - start )) s"
grep -E 'Finished `(release|wasm-release)`' "$log" || true
report=$(ls -t "$fresh"/.cache/parley/target/cargo-timings/cargo-timing-*.html | head -1)
python3 - "$report" <<'PY'
import json, re, sys
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);", open(sys.argv[1]).read(), re.S).group(1))
groups = {}
for unit in units:
    name = unit["name"]
    for prefix, group in [("parquet", "parquet"), ("candle", "candle"),
                          ("gemm", "candle"), ("sqlx", "sqlx+sqlite"), ("libsqlite", "sqlx+sqlite"),
                          ("tokenizers", "tokenizers"), ("onig", "tokenizers")]:
        if name.startswith(prefix):
            name = group
            break
    groups[name] = groups.get(name, 0) + unit["duration"]
print(f"server build: {len(units)} units, {sum(u['duration'] for u in units) / 60:.1f} unit-minutes")
for name, seconds in sorted(groups.items(), key=lambda item: -item[1])[:10]:
    print(f"  {name:<16} {seconds:7.1f} s")
PY
