#!/usr/bin/env bash
# Backup and point-in-time restore drill, with real processes (docs/operations.md, "Production"):
# on the formation of scripts/cluster.sh (WAL archived into its pgBackRest repository),
#   1. a full backup of the migrated ledger (the pilot campaign, the organisation),
#   2. a day of payments (promoledger simulate),
#   3. time T: the payments stored and the ledger's chain digest (audit verify) are recorded,
#   4. more payments (the next day), the WAL switched and archived,
#   5. a restore of the repository to T into a new, separate cluster (no archiving),
# and checks that the restored ledger holds exactly the payments stored at T (count and a digest of
# every id with its entry and figures), that `audit verify` passes on it, and that its chain digest is
# the one recorded at T. Backup and restore are timed and given in seconds per GB of database.
#   scripts/restore_drill.sh [--quick] [--payments N] [--pad-scale S]
#     --payments N   the day's payments (default 20000; --quick 2000); the later ones are a tenth of it
#     --pad-scale S  also a pgbench database of scale S in the cluster (about 15 MB each), so that
#                    the seconds per GB are measured on more than the fixed costs (default 20; --quick 0)
# One JSON line on stdout; exit 1 when a check fails.
#   BUILD_DIR (build), DRILL_PORT_BASE (25410: the formation's 8 ports, the restored cluster's is +8),
#   DRILL_DIR (/tmp/promoledger-drill-<uid>)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
t_start=$(date +%s.%N)

payments=20000
pad_scale=20
while (($#)); do
  case $1 in
    --quick) payments=2000; pad_scale=0; shift ;;
    --payments) payments=${2:?--payments N}; shift 2 ;;
    --pad-scale) pad_scale=${2:?--pad-scale S}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "restore_drill: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $payments =~ ^[0-9]+$ ]] && ((payments >= 10 && payments <= 2000000)) || { echo "restore_drill: --payments 10..2000000" >&2; exit 2; }
[[ $pad_scale =~ ^[0-9]+$ ]] && ((pad_scale <= 2000)) || { echo "restore_drill: --pad-scale 0..2000" >&2; exit 2; }

build_dir=${BUILD_DIR:-build}
pl="$root/$build_dir/app/promoledger"
pgbin=${PROMOLEDGER_PGBIN:-/usr/lib/postgresql/15/bin}
if [[ ! -x $pl ]]; then
  echo "restore_drill: building $pl (Release)" >&2
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  timeout 1800 cmake --build "$build_dir" -j2 --target promoledger >/dev/null
fi
export PROMOLEDGER_CLUSTER_PORT_BASE=${DRILL_PORT_BASE:-25410}
export PROMOLEDGER_CLUSTER_DIR=${DRILL_DIR:-/tmp/promoledger-drill-$(id -u)}
restored_port=$((PROMOLEDGER_CLUSTER_PORT_BASE + 8))
restored_dir="$PROMOLEDGER_CLUSTER_DIR/restored"
cluster() { bash "$root/scripts/cluster.sh" "$@"; }
work=$(mktemp -d /tmp/promoledger-drill.XXXXXX)
log() { echo "restore_drill: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  cluster restore-down "$restored_dir" >/dev/null 2>&1 || true
  if ((rc == 0)); then
    cluster down --wipe >/dev/null 2>"$work/down.err" || { cat "$work/down.err" >&2; rc=1; }
    ((rc == 0)) && rm -rf "$work"
  else
    cluster down >/dev/null 2>"$work/down.err" || cat "$work/down.err" >&2
    log "work files kept in $work, the formation's files in $PROMOLEDGER_CLUSTER_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { log "FAILED: $*"; exit 1; }

# The payments stored, as "count digest": every id with its entry and figures.
payments_digest() {
  "$pgbin/psql" -X -At -d "$1" -c \
    "SELECT count(*) || ' ' || coalesce(md5(string_agg(payment_id || ':' || entry_id || ':' || amount_fen || ':' || discount_fen || ':' || payer_share_fen, ',' ORDER BY payment_id)), '-') FROM promo.payment"
}
chain_digest() {  # audit verify on DB; prints its chain digest, fails when a check fails
  "$pl" --db "$1" --json audit verify >"$work/verify-$2.json" || return 1
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] is True; print(r["chain_digest"])' "$work/verify-$2.json"
}

log "formation in $PROMOLEDGER_CLUSTER_DIR, ports $PROMOLEDGER_CLUSTER_PORT_BASE..$((PROMOLEDGER_CLUSTER_PORT_BASE + 8)); work files $work"
cluster down --wipe >/dev/null 2>&1 || true
t=$(now)
conn=$(cluster up 2>"$work/up.err") || { cat "$work/up.err" >&2; fail "the formation did not start"; }
log "formation up ($(since "$t") s)"
primary_conn() { echo "host=127.0.0.1 port=$((PROMOLEDGER_CLUSTER_PORT_BASE + 2 + $(cluster leader | tr -d n) - 1)) user=postgres"; }
# The example organisation with deep pockets, so that the simulated payments are stored rather than
# refused for insufficient funds.
awk -F, 'BEGIN { OFS = "," } $1 == "payer" { $5 = "10000000.00" } { print }' examples/organisation.csv >"$work/organisation.csv"
{
  "$pl" --db "$conn" db migrate
  "$pl" --db "$conn" policy set --future-tolerance 400d --reason "restore_drill.sh: the pilot's calendar, simulated"
  "$pl" --db "$conn" org import "$work/organisation.csv" --date 2026-11-23
  cid=$("$pl" --db "$conn" --json campaign create --file examples/pilot-campaign.json --by ops.zhang \
    | sed -n 's/.*"id": \([0-9]*\).*/\1/p')
  "$pl" --db "$conn" campaign approve "$cid" --by fin.li
  "$pl" --db "$conn" deal --date 2026-11-24
  "$pl" --db "$conn" deal --date 2026-11-25
} >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; fail "database setup failed"; }
if ((pad_scale > 0)); then
  t=$(now)
  "$pgbin/psql" -X -q -d "$(primary_conn) dbname=postgres" -c "CREATE DATABASE drill_pad" >/dev/null
  "$pgbin/pgbench" -q -i -s "$pad_scale" -d "$(primary_conn) dbname=drill_pad" >/dev/null 2>"$work/pgbench.err" \
    || { cat "$work/pgbench.err" >&2; fail "pgbench -i failed"; }
  log "pad: a pgbench database of scale $pad_scale ($(since "$t") s)"
fi
cluster_bytes() { "$pgbin/psql" -X -At -d "$(primary_conn) dbname=postgres" -c "SELECT sum(pg_database_size(datname)) FROM pg_database"; }

# 1. full backup
bytes_at_backup=$(cluster_bytes)
t=$(now)
cluster backup full 2>"$work/backup.err" || { cat "$work/backup.err" >&2; fail "the full backup failed"; }
backup_s=$(since "$t")
log "1. full backup of $((bytes_at_backup / 1048576)) MB in $backup_s s"

# 2. a day of payments
t=$(now)
"$pl" --db "$conn" simulate --date 2026-11-24 --payments "$payments" --seed 11 --mix wechat=60,alipay=10,bank_app=30 \
  >"$work/day1.log" 2>&1 || { cat "$work/day1.log" >&2; fail "simulate 2026-11-24 failed"; }
log "2. a day of payments: $payments in $(since "$t") s"

# 3. time T
digest_t=$(chain_digest "$conn" at_t) || fail "audit verify failed before T"
payments_t=$(payments_digest "$(primary_conn) dbname=promoledger")
sleep 1
T=$("$pgbin/psql" -X -At -d "$(primary_conn) dbname=postgres" -c "SELECT now()")
sleep 1
log "3. T = $T: ${payments_t%% *} payments, chain digest $digest_t"

# 4. more payments after T, archived
more=$((payments / 10))
"$pl" --db "$conn" simulate --date 2026-11-25 --payments "$more" --seed 12 --mix wechat=60,alipay=10,bank_app=30 \
  >"$work/day2.log" 2>&1 || { cat "$work/day2.log" >&2; fail "simulate 2026-11-25 failed"; }
payments_after=$(payments_digest "$(primary_conn) dbname=promoledger")
"$pgbin/psql" -X -q -At -d "$(primary_conn) dbname=postgres" -c "SELECT pg_switch_wal()" >/dev/null
as_check() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }
as_check pgbackrest --config="$PROMOLEDGER_CLUSTER_DIR/pgbackrest/pgbackrest.conf" --stanza=promoledger check >/dev/null \
  || fail "pgbackrest check (WAL archiving) failed"
log "4. $more more payments after T (${payments_after%% *} in all), WAL archived"
[[ ${payments_after%% *} -gt ${payments_t%% *} ]] || fail "no payment was stored after T"

# 5. restore to T into a new cluster
bytes_at_restore=$(cluster_bytes)
t=$(now)
restored=$(cluster restore "$T" "$restored_dir" "$restored_port" 2>"$work/restore.err") \
  || { cat "$work/restore.err" >&2; fail "the restore failed"; }
restore_s=$(since "$t")
log "5. restored to T on port $restored_port in $restore_s s"

# 6. the checks
payments_restored=$(payments_digest "$restored")
digest_restored=$(chain_digest "$restored" restored) || fail "audit verify failed on the restored ledger"
bytes_restored=$("$pgbin/psql" -X -At -d "$restored" -c "SELECT sum(pg_database_size(datname)) FROM pg_database")
python3 - "$payments_t" "$payments_restored" "$payments_after" "$digest_t" "$digest_restored" "$backup_s" "$restore_s" \
  "$bytes_at_backup" "$bytes_restored" "$payments" "$more" "$T" "$(since "$t_start")" <<'EOF' || fail "the restored ledger is not the ledger at T"
import json, sys
(at_t, restored, after, digest_t, digest_restored, backup_s, restore_s, bytes_backup, bytes_restored,
 day_payments, more, T, wall) = sys.argv[1:]
gb_backup = int(bytes_backup) / 2**30
gb_restored = int(bytes_restored) / 2**30
ok = at_t == restored and digest_t == digest_restored and after != restored
out = {"target_time": T, "payments_at_t": int(at_t.split()[0]), "payments_restored": int(restored.split()[0]),
       "payments_after_t": int(after.split()[0]), "payments_digest_equal": at_t == restored,
       "chain_digest_at_t": digest_t, "chain_digest_restored": digest_restored,
       "chain_digest_equal": digest_t == digest_restored, "audit_verify_restored": True,
       "backup_s": float(backup_s), "backup_gb": round(gb_backup, 3), "backup_s_per_gb": round(float(backup_s) / gb_backup, 1),
       "restore_s": float(restore_s), "restored_gb": round(gb_restored, 3),
       "restore_s_per_gb": round(float(restore_s) / gb_restored, 1),
       "wall_s": float(wall), "ok": ok}
print(json.dumps(out, sort_keys=True), flush=True)
sys.exit(0 if ok else 1)
EOF
