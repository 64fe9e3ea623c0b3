#!/usr/bin/env bash
# Reward-model benchmark: the shared HH-RLHF harmless test file imported as rankings into a
# fresh SQLite database, split 80/20 by conversation (seed 7), a Bradley–Terry head trained
# on the default model's features at a few layers, held-out accuracy beside a random-label
# control and the targets. Extra arguments go to `parley reward train` (e.g. --limit 300).
set -euo pipefail
bin=${1:?usage: bench-reward.sh PARLEY_BINARY [TRAIN ARGS]}
shift
dir=${PARLEY_BENCH_DIR:-$HOME/.cache/parley/bench-reward}
data="$(cd "$(dirname "$0")/.." && pwd)/../shared/data/hh-rlhf-harmless-base-test.jsonl.gz"
db="sqlite://$dir/parley.db?mode=rwc"
rm -rf "$dir"
mkdir -p "$dir"
export RUST_LOG=error
echo "a long enough passphrase" | "$bin" user add --email bench@example.org --role admin --password-stdin --database-url "$db" > /dev/null
"$bin" import "$data" --source hh-rlhf --database-url "$db"
"$bin" reward train --source hh-rlhf --split-seed 7 --splits 5 --test-ratio 0.2 --out "$dir/head" --fine-tune-cost --database-url "$db" "$@"
