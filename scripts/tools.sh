#!/usr/bin/env bash
# Installs the build tools a fresh machine lacks, each only when missing or at the wrong
# version: the wasm target and parley-wasm-bundle (tools/wasm-bundle: the wasm splitter
# and wasm-bindgen's library, at the version of the wasm-bindgen crate in Cargo.lock).
# scripts/build.sh drives them itself: neither cargo-leptos nor wasm-bindgen-cli is needed
# (nor installed), nor binaryen's wasm-opt, which took 3% off the bundle for over a
# minute of CPU once parley-wasm-bundle strips the modules' names.
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

# The JS bindings must come from the wasm-bindgen version the app was built with.
locked() { awk -v name="$2" '$0 == "name = \"" name "\"" { getline; gsub(/"/, "", $3); print $3 }' "$1"; }
app_bindgen=$(locked Cargo.lock wasm-bindgen)
tool_bindgen=$(locked tools/wasm-bundle/Cargo.lock wasm-bindgen-cli-support)
if [ "$app_bindgen" != "$tool_bindgen" ]; then
    log "Cargo.lock has wasm-bindgen $app_bindgen but tools/wasm-bundle/Cargo.lock has" \
        "wasm-bindgen-cli-support $tool_bindgen: set tools/wasm-bundle/Cargo.toml's version to" \
        "=$app_bindgen and run cargo update there"
    exit 1
fi

# Rebuilt when its source changes (about a minute). `cargo build`, not `cargo install`: an
# install waits for the package cache's lock, which the server's build holds to its end,
# and this runs beside that build.
bundle_source=$(cat tools/wasm-bundle/Cargo.toml tools/wasm-bundle/Cargo.lock tools/wasm-bundle/src/*.rs | sha256sum | cut -c1-64)
if [ "$(cat "$tools/wasm-bundle/.source" 2>/dev/null)" != "$bundle_source" ] || [ ! -x "$tools/wasm-bundle/bin/parley-wasm-bundle" ]; then
    log "building parley-wasm-bundle (tools/wasm-bundle)"
    cargo build --quiet --locked --release --manifest-path tools/wasm-bundle/Cargo.toml \
        --target-dir "$tools/wasm-bundle/target" >&2
    install -D "$tools/wasm-bundle/target/release/parley-wasm-bundle" "$tools/wasm-bundle/bin/parley-wasm-bundle"
    echo "$bundle_source" > "$tools/wasm-bundle/.source"
fi

echo "$tools/wasm-bundle/bin"
