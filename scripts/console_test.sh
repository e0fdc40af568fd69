#!/usr/bin/env bash
# The console's browser test (docs/console.md): headless Chromium, driven by chromedriver through
# python3-selenium, against the real `promoledger serve` on a free 127.0.0.1 port and a demo-like
# database (the example organisation, the pilot campaign made by one person and approved by another,
# two dealt and simulated days, the first closed). Screenshots of every page go to $OUT_DIR. Exits non-zero on any
# failure, and when Chromium, chromedriver or Selenium is missing: it never skips.
#
#   BUILD_DIR             the build with app/promoledger (default: build)
#   OUT_DIR               screenshots and logs (default: $BUILD_DIR/console-screenshots)
#   PROMOLEDGER_TEST_DB   a server to make a fresh database on (libpq string with CREATEDB rights);
#                         unset: a throwaway cluster of its own (port $CONSOLE_PGPORT, default 54345)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${BUILD_DIR:-build}
out_dir=${OUT_DIR:-$build_dir/console-screenshots}
pl="$root/$build_dir/app/promoledger"
python=/usr/bin/python3  # Debian's, which has python3-selenium (a pyenv or venv python may not)
psql=/usr/lib/postgresql/15/bin/psql

die() { echo "console_test.sh: FAILED: $*" >&2; exit 1; }
[[ -x $pl ]] || die "$pl is not built (cmake --build $build_dir --target promoledger)"
command -v chromium >/dev/null || die "chromium is not installed (bash scripts/install-deps.sh)"
command -v chromedriver >/dev/null || die "chromedriver is not installed: package chromium-driver (bash scripts/install-deps.sh)"
$python -c 'import selenium' 2>/dev/null || die "python3-selenium is not installed (bash scripts/install-deps.sh)"
mkdir -p "$out_dir"
rm -f "$out_dir"/*.png "$out_dir"/*.csv
work=$(mktemp -d /tmp/promoledger-console-XXXXXX)
serve_pid=""
own_cluster=0
db_name="promoledger_console_$$"
admin_conn=""

cleanup() {
  local rc=$?
  if [[ -n $serve_pid ]]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if ((own_cluster)); then
    bash "$root/scripts/pg.sh" down >/dev/null 2>&1 || true
    rm -rf "$PROMOLEDGER_PGDATA" "$PROMOLEDGER_PGDATA.lock"
  elif [[ -n $admin_conn ]]; then
    $psql "$admin_conn" -q -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if ((rc != 0)) && [[ -f $work/serve.err ]]; then
    echo "console_test.sh: the service's log (last lines):" >&2
    tail -n 30 "$work/serve.err" >&2
  fi
  [[ -f $work/serve.err ]] && cp "$work/serve.err" "$out_dir/serve.log"
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

started=$(date +%s)
if [[ -n ${PROMOLEDGER_TEST_DB:-} ]]; then
  admin_conn=$PROMOLEDGER_TEST_DB
else
  export PROMOLEDGER_PGPORT=${CONSOLE_PGPORT:-54345}
  export PROMOLEDGER_PGDATA=/tmp/promoledger-console-pg-$(id -u)-$$
  own_cluster=1
  admin_conn=$(bash scripts/pg.sh up 2>/dev/null)
fi
$psql "$admin_conn" -q -c "CREATE DATABASE $db_name" >/dev/null || die "cannot create database $db_name"
# The same conninfo with our database: replace dbname=..., or add it.
if [[ $admin_conn == *dbname=* ]]; then
  conn=$(sed -E "s/dbname=[^ ]+/dbname=$db_name/" <<<"$admin_conn")
else
  conn="$admin_conn dbname=$db_name"
fi
export PROMOLEDGER_DB=$conn

echo "console_test.sh: preparing the demo database" >&2
# Each step checked on its own (set -e does not reach into a command list followed by ||).
run() { "$@" >>"$work/prepare.log" 2>&1 || { tail -n 30 "$work/prepare.log" >&2; die "$*"; }; }
run $pl db migrate
run $pl org import examples/organisation.csv --date 2026-11-23
id=$($pl --json campaign create --file examples/pilot-campaign.json --by ops.zhang | sed -n 's/.*"id": *\([0-9]*\).*/\1/p')
[[ -n $id ]] || die "campaign create printed no id"
run $pl campaign approve "$id" --by fin.li
# The first day is closed (its budget moves from reserved to spent), the second is still open.
run $pl deal --date 2026-11-24
run $pl simulate --date 2026-11-24 --payments 1500 --seed 7 --mix wechat=70,alipay=10,bank_app=20
run $pl close-day --date 2026-11-24
run $pl deal --date 2026-11-25
run $pl simulate --date 2026-11-25 --payments 1500 --seed 8 --mix wechat=70,alipay=10,bank_app=20
run $pl pay --payment-id demo-by-hand --payer P0001 --merchant M001 --channel bank_app --amount 100.00 \
  --at 2026-11-25T21:30:00+08:00

# A discounted payment for the trace page (read from the database, not assumed from the simulator).
payment_id=$($psql "$conn" -Atc "SELECT payment_id FROM promo.payment WHERE discount_fen > 0 ORDER BY payment_id LIMIT 1")
[[ -n $payment_id ]] || die "the simulated days hold no discounted payment"

tokens="$work/tokens.txt"
for spec in finance-1:finance audit-1:auditor ops-maker:operator ops-checker:operator core-1:poster; do
  name=${spec%%:*}
  role=${spec##*:}
  token=$($pl token create --name "$name" --role "$role" 2>/dev/null | grep -o 'plt_[0-9a-f]*' | head -n1)
  [[ -n $token ]] || die "token create $name failed"
  echo "$role $name $token" >>"$tokens"
done

"$pl" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/^promoledger serve: listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/serve.out")
  [[ -n $port ]] && break
  kill -0 "$serve_pid" 2>/dev/null || die "the service exited before listening"
  sleep 0.1
done
[[ -n $port ]] || die "the service did not print its port within 20 s"
echo "console_test.sh: service on 127.0.0.1:$port; running the browser test" >&2

$python tests/console/console_test.py --base-url "http://127.0.0.1:$port" --tokens "$tokens" --out "$out_dir" \
  --work "$work" --payment-id "$payment_id"
# The service must stop cleanly: under the sanitizers (scripts/test.sh) a leak or an error in the
# console's code shows here.
kill -TERM "$serve_pid"
serve_rc=0
wait "$serve_pid" || serve_rc=$?
serve_pid=""
((serve_rc == 0)) || die "the service exited with $serve_rc after SIGTERM (see $out_dir/serve.log)"
echo "console_test.sh: passed in $(($(date +%s) - started)) s; screenshots in $out_dir" >&2
