#!/usr/bin/env bash
# Installs the Debian 12 packages promoledger needs to build, test and run its
# throwaway PostgreSQL 15 cluster (scripts/pg.sh).
#
# Idempotent and quick: it asks dpkg what is already installed and only runs
# `apt-get update` + `apt-get install` when something is missing.
# Non-interactive. Never starts the Debian-managed PostgreSQL service (if
# postgresql-15 is installed fresh, Debian may create /etc/postgresql/15/main;
# nothing in this project uses that cluster).
#
# Usage: scripts/install-deps.sh [--check] [-h|--help]
#   --check   only report missing packages (exit 0 if none, 1 otherwise)
set -euo pipefail

PROG="install-deps.sh"
die() { echo "$PROG: error: $*" >&2; exit 1; }
info() { echo "$PROG: $*" >&2; }

PACKAGES=(
  build-essential cmake pkg-config
  libsoci-dev libpq-dev libboost-dev libhowardhinnant-date-dev tzdata
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libcli11-dev nlohmann-json3-dev libbenchmark-dev
  libssl-dev wrk curl
  clang-14 libfuzzer-14-dev
  postgresql-15 postgresql-client-15 postgresql-contrib-15
  libjs-chart.js libjs-bootstrap5 chromium chromium-driver python3-selenium fonts-wqy-microhei
  # high availability (scripts/cluster.sh): Patroni + etcd, pgBackRest
  patroni etcd-server etcd-client pgbackrest python3-psycopg2
  # posting-period partitions, and their archives (gzip through zlib)
  postgresql-15-partman zlib1g-dev
  # statements (ISO 20022 XML, XSD validation), finance spreadsheets, the API document's check
  libxml2-dev libxml2-utils libxlsxwriter-dev python3-jsonschema unzip
)

# Files that must exist afterwards (pg.sh relies on them).
REQUIRED_FILES=(
  /usr/lib/postgresql/15/bin/initdb
  /usr/lib/postgresql/15/bin/pg_ctl
  /usr/lib/postgresql/15/bin/psql
  /usr/share/postgresql/15/extension/pg_stat_statements.control
)

check_only=0
case "${1:-}" in
  "") ;;
  --check) check_only=1 ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (usage: $0 [--check])" ;;
esac

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian 12 only"

# Prints the requested packages that are not installed. A package counts as
# installed if dpkg reports it "ii", or if an installed package Provides it
# (postgresql-contrib-15 is a virtual package provided by postgresql-15).
missing_packages() {
  local -A have=()
  local status pkg provides p
  local -a plist
  while IFS='|' read -r status pkg provides; do
    [[ $status == ii* ]] || continue
    have[$pkg]=1
    [[ -n $provides ]] || continue
    IFS=',' read -ra plist <<<"$provides"
    for p in "${plist[@]}"; do
      p=${p%%(*}          # drop "(= version)"
      p=${p//[[:space:]]/}
      [[ -n $p ]] && have[$p]=1
    done
  done < <(dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null)
  for p in "${PACKAGES[@]}"; do
    [[ -n ${have[$p]:-} ]] || echo "$p"
  done
}

missing_files() {
  local f
  for f in "${REQUIRED_FILES[@]}"; do [[ -e $f ]] || echo "$f"; done
}

mapfile -t missing < <(missing_packages)

if ((${#missing[@]} == 0)); then
  mapfile -t mfiles < <(missing_files)
  if ((${#mfiles[@]} > 0)); then
    die "all packages are installed but these files are missing: ${mfiles[*]} (reinstall postgresql-15?)"
  fi
  info "all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

info "missing packages: ${missing[*]}"
if ((check_only)); then
  exit 1
fi

# Root, or sudo when available. sudo prompts only when there is a terminal.
SUDO=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    if [[ -t 0 ]]; then SUDO=(sudo); else SUDO=(sudo -n); fi
  else
    die "not root and sudo is not installed: run this script as root to install: ${missing[*]}"
  fi
fi
as_root() { "${SUDO[@]}" "$@"; }

# Keep dpkg maintainer scripts from starting services (the Debian-managed
# PostgreSQL cluster in particular) via the standard policy-rc.d hook. Only
# add it if there is none, and remove only our own.
POLICY=/usr/sbin/policy-rc.d
POLICY_MARK="# promoledger install-deps.sh: temporary"
created_policy=0
cleanup() {
  if ((created_policy)); then
    if as_root grep -qF "$POLICY_MARK" "$POLICY" 2>/dev/null; then
      as_root rm -f "$POLICY" || echo "$PROG: warning: could not remove $POLICY" >&2
    fi
  fi
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\n%s\nexit 101\n' "$POLICY_MARK" | as_root tee "$POLICY" >/dev/null \
    || die "could not write $POLICY (needed to keep apt from starting services)"
  as_root chmod 0755 "$POLICY" || die "could not chmod $POLICY"
  created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
APT=(env DEBIAN_FRONTEND=noninteractive apt-get -q
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

info "running apt-get update"
as_root "${APT[@]}" update || die "'apt-get update' failed (network or apt sources in /etc/apt?)"
info "installing: ${missing[*]}"
as_root "${APT[@]}" install -y --no-install-recommends "${missing[@]}" \
  || die "'apt-get install ${missing[*]}' failed (see apt output above)"

mapfile -t still < <(missing_packages)
((${#still[@]} == 0)) || die "still missing after install: ${still[*]}"
mapfile -t mfiles < <(missing_files)
((${#mfiles[@]} == 0)) || die "installed, but these files are missing: ${mfiles[*]}"
info "done: all ${#PACKAGES[@]} packages installed"
