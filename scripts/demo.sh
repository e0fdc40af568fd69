#!/usr/bin/env bash
# The whole product on one simulated business day, on a fresh machine:
# install, build, start a local cluster, migrate, import the example organisation, create and approve
# the pilot campaign (two different people), deal the day's decks, simulate the day's scan payments,
# close the day, and print the branch report, the campaign report, an audit trace and `audit verify`.
#
#   PROMOLEDGER_DB   use this database instead of the local cluster (it is migrated, not emptied)
#   DEMO_DATE        the business day (default 2026-11-24, the pilot's first day)
#   DEMO_PAYMENTS    payments to simulate (default 6000), DEMO_SEED (default 7)
#   DEMO_MIX         channel mix (default: the talk's wechat=90,alipay=8,bank_app=2)
# Running it again works: on its own cluster it starts from an empty database; on PROMOLEDGER_DB
# every step is idempotent (the same import, campaign, deal, payments and close are replays).
#   --ha   the same day on the highly available formation of scripts/cluster.sh (three PostgreSQL
#          nodes under Patroni, synchronous replication, pgBackRest), through its multi-host string
set -euo pipefail
cd "$(dirname "$0")/.."
ha=0
if [[ ${1:-} == --ha ]]; then ha=1; shift; fi
(($# == 0)) || { echo "demo: unknown argument '$1' (--ha)" >&2; exit 2; }

bash scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
echo "demo: building ($build_dir, Release)" >&2
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" --target promoledger >/dev/null
pl="$build_dir/app/promoledger"

day=${DEMO_DATE:-2026-11-24}
payments=${DEMO_PAYMENTS:-6000}
seed=${DEMO_SEED:-7}
mix=${DEMO_MIX:-wechat=90,alipay=8,bank_app=2}

if ((ha)); then
  conn=$(bash scripts/cluster.sh up)
  psql "${conn/dbname=promoledger/dbname=postgres}" -q -c "DROP DATABASE IF EXISTS promoledger_demo WITH (FORCE)" \
    -c "CREATE DATABASE promoledger_demo" >/dev/null
  export PROMOLEDGER_DB="${conn/dbname=promoledger/dbname=promoledger_demo}"
elif [[ -z "${PROMOLEDGER_DB:-}" ]]; then
  conn=$(bash scripts/pg.sh up)
  # A fresh demo database each run, so the figures are always those of one day.
  bash scripts/pg.sh psql -q -d postgres -c "DROP DATABASE IF EXISTS promoledger_demo WITH (FORCE)" \
    -c "CREATE DATABASE promoledger_demo" >/dev/null
  export PROMOLEDGER_DB="${conn/dbname=promoledger/dbname=promoledger_demo}"
fi
echo "demo: database: $PROMOLEDGER_DB" >&2

if [[ -t 1 ]]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "migrate"
$pl db migrate

step "import the example organisation (a branch, two sub-branches, three outlets, a food street, 200 payers)"
$pl org import examples/organisation.csv --date "$(date -u -d "$day - 1 day" +%F)"

step "create the pilot campaign (maker: ops.zhang) and approve it (checker: fin.li)"
campaign_id=$($pl --json campaign list | sed -n 's/.*"id": \([0-9]*\),.*/\1/p' | head -n1 || true)
if [[ -z "$campaign_id" ]]; then
  campaign_id=$($pl --json campaign create --file examples/pilot-campaign.json --by ops.zhang | sed -n 's/.*"id": \([0-9]*\).*/\1/p')
  $pl campaign approve "$campaign_id" --by fin.li
else
  echo "campaign $campaign_id exists already (a second run on the same database)"
fi
$pl campaign show "$campaign_id"

step "deal $day"
$pl deal --date "$day"

step "simulate $day: $payments scan payments, mix $mix, seed $seed"
$pl simulate --date "$day" --payments "$payments" --seed "$seed" --mix "$mix"

step "a payment posted by hand: 100.00 through the bank app (the worked example's shape)"
$pl pay --payment-id "demo-$day-by-hand" --payer P0001 --merchant M001 --channel bank_app --amount 100.00 \
  --at "${day}T21:30:00+08:00" || true

step "close $day"
$pl close-day --date "$day"

step "branch finance: scan payments, bank-app share and subsidy per outlet, rolled up"
$pl report outlets --from "$day" --to "$day"

step "campaign report: cards dealt / used / expired per merchant"
$pl report campaign "$campaign_id" --from "$day" --to "$day"

step "trial balance"
$pl report trial-balance

traced=$(psql "$PROMOLEDGER_DB" -Atc "SELECT payment_id FROM promo.payment WHERE deck_id IS NOT NULL
  AND business_day = '$day' ORDER BY payment_id LIMIT 1")
traced=${traced:-demo-$day-by-hand}
step "audit trace of discounted payment $traced"
$pl audit trace "$traced"

step "audit verify"
$pl audit verify

step "the HTTP/JSON API on this database (docs/operations.md, \"The service\")"
echo "  export PROMOLEDGER_DB=\"$PROMOLEDGER_DB\""
echo "  $pl token create --name core-banking-1 --role poster"
echo "  $pl serve --listen 127.0.0.1:8080"

# The end of the day (docs/integration.md): what leaves the ledger for the general ledger, the merchants
# and operations, from the closed day only.
eod_out=${DEMO_OUT:-$build_dir/demo-eod}
if [[ $($pl --json gl map show) == "[]" ]]; then
  step "the GL mapping (once): the GL account and org unit that book each class of account"
  $pl gl map set --class payer_deposit --gl 201101 --org BR-HZ --reason "deposit control account at the branch"
  $pl gl map set --class bank_funding --gl 100101 --org BR-HZ --reason "the bank's funding account"
  $pl gl map set --class merchant_settlement --gl 224101 --reason "merchant settlement transit account at the home outlet"
  $pl gl map set --class outlet_subsidy --campaign-gl --reason "the campaign's subsidy GL code at the outlet"
  $pl gl map set --class inter_unit --gl 300101 --reason "inter-unit balancing"
fi

step "the GL journal of $day for the core general ledger (one file per branch, in $eod_out)"
$pl gl extract --date "$day" --out "$eod_out"
cat "$eod_out"/GL_PROMO_"${day//-/}"_BR-HZ_*.csv

step "merchant M001's statement of $day (ISO 20022 camt.053.001.02; the first entries)"
$pl statement merchant M001 --date "$day" --out "$eod_out/statement-M001-$day.xml"
head -n 60 "$eod_out/statement-M001-$day.xml"
echo "  ... (whole statement: $eod_out/statement-M001-$day.xml)"

step "reconciliation of $day with the platform's clearing file"
$pl clearing-file --profile platform --date "$day" --out "$eod_out/platform-$day.csv"
$pl reconcile --profile platform --date "$day" "$eod_out/platform-$day.csv"

if ((ha)); then
  step "the formation (docs/operations.md, \"Production\")"
  bash scripts/cluster.sh status 2>/dev/null | sed -n '5,12p'
  echo "  scripts/cluster.sh kill-primary    # a machine dies: Patroni promotes the synchronous standby"
  echo "  scripts/cluster.sh up              # the old primary comes back and rejoins (pg_rewind)"
  echo "  scripts/cluster.sh switchover      # planned, for maintenance"
  echo "  scripts/cluster.sh down            # stops everything"
fi
