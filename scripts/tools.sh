#!/usr/bin/env bash
# Installs the build tools a fresh machine lacks, each only when missing or at the wrong
# version: the wasm target, wasm-bindgen-cli (the version in Cargo.lock), wasm-opt (npm
# package binaryen; Debian's binaryen 108 makes a wasm that never hydrates) and the wasm
# splitter in tools/wasm-split. scripts/build.sh drives them itself: cargo-leptos is not
# needed (nor installed).
# Prints the PATH additions to stdout; everything else goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=${PARLEY_TOOLS:-$HOME/.cache/parley/tools}
mkdir -p "$tools"
log() { echo "tools: $*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown >&2
fi

bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
    log "installing wasm-bindgen-cli $bindgen_version"
    cargo +nightly install wasm-bindgen-cli --version "=$bindgen_version" >&2
fi

binaryen_version=132.0.0
if [ "$(cat "$tools/binaryen.version" 2>/dev/null)" != "$binaryen_version" ]; then
    log "installing wasm-opt (npm binaryen $binaryen_version)"
    npm install --silent --no-audit --no-fund --prefix "$tools/binaryen" "binaryen@$binaryen_version" >&2
    echo "$binaryen_version" > "$tools/binaryen.version"
fi

# Rebuilt when its source changes (about a minute).
split_source=$(cat tools/wasm-split/Cargo.toml tools/wasm-split/Cargo.lock tools/wasm-split/src/*.rs | sha256sum | cut -c1-64)
if [ "$(cat "$tools/wasm-split/.source" 2>/dev/null)" != "$split_source" ] || [ ! -x "$tools/wasm-split/bin/parley-wasm-split" ]; then
    log "installing parley-wasm-split (tools/wasm-split)"
    cargo install --quiet --locked --force --path tools/wasm-split --root "$tools/wasm-split" >&2
    echo "$split_source" > "$tools/wasm-split/.source"
fi

echo "$tools/binaryen/node_modules/.bin:$tools/wasm-split/bin:$HOME/.cargo/bin"
