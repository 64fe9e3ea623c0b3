#!/usr/bin/env bash
# The model's speed beside llama.cpp's, on the same file, prompt length and threads, in one
# run. llama.cpp is built once from the source vendored in the llama-cpp-python 0.3.36 sdist
# (PyPI; cmake from PyPI too, GGML_NATIVE=ON) into ~/.cache/parley/llama.cpp-0.3.36.
#
#   scripts/bench-model.sh PARLEY_BIN [THREADS]   both benches, then the table with ratios
#   scripts/bench-model.sh --references           rewrites tests/tests/data/llama-cpp-greedy-WIDTH.jsonl:
#                                                 5 prompts x 32 greedy tokens from llama.cpp, WIDTH
#                                                 avx512 or avx2 (llama.cpp's greedy text
#                                                 differs between its two builds)
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "bench-model: $*" >&2; }

version=0.3.36
sdist_sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
sdist_url=https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/llama_cpp_python-$version.tar.gz
cache=$HOME/.cache/parley/llama.cpp-$version
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
bin=$cache/build/bin

# GGML_NATIVE compiles for this CPU, AMX included where the CPU lists it; but a kernel or
# hypervisor that does not grant AMX's tile state kills llama.cpp at its first batch
# (seen here: ldtilecfg faults on a 2-core VM whose CPU lists amx_int8). Parley does not
# use AMX either, so llama.cpp is built without it.
flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

build_llama_cpp() {
    if [ -x "$bin/llama-bench" ] && [ -x "$bin/llama-batched-bench" ] && [ -x "$bin/llama-simple" ] \
        && [ "$(cat "$cache/build/flags" 2>/dev/null)" = "$flags" ]; then
        return
    fi
    mkdir -p "$cache"
    if [ ! -d "$cache/src" ]; then
        log "downloading llama-cpp-python $version (sdist)"
        curl -sSfL -o "$cache/sdist.tar.gz" "$sdist_url"
        echo "$sdist_sha  $cache/sdist.tar.gz" | sha256sum -c --quiet
        mkdir -p "$cache/unpacked"
        tar -xzf "$cache/sdist.tar.gz" -C "$cache/unpacked"
        mv "$cache/unpacked/llama_cpp_python-$version/vendor/llama.cpp" "$cache/src"
        rm -rf "$cache/unpacked" "$cache/sdist.tar.gz"
    fi
    if ! command -v cmake >/dev/null && [ ! -x "$cache/venv/bin/cmake" ]; then
        log "installing cmake (PyPI) into $cache/venv"
        python3 -m venv "$cache/venv"
        "$cache/venv/bin/pip" install --quiet cmake >&2
    fi
    local cmake
    cmake=$(command -v cmake || echo "$cache/venv/bin/cmake")
    log "building llama.cpp (about 10 minutes on 2 cores, once)"
    "$cmake" -S "$cache/src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
        -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >&2
    "$cmake" --build "$cache/build" -j "$(nproc)" --target llama-bench llama-batched-bench llama-simple >&2
    echo "$flags" > "$cache/build/flags"
}

scripts/fetch-model.sh
build_llama_cpp

if [ "${1:-}" = "--references" ]; then
    # Each prompt as SmolLM2's ChatML template renders a system and a user turn; the
    # completion is what llama-simple (greedy) prints after the prompt.
    width=$(grep -qw avx512f /proc/cpuinfo && echo avx512 || echo avx2)
    out=tests/tests/data/llama-cpp-greedy-$width.jsonl
    : > "$out.tmp"
    while IFS= read -r user; do
        system="You are a helpful assistant."
        # (the x keeps the final newline, which $(...) would drop)
        prompt=$(printf '<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\nx' "$system" "$user")
        prompt=${prompt%x}
        printed=$("$bin/llama-simple" -m "$model" -n 32 "$prompt" 2>/dev/null)
        python3 - "$system" "$user" "$prompt" "$printed" >> "$out.tmp" <<'PY'
import json, sys
system, user, prompt, printed = sys.argv[1:]
assert printed.startswith(prompt), "llama-simple did not echo the prompt first"
print(json.dumps({"system": system, "user": user, "completion": printed[len(prompt):]}, ensure_ascii=False))
PY
    done <<'PROMPTS'
Write a long paragraph about the sea.
What is the capital of France?
Give me three tips for staying focused while studying.
Explain what a hash table is to a ten-year-old.
Translate "good morning, how are you?" into Spanish and French.
PROMPTS
    mv "$out.tmp" "$out"
    log "wrote $out (llama-simple of llama-cpp-python $version's llama.cpp, greedy, 32 tokens)"
    exit 0
fi

parley=${1:?usage: scripts/bench-model.sh PARLEY_BIN [THREADS]}
threads=${2:-2}
prompt_tokens=38
new_tokens=64

log "llama-bench: prompt $prompt_tokens tokens, generation $new_tokens, $threads threads"
llama_bench=$("$bin/llama-bench" -m "$model" -t "$threads" -p "$prompt_tokens" -n "$new_tokens" -r 3 -o json 2>/dev/null)
log "llama-batched-bench: 4 sequences sharing a $prompt_tokens-token prompt, $new_tokens tokens each"
batched=$("$bin/llama-batched-bench" -m "$model" -t "$threads" -c 2048 -b 512 -ub 512 -npp "$prompt_tokens" -ntg "$new_tokens" -npl 4 -pps 2>/dev/null)
log "llama-batched-bench: 8 sequences, $prompt_tokens-token prompts, 128 tokens each"
eight=$("$bin/llama-batched-bench" -m "$model" -t "$threads" -c 4096 -b 512 -ub 512 -npp "$prompt_tokens" -ntg 128 -npl 8 2>/dev/null)
log "parley bench"
ours=$("$parley" bench --model "$model" --threads "$threads" --prompt-tokens "$prompt_tokens" --new-tokens "$new_tokens" -k 4 --runs 5)
echo "$ours"
echo
python3 - "$llama_bench" "$batched" "$ours" "$eight" <<'PY'
import json, re, sys
bench, batched, ours, eight = sys.argv[1:]
rates = {}
for run in json.loads(bench):
    kind = "prompt" if run["n_prompt"] > 0 else "generation"
    rates[kind] = run["avg_ts"]
# llama-batched-bench's table: | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | T s | S t/s |
def last_row(table):
    row = [line for line in table.splitlines() if re.match(r"\|\s*\d", line)][-1]
    return [float(c.strip()) for c in row.strip("|").split("|")]
batched_total = last_row(batched)[8]
# Its decoding alone (S_TG): Parley's figure also holds the 8 prompts and the sampling.
eight_total = last_row(eight)[7]
def ours_value(label):
    for line in ours.splitlines():
        if line.startswith(label):
            return float(line[34:].split()[0])
    raise SystemExit(f"parley bench printed no '{label}'")
rows = [
    ("prompt tokens/s", ours_value("prompt tokens/s"), rates["prompt"], True),
    ("generation tokens/s", ours_value("generation tokens/s"), rates["generation"], True),
    ("4 alternatives x 64 tokens (s)", ours_value("4 alternatives x 64 tokens"), batched_total, False),
]
print(f"{'measure':<34} {'parley':>10} {'llama.cpp':>10} {'ratio':>7}   target")
for label, mine, theirs, higher in rows:
    ratio = mine / theirs if higher else theirs / mine
    print(f"{label:<34} {mine:>10.2f} {theirs:>10.2f} {ratio:>6.2f}x   >= 1.00x")
one = ours_value("1 chat request x")
eight = ours_value("8 at once, total tokens/s")
# parley bench runs one request and 8 at once in pairs; its ratio is the pairs' median.
paired = re.search(r"\(([\d.]+)x one request", next(l for l in ours.splitlines() if l.startswith("8 at once")))
ratio = float(paired.group(1)) if paired else eight / one
print(f"{'8 x 128 tokens at once, tokens/s':<34} {eight:>10.1f} {eight_total:>10.1f} {eight / eight_total:>6.2f}x   -")
print(f"{'8 concurrent / 1 request':<34} {eight:>10.1f} {one:>10.1f} {ratio:>6.2f}x   >= 3.00x (parley alone)")
PY
