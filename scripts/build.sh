#!/usr/bin/env bash
# Builds what `cargo leptos build --release` builds, without cargo-leptos (installing it
# costs about 35 CPU-minutes on a fresh machine): the release server, and the browser
# bundle in target/site/pkg (the app's `hydrate` build for wasm32, split and bound by
# parley-wasm-bundle, the style sheet). The bundle's tools (scripts/tools.sh)
# install beside the server's build, not before it. The names and settings are those of
# [workspace.metadata.leptos] in Cargo.toml, so `cargo leptos build --release` still works
# for those who have it.
#
#   scripts/build.sh            both
#   scripts/build.sh server     the server only
#   scripts/build.sh site       the browser bundle only
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "build: $*" >&2; }

# Leptos reads the output name when it compiles (the page's script and wasm file names).
export LEPTOS_OUTPUT_NAME=parley
# RUSTFLAGS would replace every other source of flags: .cargo/config.toml's for the server
# (target-cpu=native, erase_components) and the wasm flags set below (the splitter's
# relocations, erase_components). A server and a bundle built with different
# erase_components do not hydrate, so this stops rather than build them.
if [ -n "${RUSTFLAGS:-}" ] || [ -n "${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
    echo "build: RUSTFLAGS is set; it would replace the flags in .cargo/config.toml and" \
        "scripts/build.sh (target-cpu=native, erase_components, --emit-relocs). Unset it, or" \
        "add your flags to .cargo/config.toml." >&2
    exit 1
fi
target=${CARGO_TARGET_DIR:-target}
front=$target/front
site=target/site
what=${1:-all}

build_server() {
    log "server (release)"
    cargo build --release --package parley --bin parley --no-default-features
}

build_site() {
    PATH="$(scripts/tools.sh):$PATH"
    log "browser bundle (wasm-release, split by route)"
    # A target folder of its own (as cargo-leptos has): cargo locks its folder while it
    # builds, and this build runs beside the server's. The relocations let the splitter
    # cut the wasm at the app's lazy routes (`cargo leptos build --split` passes the same).
    # This variable replaces .cargo/config.toml's rustflags for wasm32, so it repeats them.
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C link-args=--emit-relocs --cfg erase_components" \
        CARGO_TARGET_DIR=$front cargo build --lib --package app-hydrate --target wasm32-unknown-unknown \
        --profile wasm-release --no-default-features --features hydrate
    local wasm=$front/wasm32-unknown-unknown/wasm-release/app_hydrate.wasm
    # Skipped (the compression takes a while) when the wasm, the style sheet, the scripts and
    # parley-wasm-bundle itself are those the current bundle was made from.
    local source
    source=$(cat "$wasm" style/main.css scripts/build.sh scripts/compress.mjs scripts/tools.sh \
        "$(command -v parley-wasm-bundle)" | sha256sum | cut -c1-64)
    if [ "$(cat "$site/pkg/.source" 2>/dev/null)" = "$source" ] && [ -f "$site/pkg/assets.json" ]; then
        log "browser bundle unchanged"
        return
    fi
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    # The main module (what every page needs) and its JS bindings, one module per lazy
    # route and chunks that several routes share, the loader that fetches them, and the
    # manifest of which files each route needs (the server preloads them with the page).
    # The modules come out without their custom sections (names, producers), which is
    # nearly all binaryen's wasm-opt used to take off (tools/wasm-bundle/src/main.rs).
    local out=$tmp/bundle
    parley-wasm-bundle "$wasm" "$out" parley
    # Content-hashed names: the server sends them with `Cache-Control: immutable`, so a
    # browser fetches each once, and a new build is new names. The bundle's files refer to
    # each other by relative names, so the hash names their folder (pkg/<hash>/parley.js);
    # the style sheet's is in its own name. assets.json tells the server which are current.
    local bundle style
    bundle=$( (cd "$out" && ls | LC_ALL=C sort | xargs cat) | sha256sum | cut -c1-16)
    style=parley.$(sha256sum < style/main.css | cut -c1-16).css
    cp style/main.css "$tmp/$style"
    # Its line per file shown only if it fails.
    node scripts/compress.mjs "$tmp/$style" "$out"/*.js "$out"/*.wasm 2> "$tmp/compress.log" \
        || { cat "$tmp/compress.log" >&2; exit 1; }
    printf '{"bundle": "%s", "style": "%s"}\n' "$bundle" "$style" > "$tmp/assets.json"
    # The new files first, assets.json last (a server reads it at start); the previous
    # build's files go, but for the one generation before, which pages already open still
    # load.
    mkdir -p "$site/pkg"
    local previous
    previous=$(cat "$site/pkg/assets.json" 2>/dev/null || true)
    rm -rf "${site:?}/pkg/$bundle"
    mv "$out" "$site/pkg/$bundle"
    mv -f "$tmp/$style"* "$site/pkg/"
    mv -f "$tmp/assets.json" "$site/pkg/assets.json"
    echo "$source" > "$site/pkg/.source"
    local current
    current=$(cat "$site/pkg/assets.json")
    for file in "$site"/pkg/*; do
        local name=${file##*/}
        [ "$name" = assets.json ] && continue
        local stem=${name%%.br}
        stem=${stem%%.gz}
        case "$current $previous" in
            *"\"$name\""* | *"\"$stem\""*) ;;
            *) rm -rf "$file" ;;
        esac
    done
    log "$site/pkg/$bundle: $(cd "$site/pkg/$bundle" && ls ./*.wasm | wc -l) wasm modules;" \
        "every page's part: parley.wasm $(stat -c %s "$site/pkg/$bundle/parley.wasm") B," \
        "$(stat -c %s "$site/pkg/$bundle/parley.wasm.br") B as brotli; all modules as brotli:" \
        "$(cat "$site/pkg/$bundle"/*.wasm.br | wc -c) B"
}

case $what in
    server) build_server ;;
    site) build_site ;;
    all)
        # Side by side: each has long stretches on one core (the app's link-time
        # optimization, the compression, the server crate's front end); 2 cores take both.
        build_site &
        site_pid=$!
        trap 'kill "$site_pid" 2>/dev/null || true' EXIT
        build_server
        wait "$site_pid"
        ;;
    *) echo "usage: scripts/build.sh [server|site]" >&2; exit 2 ;;
esac
