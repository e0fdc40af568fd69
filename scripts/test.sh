#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer and runs every test against a
# throwaway PostgreSQL cluster that this script starts and stops. Exits non-zero on any failure.
#   PROMOLEDGER_TEST_DB   use this server instead of starting one (libpq string with CREATEDB rights)
#   BUILD_DIR             build folder (default: build-test)
#   PROMOLEDGER_SANITIZE  ON (default) or OFF
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh

build_dir=${BUILD_DIR:-build-test}
sanitize=${PROMOLEDGER_SANITIZE:-ON}
jobs=$(nproc 2>/dev/null || echo 2)
echo "test.sh: configuring $build_dir (sanitizers: $sanitize)" >&2
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug -DPROMOLEDGER_SANITIZE="$sanitize" -DPROMOLEDGER_BUILD_BENCH=ON >/dev/null
echo "test.sh: building with $jobs jobs" >&2
cmake --build "$build_dir" -j "$jobs"

started_cluster=0
if [[ -z "${PROMOLEDGER_TEST_DB:-}" ]]; then
  # A cluster of its own on its own port and folder, so a developer's running cluster is not touched.
  export PROMOLEDGER_PGPORT=${PROMOLEDGER_TEST_PGPORT:-54331}
  export PROMOLEDGER_PGDATA=${PROMOLEDGER_TEST_PGDATA:-/tmp/promoledger-test-pg-$(id -u)-$$}
  trap 'bash "$root/scripts/pg.sh" down >/dev/null 2>&1 || true; rm -rf "$PROMOLEDGER_PGDATA" "$PROMOLEDGER_PGDATA.lock"' EXIT
  PROMOLEDGER_TEST_DB=$(bash scripts/pg.sh up)
  export PROMOLEDGER_TEST_DB
  started_cluster=1
fi
echo "test.sh: database tests use: $PROMOLEDGER_TEST_DB (own cluster: $started_cluster)" >&2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The CLI tests run the real binary.
export PROMOLEDGER_BIN="$root/$build_dir/app/promoledger"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600

# The console in headless Chromium against the real service (docs/console.md): about 30 s.
echo "test.sh: the console's browser test (scripts/console_test.sh)" >&2
BUILD_DIR="$build_dir" bash scripts/console_test.sh

# A short fuzzing smoke of every parser that takes outside input (docs/reliability.md): the saved
# reproducers are replayed, then each target runs a few seconds; any crash fails the run.
echo "test.sh: fuzzing smoke (scripts/fuzz.sh ${PROMOLEDGER_FUZZ_SMOKE_S:-5} per target)" >&2
bash scripts/fuzz.sh "${PROMOLEDGER_FUZZ_SMOKE_S:-5}" --no-deps

# Crash and restart under load (docs/reliability.md): the service and PostgreSQL are killed with
# SIGKILL in turn while a client posts; every acknowledged payment must survive, every re-send post once.
echo "test.sh: chaos (scripts/chaos.sh --quick: 3 rounds)" >&2
BUILD_DIR="$build_dir" bash scripts/chaos.sh --quick

# High availability (docs/operations.md, "Production"), on the Patroni formation of scripts/cluster.sh
# (three PostgreSQL nodes, synchronous and strict, etcd, pgBackRest): the primary and then the
# synchronous standby SIGKILLed under HTTP load, every acknowledged payment on the new primary, the old
# primary back by pg_rewind, a cancelled synchronous wait answered 503; then a full backup, payments,
# a restore to a time T into a new cluster, holding exactly T's payments and chain digest. About 4 and
# 3 minutes on a busy 2-core machine (most of it starting formations and waiting for Patroni's 10 s TTL).
echo "test.sh: failover (scripts/failover.sh --quick)" >&2
BUILD_DIR="$build_dir" bash scripts/failover.sh --quick
echo "test.sh: backup and point-in-time restore (scripts/restore_drill.sh --quick)" >&2
BUILD_DIR="$build_dir" bash scripts/restore_drill.sh --quick
