#!/usr/bin/env bash
# The posting-periods benchmark (docs/benchmarks.md, "Posting periods"), run by scripts/bench.sh --only periods
# on its throwaway cluster (or alone: bench/periods/periods.sh CONNINFO PROMOLEDGER_BIN LINES OPEN_LINES RESULTS).
# Two databases, each loaded set-wise by bench/periods/append.sql (it says how and why):
#   promoledger_periods       LINES journal lines over 2026-01..2026-11, each month closed in order with
#                             `promoledger period close` (anchors), then OPEN_LINES lines in 2026-12, open;
#   promoledger_periods_open  the same OPEN_LINES-line month alone (no history, nothing anchored).
# Timed, three runs each, the median: the ledger's verification (ledger.verify, the chain, entry and balance
# checks that grow with the lines; `audit verify` adds the promotion's checks on top) from the latest anchor
# (--since-anchor) and over the whole history (--full) on the first database, and over the open month alone
# on the second; `report outlets` of December (the command, whole) and `audit subsidies` of one outlet for
# December; the disk of the six partitioned tables and the claims per million payments.
# Prints a summary on stderr and one JSON row {"scenario": "periods", ...} on stdout.
set -euo pipefail
conn=${1:?conninfo of the cluster (no dbname)}
pl=${2:?the promoledger binary}
lines=${3:?journal lines behind the anchor}
open_lines=${4:?journal lines in the open month}
here=$(cd "$(dirname "$0")" && pwd)
pgbin=${PROMOLEDGER_PGBIN:-/usr/lib/postgresql/15/bin}
merchants=${BENCH_PERIODS_MERCHANTS:-20000}
payers=${BENCH_PERIODS_PAYERS:-50000}
((lines < 2000000)) && merchants=${BENCH_PERIODS_MERCHANTS:-2000} && payers=${BENCH_PERIODS_PAYERS:-5000}

psql_at() { PGOPTIONS="-c client_min_messages=warning" "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -d "$conn dbname=$1" "${@:2}"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
# timed_sql DB SQL: seconds of one run of the statement on a fresh connection (psql's start included: ~10 ms)
timed_sql() { local t0; t0=$(now); psql_at "$1" -c "$2" >/dev/null; since "$t0"; }
timed_cmd() { local t0 rc=0; t0=$(now); "$@" >/dev/null || rc=$?; since "$t0"; return "$rc"; }

fresh() {
  psql_at postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
  "$pl" --db "$conn dbname=$1" db migrate >"/tmp/periods-migrate-$1.log" 2>&1 || { cat "/tmp/periods-migrate-$1.log" >&2; exit 1; }
  psql_at "$1" -v merchants="$merchants" -v payers="$payers" -f "$here/setup.sql" >/dev/null
}
# Two lines a payment, and a funding entry of two lines per payer before its first payment.
payments_for() { echo $((($1 - 2 * payers) / 2)); }

echo "periods: loading $lines lines over 2026-01..2026-11 ($merchants merchants, $payers payers; bench/periods/append.sql)" >&2
t0=$(now)
fresh promoledger_periods
psql_at promoledger_periods -v first_day=2026-01-01 -v days=334 -v payments="$(payments_for "$lines")" \
  -v merchants="$merchants" -v payers="$payers" -v tag=h -f "$here/append.sql" >/dev/null
load_s=$(since "$t0")
t0=$(now)
for m in 01 02 03 04 05 06 07 08 09 10 11; do "$pl" --db "$conn dbname=promoledger_periods" period close --month "2026-$m" >/dev/null; done
close_s=$(since "$t0")
echo "periods: loaded in ${load_s} s, 11 months closed in ${close_s} s; loading the open month ($open_lines lines)" >&2
psql_at promoledger_periods -v first_day=2026-12-01 -v days=31 -v payments=$((open_lines / 2)) \
  -v merchants="$merchants" -v payers="$payers" -v tag=o -f "$here/append.sql" >/dev/null
psql_at promoledger_periods -c "CHECKPOINT" >/dev/null
fresh promoledger_periods_open
psql_at promoledger_periods_open -v first_day=2026-12-01 -v days=31 -v payments="$(payments_for "$open_lines")" \
  -v merchants="$merchants" -v payers="$payers" -v tag=o -f "$here/append.sql" >/dev/null
psql_at promoledger_periods_open -c "CHECKPOINT" >/dev/null

# The checks must pass: a time over broken chains would measure something else.
for db in promoledger_periods promoledger_periods_open; do
  bad=$(psql_at "$db" -At -c "SELECT coalesce(sum(violations), 0) FROM ledger.verify(3, NULL, NULL)")
  [[ "$bad" == 0 ]] || { echo "periods: $db: ledger.verify found $bad violations" >&2; exit 1; }
done
count() { psql_at "$1" -At -c "$2"; }
lines_all=$(count promoledger_periods "SELECT count(*) FROM ledger.journal_line")
lines_open=$(count promoledger_periods "SELECT count(*) FROM ledger.journal_line WHERE business_day >= '2026-12-01'")
lines_alone=$(count promoledger_periods_open "SELECT count(*) FROM ledger.journal_line")
payments_all=$(count promoledger_periods "SELECT count(*) FROM promo.payment")
partitions=$(count promoledger_periods "SELECT count(*) FROM pg_inherits WHERE inhparent = 'ledger.journal_line'::regclass")

since_runs=(); full_runs=(); alone_runs=(); report_runs=(); subsidy_runs=()
for _ in 1 2 3; do
  since_runs+=("$(timed_sql promoledger_periods "SELECT * FROM ledger.verify(5, ledger.verify_since(), NULL)")")
  full_runs+=("$(timed_sql promoledger_periods "SELECT * FROM ledger.verify(5, NULL, NULL)")")
  alone_runs+=("$(timed_sql promoledger_periods_open "SELECT * FROM ledger.verify(5, NULL, NULL)")")
  report_runs+=("$(timed_cmd "$pl" --db "$conn dbname=promoledger_periods" --json report outlets --from 2026-12-01 --to 2026-12-31)")
  subsidy_runs+=("$(timed_cmd "$pl" --db "$conn dbname=promoledger_periods" --json audit subsidies --outlet OUT7 --from 2026-12-01 --to 2026-12-31)")
done
verify_since_s=$(median3 "${since_runs[@]}")
verify_full_s=$(median3 "${full_runs[@]}")
verify_alone_s=$(median3 "${alone_runs[@]}")
report_s=$(median3 "${report_runs[@]}")
subsidies_s=$(median3 "${subsidy_runs[@]}")
bytes=$(count promoledger_periods "SELECT sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = ANY (ledger.period_tables())")
claims_bytes=$(count promoledger_periods "SELECT pg_total_relation_size('ledger.entry_ref')")

python3 - "$lines_all" "$lines_open" "$lines_alone" "$payments_all" "$partitions" "$load_s" "$close_s" "$verify_since_s" \
  "$verify_full_s" "$verify_alone_s" "$report_s" "$subsidies_s" "$bytes" "$claims_bytes" <<'PY'
import json, sys
a = sys.argv[1:]
lines_all, lines_open, lines_alone, payments, partitions = (int(x) for x in a[0:5])
load_s, close_s, since_s, full_s, alone_s, report_s, subsidies_s = (float(x) for x in a[5:12])
table_bytes, claims_bytes = int(a[12]), int(a[13])
per_million = lambda b: b / (payments / 1e6) / 2**20
row = {"scenario": "periods", "journal_lines": lines_all, "open_month_lines": lines_open, "anchored_lines": lines_all - lines_open,
       "open_month_alone_lines": lines_alone, "payments": payments, "line_partitions": partitions,
       "load_s": load_s, "close_11_months_s": close_s,
       "verify_since_anchor_s": since_s, "verify_full_s": full_s, "verify_open_month_alone_s": alone_s,
       "report_outlets_month_s": report_s, "audit_subsidies_outlet_month_s": subsidies_s,
       "partitioned_tables_bytes": table_bytes, "claims_bytes": claims_bytes,
       "mib_per_million_payments": per_million(table_bytes), "claims_mib_per_million_payments": per_million(claims_bytes)}
print(json.dumps(row))
e = sys.stderr
print(f"periods: {lines_all:,} journal lines ({lines_all - lines_open:,} behind the anchor of 2026-11, {lines_open:,} in the open month; "
      f"{partitions} monthly partitions), {payments:,} payments; loaded in {load_s:.0f} s, 11 closes in {close_s:.0f} s", file=e)
print(f"  ledger.verify since the anchor {since_s:.2f} s = {since_s / alone_s:.2f}x the open month alone ({alone_s:.2f} s, "
      f"{lines_alone:,} lines; issue 19's goal <= 1.5x); full {full_s:.2f} s = {full_s / since_s:.1f}x since the anchor", file=e)
print(f"  report outlets of December (the command) {report_s * 1000:.0f} ms; audit subsidies of one outlet, December {subsidies_s * 1000:.0f} ms", file=e)
print(f"  disk: the six partitioned tables {per_million(table_bytes):.0f} MiB per million payments; the claims (ledger.entry_ref) "
      f"{per_million(claims_bytes):.0f} MiB per million", file=e)
PY
