#!/usr/bin/env bash
# Builds what `cargo leptos build --release` builds, without cargo-leptos (installing it
# costs about 35 CPU-minutes on a fresh machine): the release server, and the browser
# bundle in target/site/pkg (the app's `hydrate` build for wasm32, wasm-bindgen, wasm-opt,
# the style sheet). The names and settings are those of [workspace.metadata.leptos] in
# Cargo.toml, so `cargo leptos build --release` still works for those who have it.
#
#   scripts/build.sh            both
#   scripts/build.sh server     the server only
#   scripts/build.sh site       the browser bundle only
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "build: $*" >&2; }

# Leptos reads the output name when it compiles (the page's script and wasm file names).
export LEPTOS_OUTPUT_NAME=parley
target=${CARGO_TARGET_DIR:-target}
site=target/site
what=${1:-all}

build_server() {
    log "server (release)"
    cargo build --release --package parley --bin parley --no-default-features
}

build_site() {
    log "browser bundle (wasm-release)"
    cargo build --lib --package app --target wasm32-unknown-unknown --profile wasm-release \
        --no-default-features --features hydrate
    local wasm=$target/wasm32-unknown-unknown/wasm-release/app.wasm
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    wasm-bindgen "$wasm" --target web --no-typescript --out-dir "$tmp" --out-name parley
    log "wasm-opt -Oz"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$tmp/parley_bg.wasm" -o "$tmp/parley.wasm"
    cp style/main.css "$tmp/parley.css"
    # Replaced all at once, so a running server never serves a new script with an old wasm.
    mkdir -p "$site/pkg"
    for file in parley.js parley.wasm parley.css; do
        mv -f "$tmp/$file" "$site/pkg/$file"
    done
    log "$site/pkg: $(cd "$site/pkg" && ls -l parley.js parley.wasm parley.css | awk '{printf "%s %s B; ", $9, $5}')"
}

case $what in
    server) build_server ;;
    site) build_site ;;
    all) build_server; build_site ;;
    *) echo "usage: scripts/build.sh [server|site]" >&2; exit 2 ;;
esac
