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
# One run per file type: the time and peak memory of each.
measure() {
    rm -rf "$dir/out-$1"
    local stats
    stats=$(mktemp)
    RUST_LOG=error /usr/bin/time -f '%e %M' -o "$stats" \
        "$bin" export --format preference-trl --file-type "$1" --out "$dir/out-$1" --database-url "$db" > /dev/null
    cat "$stats"
    rm -f "$stats"
}
read -r json_s json_kb <<< "$(measure jsonl)"
read -r parquet_s parquet_kb <<< "$(measure parquet)"
rows=$(wc -l < "$dir/out-jsonl/preference-trl.jsonl")
parquet_rows=$(python3 -c 'import json,sys; print([f["rows"] for f in json.load(open(sys.argv[1]))["files"]][0])' "$dir/out-parquet/manifest.json")
mb() { echo $(( $(stat -c %s "$1") / 1048576 )); }
printf '%-28s %14s %14s %12s\n' measure "JSON lines" "Parquet" target
printf '%-28s %14s %14s %12s\n' "preference pairs written" "$rows" "$parquet_rows" "$pairs"
printf '%-28s %12s MB %12s MB %12s\n' "file size" "$(mb "$dir/out-jsonl/preference-trl.jsonl")" "$(mb "$dir/out-parquet/preference-trl.parquet")" "-"
printf '%-28s %13.2fs %13.2fs %12s\n' "wall time" "$json_s" "$parquet_s" "< 10 s"
printf '%-28s %11d MB %11d MB %12s\n' "peak memory (RSS)" "$((json_kb / 1024))" "$((parquet_kb / 1024))" "< 100 MB"
