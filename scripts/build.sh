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
front=$target/front
site=target/site
what=${1:-all}

build_server() {
    log "server (release)"
    cargo build --release --package parley --bin parley --no-default-features
}

build_site() {
    log "browser bundle (wasm-release)"
    # A target folder of its own (as cargo-leptos has): cargo locks its folder while it
    # builds, and this build runs beside the server's.
    CARGO_TARGET_DIR=$front cargo build --lib --package app --target wasm32-unknown-unknown \
        --profile wasm-release --no-default-features --features hydrate
    local wasm=$front/wasm32-unknown-unknown/wasm-release/app.wasm
    # wasm-opt takes over a minute: skipped when the wasm, the style sheet and the scripts
    # are those the current bundle was made from.
    local source
    source=$(cat "$wasm" style/main.css scripts/build.sh scripts/compress.mjs | sha256sum | cut -c1-64)
    if [ "$(cat "$site/pkg/.source" 2>/dev/null)" = "$source" ] && [ -f "$site/pkg/assets.json" ]; then
        log "browser bundle unchanged"
        return
    fi
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    wasm-bindgen "$wasm" --target web --no-typescript --out-dir "$tmp" --out-name parley
    log "wasm-opt -Oz"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$tmp/parley_bg.wasm" -o "$tmp/parley.wasm"
    cp style/main.css "$tmp/parley.css"
    # Content-hashed names: the server sends them with `Cache-Control: immutable`, so a
    # browser fetches each bundle once, and a new build is new names. The script and the
    # wasm share one hash (the page asks for both under one name); assets.json tells the
    # server which names are current.
    local bundle style
    bundle=parley.$(cat "$tmp/parley.js" "$tmp/parley.wasm" | sha256sum | cut -c1-16)
    style=parley.$(sha256sum < "$tmp/parley.css" | cut -c1-16).css
    mv "$tmp/parley.js" "$tmp/$bundle.js"
    mv "$tmp/parley.wasm" "$tmp/$bundle.wasm"
    mv "$tmp/parley.css" "$tmp/$style"
    node scripts/compress.mjs "$tmp/$bundle.js" "$tmp/$bundle.wasm" "$tmp/$style"
    printf '{"bundle": "%s", "style": "%s"}\n' "$bundle" "$style" > "$tmp/assets.json"
    # The new files first, assets.json last (a server reads it at start); the previous
    # build's files go, but for the one generation before, which pages already open still
    # load.
    mkdir -p "$site/pkg"
    local previous
    previous=$(cat "$site/pkg/assets.json" 2>/dev/null || true)
    for file in "$tmp"/parley.*; do
        mv -f "$file" "$site/pkg/"
    done
    mv -f "$tmp/assets.json" "$site/pkg/assets.json"
    echo "$source" > "$site/pkg/.source"
    for file in "$site"/pkg/parley.*; do
        local name=${file##*/}
        local stem=${name%%.br}
        stem=${stem%%.gz}
        stem=${stem%.*}
        case "$(cat "$site/pkg/assets.json") $previous" in
            *"\"$stem\""* | *"\"$stem.css\""*) ;;
            *) rm -f "$file" ;;
        esac
    done
    log "$site/pkg: $(cd "$site/pkg" && ls -l "$bundle".* "$style"* | awk '{printf "%s %s B; ", $9, $5}')"
}

case $what in
    server) build_server ;;
    site) build_site ;;
    all)
        # Side by side: each has long stretches on one core (the app's link-time
        # optimization, wasm-opt, the server crate's front end); 2 cores take both.
        build_site &
        site_pid=$!
        trap 'kill "$site_pid" 2>/dev/null || true' EXIT
        build_server
        wait "$site_pid"
        ;;
    *) echo "usage: scripts/build.sh [server|site]" >&2; exit 2 ;;
esac
