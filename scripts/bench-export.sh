#!/usr/bin/env bash
# Export benchmark: 1,000,000 TRL preference pairs from SQLite, timed, with peak memory,
# printed beside the targets (10 s, 100 MB). The synthetic database is made once and kept.
set -euo pipefail
bin=${1:?usage: bench-export.sh PARLEY_BINARY}
dir=${PARLEY_BENCH_DIR:-$HOME/.cache/parley/bench-export}
pairs=${PARLEY_BENCH_PAIRS:-1000000}
db="sqlite://$dir/parley.db?mode=rwc"
mkdir -p "$dir"
if [ "$(cat "$dir/seeded" 2>/dev/null)" != "$pairs" ]; then
    rm -f "$dir"/parley.db*
    "$bin" seed --synthetic "$pairs" --database-url "$db"
    echo "$pairs" > "$dir/seeded"
fi
rm -rf "$dir/out"
stats=$(mktemp)
RUST_LOG=error /usr/bin/time -f '%e %M' -o "$stats" \
    "$bin" export --format preference-trl --out "$dir/out" --database-url "$db" > /dev/null
read -r seconds kb < "$stats"
rows=$(wc -l < "$dir/out/preference-trl.jsonl")
printf '%-36s %12s %12s\n' measure parley target
printf '%-36s %12s %12s\n' "preference pairs written" "$rows" "$pairs"
printf '%-36s %11.2fs %12s\n' "wall time" "$seconds" "< 10 s"
printf '%-36s %10d MB %12s\n' "peak memory (RSS)" "$((kb / 1024))" "< 100 MB"
