#!/usr/bin/env bash
# Benchmarks payment posting next to pgbench on the same throwaway cluster, in one run, so every figure
# is a ratio taken under the same conditions (docs/benchmarks.md). fsync and synchronous_commit stay on.
#   ./scripts/bench.sh            full run: 4 and 8 clients, 30 s each after a 5 s warm-up, 100,000-deck dealing,
#                                 a month's report over 10 million journal lines
#   ./scripts/bench.sh --quick    smoke run (< 2 min): 4 clients, 8 s each, 10,000-deck dealing, no 10M load
# Output: a table on the terminal and bench/results/bench-<UTC time>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
if ((quick)); then
  clients_list=(4); duration=8; warmup=2; deal_merchants=10000; report_lines=0
else
  clients_list=(4 8); duration=${BENCH_DURATION_S:-30}; warmup=5; deal_merchants=100000; report_lines=${BENCH_REPORT_LINES:-10000000}
fi

bash scripts/install-deps.sh
build_dir=${BUILD_DIR:-build-bench}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DPROMOLEDGER_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target promoledger_bench promoledger >/dev/null
bench="$root/$build_dir/bench/promoledger_bench"

export PROMOLEDGER_PGPORT=${PROMOLEDGER_BENCH_PGPORT:-54333}
export PROMOLEDGER_PGDATA=${PROMOLEDGER_BENCH_PGDATA:-/tmp/promoledger-bench-pg-$(id -u)}
trap 'bash "$root/scripts/pg.sh" down >/dev/null 2>&1 || true' EXIT
conn=$(bash scripts/pg.sh up)
pgbin=${PROMOLEDGER_PGBIN:-/usr/lib/postgresql/15/bin}
psql_admin() { bash scripts/pg.sh psql -q -d postgres "$@"; }

out_dir="$root/bench/results"
mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d)
results="$work/results.jsonl"
: >"$results"

echo "bench: machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}')" >&2

# ---- pgbench baseline: tpcb-like, scale 10, prepared, same clients and duration
psql_admin -c "DROP DATABASE IF EXISTS pgbench WITH (FORCE)" -c "CREATE DATABASE pgbench"
PGPASSWORD= "$pgbin/pgbench" -h 127.0.0.1 -p "$PROMOLEDGER_PGPORT" -U postgres -i -s 10 -q pgbench >/dev/null 2>&1
baseline() {
  local clients=$1
  (cd "$work" && rm -f pgbench_log.* &&
    "$pgbin/pgbench" -h 127.0.0.1 -p "$PROMOLEDGER_PGPORT" -U postgres -M prepared -c "$clients" -j "$clients" \
      -T "$warmup" pgbench >/dev/null 2>&1 &&
    "$pgbin/pgbench" -h 127.0.0.1 -p "$PROMOLEDGER_PGPORT" -U postgres -M prepared -c "$clients" -j "$clients" \
      -T "$duration" --log --log-prefix=pgbench_log pgbench >"$work/pgbench.out" 2>&1)
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$work/pgbench.out")
  cat "$work"/pgbench_log.* | awk '{print $3}' | sort -n >"$work/lat.txt"
  local n p50 p95 p99 max
  n=$(wc -l <"$work/lat.txt")
  p50=$(awk -v n="$n" 'NR==int(n*0.50)+1{printf "%.3f", $1/1000}' "$work/lat.txt")
  p95=$(awk -v n="$n" 'NR==int(n*0.95)+1{printf "%.3f", $1/1000}' "$work/lat.txt")
  p99=$(awk -v n="$n" 'NR==int(n*0.99)+1{printf "%.3f", $1/1000}' "$work/lat.txt")
  max=$(tail -n1 "$work/lat.txt" | awk '{printf "%.3f", $1/1000}')
  echo "{\"scenario\": \"baseline\", \"clients\": $clients, \"payments_per_s\": $tps, \"transactions\": $n, \"errors\": 0, \"latency_ms\": {\"p50\": $p50, \"p95\": $p95, \"p99\": $p99, \"max\": $max}}" >>"$results"
  echo "bench: baseline (pgbench tpcb-like) $clients clients: $tps tps" >&2
}

# ---- promoledger: one database, set up once; scenarios run in sequence on it
psql_admin -c "DROP DATABASE IF EXISTS promoledger_bench WITH (FORCE)" -c "CREATE DATABASE promoledger_bench"
pconn="$conn dbname=promoledger_bench"
psql_admin -d promoledger_bench -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
echo "bench: setting up (5,000 campaign merchants over 100 outlets, 200 in one hot outlet, 20,000 payers)" >&2
"$bench" --db "$pconn" --merchants 5000 --outlets 100 --payers 20000 --hot-merchants 200 setup >&2
# The setup writes a lot: checkpoint now so the first scenario does not pay for it in full-page writes.
psql_admin -c "CHECKPOINT"

# One discarded pass first: right after the checkpoint every first write to a page logs the whole page,
# which would penalize whichever scenario came first (measured: promo 1,472/s cold vs ~1,800/s warm).
"$bench" --db "$pconn" --merchants 5000 --payers 20000 --hot-merchants 200 run --scenario promo \
  --clients "${clients_list[0]}" --duration-s "$duration" --warmup-s 0 >/dev/null
for clients in "${clients_list[@]}"; do
  baseline "$clients"
  scenarios=(promo mixed hot-outlet hot-merchant replay)
  for scenario in "${scenarios[@]}"; do
    "$bench" --db "$pconn" --merchants 5000 --payers 20000 --hot-merchants 200 run --scenario "$scenario" \
      --clients "$clients" --duration-s "$duration" --warmup-s "$warmup" >>"$results"
    echo "bench: $scenario $clients clients: $(tail -n1 "$results" | sed -n 's/.*"payments_per_s":\([0-9.]*\).*/\1/p') payments/s" >&2
  done
done

# ---- dealing
psql_admin -c "DROP DATABASE IF EXISTS promoledger_deal WITH (FORCE)" -c "CREATE DATABASE promoledger_deal"
echo "bench: dealing $deal_merchants decks" >&2
"$bench" --db "$conn dbname=promoledger_deal" --merchants "$deal_merchants" deal | sed 's/^/{"scenario": "deal", "detail": /; s/$/}/' >>"$results"

# ---- a month's branch report over many journal lines
if ((report_lines > 0)); then
  echo "bench: loading $report_lines journal lines for the report benchmark (bulk loader, see docs/benchmarks.md)" >&2
  psql_admin -c "DROP DATABASE IF EXISTS promoledger_report WITH (FORCE)" -c "CREATE DATABASE promoledger_report"
  "$bench" --db "$conn dbname=promoledger_report" report --lines "$report_lines" >>"$results"
fi

python3 - "$results" "$out_dir/bench-$stamp.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = {r["clients"]: r["payments_per_s"] for r in rows if r.get("scenario") == "baseline"}
promo = {r["clients"]: r["payments_per_s"] for r in rows if r.get("scenario") == "promo"}
print(f'{"scenario":<14}{"clients":>8}{"per s":>10}{"x base":>8}{"x promo":>9}{"p50 ms":>8}{"p95 ms":>8}{"p99 ms":>8}{"max ms":>9}{"errors":>8}{"retries":>8}  invariants')
for r in rows:
    if "clients" not in r:
        continue
    c = r["clients"]; v = r["payments_per_s"]; lat = r["latency_ms"]
    ratio = v / base[c] if base.get(c) else 0
    rp = v / promo[c] if promo.get(c) and r["scenario"] != "baseline" else 0
    inv = "" if r["scenario"] == "baseline" else ("ok" if r["invariants"]["ok"] else "FAILED")
    rp_text = f'{rp:>9.2f}' if rp else f'{"":>9}'
    print(f'{r["scenario"]:<14}{c:>8}{v:>10.0f}{ratio:>8.2f}{rp_text}{lat["p50"]:>8.2f}{lat["p95"]:>8.2f}{lat["p99"]:>8.2f}{lat["max"]:>9.1f}{r.get("errors",0):>8}{r.get("retries",""):>8}  {inv}')
for r in rows:
    if r.get("scenario") == "deal":
        d = r["detail"]; print(f'deal: {d["decks_dealt"]} decks ({d["cards"]} cards) in {d["deal_s"]:.2f} s')
    if r.get("scenario") == "report":
        print(f'report: a month over {r["journal_lines"]} journal lines in {r["report_ms"]:.1f} ms (load {r["load_s"]:.0f} s)')
json.dump(rows, open(sys.argv[2], "w"), indent=2)
print(f"written {sys.argv[2]}")
PY
