#!/usr/bin/env bash
# What the test suite needs beyond the build: a running PostgreSQL, Debian's Chromium,
# playwright-core, and Hugging Face `datasets` in a virtual environment. Each is installed
# or started only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "test-deps: $*" >&2; }

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi

if [ ! -x /usr/bin/chromium ]; then
    log "installing chromium"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
    log "installing playwright-core"
    (cd tests/browser && npm ci --silent --no-audit --no-fund) >&2
fi

venv=$HOME/.cache/parley/venv
datasets_version=5.2.0
if [ "$("$venv/bin/python" -c 'import datasets; print(datasets.__version__)' 2>/dev/null)" != "$datasets_version" ]; then
    log "installing datasets $datasets_version (PyPI) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "datasets==$datasets_version" >&2
fi
