#!/usr/bin/env bash
# Crash-and-restart test under load: `promoledger serve` on its own throwaway cluster, 8 client threads
# posting distinct payments; each round SIGKILLs the service (odd rounds) or the PostgreSQL postmaster
# (even rounds, crash recovery on restart), restarts what died, then pauses the load and checks: every
# acknowledged payment is stored with the acknowledged figures, entries balance, every payment has its
# entry and lines, POST /v1/audit/verify is ok, the daily cap holds, and re-sending every payment sent
# answers 200 exists (identical figures) for the stored ones and 201 for the rest, exactly once.
#   scripts/chaos.sh [--rounds N] [--quick]     (default 20 rounds; --quick: 3)
# One JSON line per round on stdout, then a summary line; exit 1 on any violation.
#   BUILD_DIR (default build), CHAOS_PGPORT (54335), CHAOS_PGDATA (/tmp/promoledger-chaos-pg-<uid>),
#   CHAOS_THREADS (8), CHAOS_LOAD_S (2, load before the kill), CHAOS_AFTER_S (1, load after recovery),
#   CHAOS_SELFTEST=1 (forges one acknowledgement before round 1's check: the run must fail)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
t_start=$(date +%s.%N)

rounds=20
while (($#)); do
  case $1 in
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --quick) rounds=3; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "chaos: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[0-9]+$ ]] && ((rounds >= 1 && rounds <= 38)) || { echo "chaos: --rounds must be 1..38" >&2; exit 2; }

threads=${CHAOS_THREADS:-8}
load_s=${CHAOS_LOAD_S:-2}
after_s=${CHAOS_AFTER_S:-1}
recovery_bound_s=30
build_dir=${BUILD_DIR:-build}
pl="$root/$build_dir/app/promoledger"
if [[ ! -x $pl ]]; then
  echo "chaos: building $pl (Release)" >&2
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  timeout 1200 cmake --build "$build_dir" -j2 --target promoledger >/dev/null
fi

# Our own cluster, never the shared dev one.
export PROMOLEDGER_PGPORT=${CHAOS_PGPORT:-54335}
export PROMOLEDGER_PGDATA=${CHAOS_PGDATA:-/tmp/promoledger-chaos-pg-$(id -u)}
[[ $PROMOLEDGER_PGPORT != 54329 ]] || { echo "chaos: refusing to use the shared dev cluster port 54329" >&2; exit 2; }
pgbin=${PROMOLEDGER_PGBIN:-/usr/lib/postgresql/15/bin}
export PGHOST=127.0.0.1 PGPORT=$PROMOLEDGER_PGPORT PGUSER=postgres PGDATABASE=promoledger_chaos
conn="host=127.0.0.1 port=$PROMOLEDGER_PGPORT user=postgres dbname=promoledger_chaos"

work=$(mktemp -d /tmp/promoledger-chaos.XXXXXX)
client_pid="" svc_pid="" failed="" errmsg=""
log() { echo "chaos: $*" >&2; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  touch "$work/stop" 2>/dev/null || true
  if [[ -n $client_pid ]] && kill -0 "$client_pid" 2>/dev/null; then
    sleep 0.3; kill "$client_pid" 2>/dev/null || true
  fi
  if [[ -n $svc_pid ]] && kill -0 "$svc_pid" 2>/dev/null; then
    kill -TERM "$svc_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$svc_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$svc_pid" 2>/dev/null || true
  fi
  if ! timeout 90 bash "$root/scripts/pg.sh" down >/dev/null 2>&1; then
    # After a postmaster kill the cluster may be half up; stop it hard (our data directory only).
    local pid; pid=$(head -n1 "$PROMOLEDGER_PGDATA/postmaster.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
  fi
  if ((rc == 0)); then rm -rf "$work"; else log "work files kept in $work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'errmsg="interrupted"; exit 130' INT TERM

fail() { errmsg="$*"; log "FAILED: $*"; summary; exit 1; }
summary() {
  local now; now=$(date +%s.%N)
  python3 scripts/chaos_client.py summary --dir "$work" --rounds "$rounds" --error "$errmsg" \
    --wall-s "$(awk -v a="$t_start" -v b="$now" 'BEGIN{printf "%.1f", b-a}')"
}

# PostgreSQL up (restarting after a postmaster SIGKILL: orphaned backends must exit before a new
# postmaster may attach the shared memory, so retry for a while).
pg_up() {
  local deadline=$((SECONDS + recovery_bound_s))
  until timeout 70 bash scripts/pg.sh up >"$work/pg_up.out" 2>"$work/pg_up.err"; do
    ((SECONDS < deadline)) || { cat "$work/pg_up.err" >&2; return 1; }
    sleep 0.5
  done
}

svc_n=0
start_service() {
  svc_n=$((svc_n + 1))
  local out="$work/serve-$svc_n.out"
  "$pl" --db "$conn" serve --listen 127.0.0.1:0 >"$out" 2>"$work/serve-$svc_n.err" &
  svc_pid=$!
  local url=""
  for _ in $(seq 200); do
    url=$(sed -n 's/^promoledger serve: listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$out" | head -n1)
    [[ -n $url ]] && break
    kill -0 "$svc_pid" 2>/dev/null || { cat "$work/serve-$svc_n.err" >&2; return 1; }
    sleep 0.05
  done
  [[ -n $url ]] || return 1
  printf '%s\n' "$url" >"$work/url.tmp" && mv "$work/url.tmp" "$work/url"
}

healthz() {
  local u; u=$(cat "$work/url")
  python3 - "$u" <<'EOF'
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
try:
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
    c.request("GET", "/healthz"); sys.exit(0 if c.getresponse().status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

# Seconds until /healthz answers 200 (bounded).
wait_healthy() {
  local t0=$SECONDS
  local start; start=$(date +%s.%N)
  until healthz; do
    ((SECONDS - t0 < recovery_bound_s)) || return 1
    sleep 0.1
  done
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}'
}

pause_client() {
  rm -f "$work/paused"; touch "$work/pause"
  for _ in $(seq 400); do [[ -f $work/paused ]] && return 0; sleep 0.05; done
  return 1
}
resume_client() { rm -f "$work/pause"; }

# ---- setup
log "cluster: port $PROMOLEDGER_PGPORT, data $PROMOLEDGER_PGDATA; work files $work"
pg_up || fail "could not start PostgreSQL"
psql_() { "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_ -d postgres -c "DROP DATABASE IF EXISTS promoledger_chaos WITH (FORCE)" -c "CREATE DATABASE promoledger_chaos" >/dev/null
# The example organisation with deep pockets: 20 rounds post ~100,000 payments, more than the example
# payers' deposits cover (a refusal for insufficient funds is not what this test is about).
awk -F, 'BEGIN { OFS = "," } $1 == "payer" { $5 = "10000000.00" } { print }' examples/organisation.csv >"$work/organisation.csv"
{
  "$pl" --db "$conn" db migrate
  # The rounds post on the pilot's calendar (a day per round from 2026-11-24), ahead of the clock on
  # some dates this runs: a simulation, so the largest future tolerance (docs/accounting.md).
  "$pl" --db "$conn" policy set --future-tolerance 400d --reason "chaos.sh: the pilot's calendar, simulated"
  "$pl" --db "$conn" org import "$work/organisation.csv" --date 2026-11-23
  cid=$("$pl" --db "$conn" --json campaign create --file examples/pilot-campaign.json --by ops.zhang \
    | sed -n 's/.*"id": \([0-9]*\).*/\1/p')
  "$pl" --db "$conn" campaign approve "$cid" --by fin.li
} >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; fail "database setup failed"; }
# One business day per round (the pilot runs 2026-11-24..2026-12-31), so every round competes for
# fresh cards under the daily cap.
for ((r = 1; r <= rounds; r++)); do
  "$pl" --db "$conn" deal --date "$(date -u -d "2026-11-24 + $((r - 1)) day" +%F)" >>"$work/setup.log" 2>&1 \
    || { cat "$work/setup.log" >&2; fail "deal failed"; }
done
"$pl" --db "$conn" --json token create --name chaos-poster --role poster \
  | sed -n 's/.*"token": "\([^"]*\)".*/\1/p' >"$work/poster.token"
"$pl" --db "$conn" --json token create --name chaos-auditor --role auditor \
  | sed -n 's/.*"token": "\([^"]*\)".*/\1/p' >"$work/auditor.token"
[[ -s $work/poster.token && -s $work/auditor.token ]] || fail "token create failed"
start_service || fail "service did not start"
wait_healthy >/dev/null || fail "service not healthy"
echo 2026-11-24 >"$work/day"
: >"$work/sent.jsonl"; : >"$work/acks.jsonl"
python3 scripts/chaos_client.py load --dir "$work" --threads "$threads" --tag "c$(date +%s)" \
  2>"$work/client.err" &
client_pid=$!

# ---- rounds
for ((r = 1; r <= rounds; r++)); do
  sleep "$load_s"
  kill -0 "$client_pid" 2>/dev/null || { cat "$work/client.err" >&2; fail "client died"; }
  if ((r % 2 == 1)); then
    killed=service
    kill -KILL "$svc_pid" 2>/dev/null || fail "round $r: service was not running"
    wait "$svc_pid" 2>/dev/null || true
    t_kill=$(date +%s.%N)
    start_service || fail "round $r: service did not restart"
  else
    killed=postgres
    pm=$(head -n1 "$PROMOLEDGER_PGDATA/postmaster.pid")
    log_size=$(stat -c %s "$PROMOLEDGER_PGDATA/server.log")
    kill -KILL "$pm" || fail "round $r: could not kill postmaster $pm"
    t_kill=$(date +%s.%N)
    sleep 0.5   # the service sees the database go away under load
    pg_up || fail "round $r: PostgreSQL did not come back"
    tail -c +"$((log_size + 1))" "$PROMOLEDGER_PGDATA/server.log" | grep "not properly shut down" >/dev/null \
      || log "round $r: WARNING: no crash recovery ('not properly shut down') in server.log"
    if ! kill -0 "$svc_pid" 2>/dev/null; then
      log "round $r: SERVICE DIED after the PostgreSQL kill (stderr: $work/serve-$svc_n.err); restarting it"
      echo "{\"round\": $r, \"kind\": \"service_died_on_db_kill\"}" >>"$work/violations.jsonl"
      errmsg="service died when PostgreSQL was killed (round $r)"
      start_service || fail "round $r: service did not restart"
    fi
  fi
  wait_healthy >"$work/rec" || fail "round $r: /healthz not 200 within ${recovery_bound_s}s after the $killed kill"
  recovery=$(awk -v a="$t_kill" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
  sleep "$after_s"
  pause_client || fail "round $r: client did not pause within 20 s"
  if [[ ${CHAOS_SELFTEST:-0} == 1 && $r == 1 ]]; then
    # Self-test of the checker: a forged acknowledgement with other figures must be reported.
    head -n1 "$work/acks.jsonl" | sed 's/"discount":"[^"]*"/"discount":"99.99"/' >>"$work/acks.jsonl"
  fi
  rc=0
  timeout 120 python3 scripts/chaos_client.py check --dir "$work" --round "$r" --killed "$killed" \
    --recovery-s "$recovery" --psql "$pgbin/psql" --threads "$threads" \
    --poster-token "$(cat "$work/poster.token")" --auditor-token "$(cat "$work/auditor.token")" || rc=$?
  ((rc == 0)) || failed="round $r check failed (rc $rc)"
  if [[ -n $failed ]]; then
    errmsg=${errmsg:-$failed}
    break
  fi
  date -u -d "2026-11-24 + $r day" +%F >"$work/day"
  resume_client
done

touch "$work/stop"
wait "$client_pid" 2>/dev/null || true
client_pid=""
summary
[[ -z $errmsg && -z $failed ]] || exit 1
