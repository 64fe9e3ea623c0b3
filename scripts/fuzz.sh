#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target (tests/fuzz) for SECONDS seconds with cargo fuzz on the
# nightly toolchain, installing cargo-fuzz once. Runs start from the seeds in
# tests/fuzz/corpus/<target> and grow a working corpus outside the checkout
# (~/.cache/parley/fuzz-corpus); a crash is written to tests/fuzz/artifacts/<target> and
# stops the run. Add each crash, once fixed, to the seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (nightly, once)" >&2
    cargo +nightly install cargo-fuzz --locked >&2
fi
# The project's versions, so the fuzz build resolves the crates the server is tested with.
[ -f tests/fuzz/Cargo.lock ] || cp Cargo.lock tests/fuzz/Cargo.lock
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/parley/fuzz-target}
work=${FUZZ_CORPUS_DIR:-$HOME/.cache/parley/fuzz-corpus}
for target in import ranking policy; do
    mkdir -p "$work/$target"
    echo "fuzz: $target for ${seconds}s" >&2
    # Without AddressSanitizer: the targets are safe Rust, where it finds nothing, and it
    # would rebuild every dependency instrumented, at several times the cost.
    cargo +nightly fuzz run --sanitizer none --fuzz-dir tests/fuzz "$target" "$work/$target" "tests/fuzz/corpus/$target" \
        -- -max_total_time="$seconds" -max_len=65536 -timeout=10
done
