#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (fuzz/, docs/reliability.md) with clang-14, ASan and UBSan.
#
# Usage: scripts/fuzz.sh [SECONDS] [--smoke] [--target NAME]... [--no-deps] [-h|--help]
#   SECONDS        fuzzing time per target (default 60)
#   --smoke        10 seconds per target (for CI)
#   --target NAME  run only this target (money, timestamp, csv, campaign, request, clearing_platform,
#                  clearing_wechat, clearing_alipay); repeatable
#   --no-deps      do not run scripts/install-deps.sh first
# Environment: JOBS (build parallelism, default 2), BUILD_DIR (default build-fuzz).
#
# Each target starts from its seed corpus fuzz/corpus/<target>/, copied to a scratch directory: the
# repository's corpus only grows by hand. Saved reproducers in fuzz/regressions/<target>/ are replayed
# first. Prints, per target, executions, exec/s and crashes (0 or the reproducer's path); exits
# non-zero if any target crashed (a sanitizer report or a failed property counts as a crash).
set -euo pipefail

PROG="fuzz.sh"
die() { echo "$PROG: error: $*" >&2; exit 2; }
info() { echo "$PROG: $*" >&2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}

ALL_TARGETS=(money timestamp csv campaign request clearing_platform clearing_wechat clearing_alipay)
# -max_len per target: a little above the longest real input of that kind.
declare -A MAX_LEN=([money]=64 [timestamp]=128 [csv]=4096 [campaign]=4096 [request]=1024
                   [clearing_platform]=4096 [clearing_wechat]=8192 [clearing_alipay]=8192)

seconds=60
deps=1
targets=()
while (($#)); do
  case "$1" in
    --smoke) seconds=10 ;;
    --no-deps) deps=0 ;;
    --target)
      (($# >= 2)) || die "--target needs a name"
      [[ -n ${MAX_LEN[$2]:-} ]] || die "unknown target '$2' (one of: ${ALL_TARGETS[*]})"
      targets+=("$2")
      shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    ''|*[!0-9]*) die "unknown argument '$1' (see --help)" ;;
    *) seconds=$1 ;;
  esac
  shift
done
((seconds > 0)) || die "SECONDS must be positive"
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

if ((deps)); then
  bash "$root/scripts/install-deps.sh"
fi
command -v clang++-14 >/dev/null 2>&1 || die "clang++-14 not found (scripts/install-deps.sh installs it)"

if [[ ! -f $build/CMakeCache.txt ]]; then
  info "configuring $build"
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -DPROMOLEDGER_BUILD_FUZZ=ON \
    -DPROMOLEDGER_BUILD_TESTS=OFF -DPROMOLEDGER_BUILD_BENCH=OFF >/dev/null
fi
info "building ${targets[*]} (-j$jobs)"
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/promoledger-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

failed=0
summary=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  [[ -x $bin ]] || die "$bin was not built"
  dict=()
  [[ -f $root/fuzz/dict/$t.dict ]] && dict=(-dict="$root/fuzz/dict/$t.dict")
  mkdir -p "$artifacts/$t"

  # 1. Replay the saved reproducers: each must now pass.
  regress_failed=()
  if [[ -d $root/fuzz/regressions/$t ]]; then
    for r in "$root/fuzz/regressions/$t"/*; do
      [[ -f $r && $(basename "$r") != *.md ]] || continue
      if ! "$bin" "$r" >"$scratch/$t.regress.log" 2>&1; then
        regress_failed+=("$r")
      fi
    done
  fi

  # 2. Fuzz from a copy of the seed corpus.
  cp -r "$root/fuzz/corpus/$t" "$scratch/$t"
  log=$scratch/$t.log
  info "fuzzing $t for ${seconds}s"
  set +e
  "$bin" "$scratch/$t" -max_total_time="$seconds" -max_len="${MAX_LEN[$t]}" "${dict[@]}" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corp=$(find "$scratch/$t" -type f | wc -l)
  crash=0
  if ((rc != 0)); then
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    [[ -n $crash ]] || crash="exit status $rc, see $artifacts/$t/$t.log"
    cp "$log" "$artifacts/$t/$t.log"
    echo "---- $t: last 40 lines of the fuzzer's output ----" >&2
    tail -40 "$log" >&2
    failed=1
  fi
  if ((${#regress_failed[@]})); then
    crash="$crash; regressions still failing: ${regress_failed[*]}"
    failed=1
  fi
  summary+=("$(printf '%-10s executions: %-10s exec/s: %-8s corpus: %-6s crashes: %s' \
    "$t" "${execs:-?}" "${rate:-?}" "$corp" "$crash")")
done

echo
echo "fuzz summary (${seconds}s per target, max_len per target, ASan+UBSan):"
printf '  %s\n' "${summary[@]}"
exit "$failed"
