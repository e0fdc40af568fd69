#!/usr/bin/env bash
# A highly available PostgreSQL 15 formation on one machine, for tests, the failover proof, the
# restore drill, the HA benchmark and the demo's --ha mode: three nodes managed by Patroni 3.0, one
# etcd 3.4 member as the consensus store, synchronous replication in strict mode (a commit returns only
# once a standby has flushed it), pg_rewind for a former primary, and a pgBackRest repository with WAL
# archiving. Production runs the same on three machines (docs/operations.md, "Production").
#
# Usage: scripts/cluster.sh COMMAND
#   up              start what is not running (bootstrap from empty the first time); prints the
#                   multi-host connection string (read-write) on stdout
#   down [--wipe]   stop everything (Patroni and PostgreSQL, etcd), check no process or port is left;
#                   --wipe also removes the folder
#   status          every node's role, state, timeline and lag (patronictl list), etcd, the backups
#   url [--read]    the connection string: read-write, or prefer-standby for reports (--read)
#   psql [ARGS]     psql on the current primary (database promoledger)
#   kill-primary    SIGKILL the primary's node: Patroni's and its postmaster's process groups (a machine
#                   dying); prints the node's name and the time of the kill (epoch seconds). `up` starts
#                   it again (it rejoins, by pg_rewind when it had diverged).
#   kill-standby    the same for the synchronous standby
#   kill-node NAME  the same for n1, n2 or n3
#   stop-node NAME  stop one node cleanly (SIGTERM to its Patroni, which stops PostgreSQL); `up` starts it
#   freeze NAME / thaw NAME   SIGSTOP / SIGCONT a whole node (a machine that stalls)
#   members         "name role state timeline lag_mb" per node; leader prints the primary's name
#   wait-healthy [S] until a primary, a synchronous standby and 3 running nodes (at most S seconds, 120)
#   switchover      planned switchover to the synchronous standby (for maintenance); waits until done
#   backup [full|incr]            a pgBackRest backup (from the primary)
#   restore TARGET_TIME DIR PORT  restore the repository to TARGET_TIME (a timestamptz text) into a new
#                   single-node cluster in DIR on 127.0.0.1:PORT (started, promoted, not archiving)
#   restore-down DIR              stop such a restored cluster
#
# Environment:
#   PROMOLEDGER_CLUSTER_DIR        the folder holding everything (default /tmp/promoledger-cluster-<uid>)
#   PROMOLEDGER_CLUSTER_PORT_BASE  first of 8 ports (default 25400, below the ephemeral range 32768..60999 so that no client's source port takes one): etcd client +0, etcd peer +1,
#                                  PostgreSQL n1..n3 +2..+4, Patroni REST n1..n3 +5..+7
#   PROMOLEDGER_CLUSTER_SHARED_BUFFERS  per node (default 128MB)
# As root, everything runs as the `postgres` OS user; otherwise as the calling user. No systemd: every
# process is started here in a session of its own and stopped here. Each step says how long it took.
set -euo pipefail

PROG=cluster.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PGBIN=${PROMOLEDGER_PGBIN:-/usr/lib/postgresql/15/bin}
DIR=${PROMOLEDGER_CLUSTER_DIR:-/tmp/promoledger-cluster-$(id -u)}
BASE=${PROMOLEDGER_CLUSTER_PORT_BASE:-25400}
SHARED_BUFFERS=${PROMOLEDGER_CLUSTER_SHARED_BUFFERS:-128MB}
SCOPE=promoledger
DBNAME=promoledger
STANZA=promoledger
NODES=(n1 n2 n3)
HOST=127.0.0.1

die() { echo "$PROG: error: $*" >&2; exit 1; }
# The caller's libpq settings (PGPORT=a,b,c from a multi-host string ...) must not reach Patroni, etcd or
# PostgreSQL: the server would take PGPORT as its own port.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^PG' || true)
info() { echo "$PROG: $*" >&2; }

[[ $BASE =~ ^[0-9]+$ ]] && ((BASE >= 1024 && BASE + 7 <= 65535)) || die "PROMOLEDGER_CLUSTER_PORT_BASE='$BASE' is not a port in 1024..65528"
[[ $DIR == /* ]] || DIR="$PWD/$DIR"
DIR=$(realpath -m -- "$DIR")
[[ $DIR =~ ^[A-Za-z0-9/._+@=-]+$ ]] || die "folder '$DIR' holds unsupported characters (letters, digits, / . _ + @ = -)"
((${#DIR} <= 80)) || die "folder '$DIR' is too long for the nodes' socket paths (at most 80 characters)"

ETCD_CLIENT=$BASE
ETCD_PEER=$((BASE + 1))
pg_port() { echo $((BASE + 2 + $1)); }      # by node index 0..2
rest_port() { echo $((BASE + 5 + $1)); }
node_index() { case $1 in n1) echo 0 ;; n2) echo 1 ;; n3) echo 2 ;; *) die "no node '$1' (n1, n2, n3)" ;; esac; }
all_ports() { local p; for ((p = BASE; p <= BASE + 7; p++)); do echo "$p"; done; }

RW_CONNINFO="host=$HOST,$HOST,$HOST port=$(pg_port 0),$(pg_port 1),$(pg_port 2) user=postgres dbname=$DBNAME target_session_attrs=read-write connect_timeout=2 keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=2 tcp_user_timeout=9000"
RO_CONNINFO="${RW_CONNINFO/target_session_attrs=read-write/target_session_attrs=prefer-standby}"

# ---------------------------------------------------------------- helpers
if ((EUID == 0)); then
  id -u postgres >/dev/null 2>&1 || die "running as root, but OS user 'postgres' does not exist (install postgresql-15)"
  RUN_USER=postgres
else
  RUN_USER=$(id -un)
fi
# Runs a command as the server's OS user, from / (an unreadable current directory must not matter).
as_pg() {
  if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

PATRONICTL=(patronictl -c "$DIR/n1/patroni.yml")
BACKREST=(pgbackrest --config="$DIR/pgbackrest/pgbackrest.conf" --stanza=$STANZA)

# A process in a session of its own (so its whole group can be signalled), as the server user;
# prints its pid (= its process group id).
spawn() {
  local log=$1; shift
  if ((EUID == 0)); then
    (cd / && runuser -u postgres -- bash -c 'setsid "$@" >>"$0" 2>&1 </dev/null & echo $!' "$log" "$@")
  else
    (cd / && bash -c 'setsid "$@" >>"$0" 2>&1 </dev/null & echo $!' "$log" "$@")
  fi
}

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
pid_of() { cat "$DIR/run/$1.pid" 2>/dev/null || true; }
# The postmaster of a node, from its pid file (Patroni starts it in a session of its own).
postmaster_of() { head -n1 "$DIR/$1/data/postmaster.pid" 2>/dev/null || true; }

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# GET on a node's Patroni REST API; prints the HTTP status (000 when it does not answer).
rest_status() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$HOST:$(rest_port "$(node_index "$1")")/$2" || true; }

# The member list as "name role state timeline lag_mb" lines (patronictl list, tsv); roles are leader,
# sync_standby, replica.
members() {
  alive "$(pid_of etcd)" || return 0   # without etcd patronictl would retry for ever
  timeout 15 "${PATRONICTL[@]}" list -f tsv 2>/dev/null \
    | awk -F'\t' 'NR > 1 { r = tolower($4); gsub(/ /, "_", r); print $2, r, tolower($5), ($6 == "" ? "-" : $6), ($7 == "" ? "-" : $7) }'
}
leader() { members | awk '$2 == "leader" && $3 == "running" { print $1 }'; }
sync_standby() { members | awk '$2 == "sync_standby" && $3 ~ /^(streaming|running)$/ { print $1 }'; }

psql_on() {  # psql_on PORT DBNAME ARGS...: psql as the superuser on one node
  local port=$1 db=$2; shift 2
  "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "host=$HOST port=$port user=postgres dbname=$db connect_timeout=2" "$@"
}

# ---------------------------------------------------------------- configuration
write_configs() {
  local i name port rest
  as_pg mkdir -p "$DIR/etcd" "$DIR/run" "$DIR/pgbackrest/repo" "$DIR/pgbackrest/log" "$DIR/pgbackrest/lock" \
    "$DIR/pgbackrest/spool" "$DIR/n1" "$DIR/n2" "$DIR/n3"
  as_pg chmod 0700 "$DIR/n1" "$DIR/n2" "$DIR/n3"
  {
    echo "[global]"
    echo "repo1-path=$DIR/pgbackrest/repo"
    echo "repo1-retention-full=2"
    echo "log-path=$DIR/pgbackrest/log"
    echo "lock-path=$DIR/pgbackrest/lock"
    echo "spool-path=$DIR/pgbackrest/spool"
    echo "log-level-console=warn"
    echo "log-level-file=info"
    echo "start-fast=y"
    echo "compress-type=lz4"
    echo "process-max=1"
    echo
    echo "[$STANZA]"
    for i in 0 1 2; do
      echo "pg$((i + 1))-path=$DIR/n$((i + 1))/data"
      echo "pg$((i + 1))-port=$(pg_port $i)"
      echo "pg$((i + 1))-socket-path=$DIR/n$((i + 1))"
    done
  } | as_pg tee "$DIR/pgbackrest/pgbackrest.conf" >/dev/null
  for i in 0 1 2; do
    name=n$((i + 1)); port=$(pg_port $i); rest=$(rest_port $i)
    # Only the primary archives (archive_mode on: standbys do not push); each node pushes its own
    # pg_wal, hence --pg1-path per node. Standbys that fall behind fetch WAL from the repository.
    cat <<EOF | as_pg tee "$DIR/$name/patroni.yml" >/dev/null
# Written by scripts/cluster.sh on every 'up'; edits here are overwritten.
scope: $SCOPE
namespace: /promoledger/
name: $name
log:
  level: INFO
restapi:
  listen: $HOST:$rest
  connect_address: $HOST:$rest
etcd3:
  hosts: $HOST:$ETCD_CLIENT
bootstrap:
  dcs:
    # Leader key TTL 10 s, one loop a second: a dead primary is replaced in about 10 s.
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    # A commit returns only once the synchronous standby has flushed it; with no standby left,
    # commits wait (strict) rather than going asynchronous.
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        synchronous_commit: "on"
        wal_level: replica
        wal_log_hints: "on"
        hot_standby: "on"
        archive_mode: "on"
        archive_timeout: 60
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        max_connections: 100
        shared_preload_libraries: pg_stat_statements
        # A standby whose primary changed retries every 0.5 s, not 5: the new primary has its
        # synchronous standby (and takes commits again) that much sooner.
        wal_retrieve_retry_interval: 500ms
  initdb:
    - encoding: UTF8
    - locale: C
    - data-checksums
postgresql:
  listen: $HOST:$port
  connect_address: $HOST:$port
  data_dir: $DIR/$name/data
  bin_dir: $PGBIN
  pgpass: $DIR/$name/pgpass
  authentication:
    superuser:
      username: postgres
      password: promoledger-local
    replication:
      username: replicator
      password: promoledger-local
  parameters:
    unix_socket_directories: '$DIR/$name'
    shared_buffers: $SHARED_BUFFERS
    archive_command: 'pgbackrest --config=$DIR/pgbackrest/pgbackrest.conf --stanza=$STANZA --pg1-path=$DIR/$name/data archive-push %p'
    log_line_prefix: '%m [%p] %q%u@%d '
  recovery_conf:
    restore_command: 'pgbackrest --config=$DIR/pgbackrest/pgbackrest.conf --stanza=$STANZA --pg1-path=$DIR/$name/data archive-get %f "%p"'
  basebackup:
    - checkpoint: fast
  # A local test formation: trust on the loopback address only.
  pg_hba:
    - local all all trust
    - host all all $HOST/32 trust
    - host replication all $HOST/32 trust
EOF
  done
}

# ---------------------------------------------------------------- up
start_etcd() {
  local pid; pid=$(pid_of etcd)
  alive "$pid" && return 0
  port_busy "$ETCD_CLIENT" && die "port $ETCD_CLIENT is in use by something else (not this formation's etcd)"
  local t; t=$(now)
  pid=$(spawn "$DIR/etcd/etcd.log" etcd --name e1 --data-dir "$DIR/etcd/data" \
    --listen-client-urls "http://$HOST:$ETCD_CLIENT" --advertise-client-urls "http://$HOST:$ETCD_CLIENT" \
    --listen-peer-urls "http://$HOST:$ETCD_PEER" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER" \
    --initial-cluster "e1=http://$HOST:$ETCD_PEER" --initial-cluster-state new \
    --initial-cluster-token "promoledger-$BASE")
  echo "$pid" >"$DIR/run/etcd.pid"
  local deadline=$((SECONDS + 30))
  until ETCDCTL_API=3 etcdctl --endpoints="http://$HOST:$ETCD_CLIENT" endpoint health >/dev/null 2>&1; do
    alive "$pid" || { tail -n 20 "$DIR/etcd/etcd.log" >&2; die "etcd exited (log $DIR/etcd/etcd.log)"; }
    ((SECONDS < deadline)) || die "etcd not healthy within 30 s (log $DIR/etcd/etcd.log)"
    sleep 0.2
  done
  info "etcd up on $HOST:$ETCD_CLIENT ($(took "$t"))"
}

start_node() {
  local name=$1 i pid; i=$(node_index "$name")
  pid=$(pid_of "$name")
  alive "$pid" && return 0
  # A postmaster left behind by a killed Patroni would be adopted by the new one; one without its
  # Patroni must not keep the port.
  port_busy "$(pg_port "$i")" && ! alive "$(postmaster_of "$name")" \
    && die "port $(pg_port "$i") is in use by something else (not node $name)"
  port_busy "$(rest_port "$i")" && die "port $(rest_port "$i") is in use by something else (not node $name's Patroni)"
  pid=$(spawn "$DIR/$name/patroni.log" patroni "$DIR/$name/patroni.yml")
  echo "$pid" >"$DIR/run/$name.pid"
  info "node $name: Patroni started (pid $pid), PostgreSQL on $HOST:$(pg_port "$i")"
}

# Waits until the formation is whole: a leader, a synchronous standby, every node running. Prints the
# seconds taken.
wait_healthy() {
  local bound=${1:-120} t; t=$(now)
  local deadline=$((SECONDS + bound)) m
  while :; do
    m=$(members)
    if [[ -n $(awk '$2 == "leader" && $3 == "running"' <<<"$m") ]] \
      && [[ -n $(awk '$2 == "sync_standby" && $3 ~ /^(streaming|running)$/' <<<"$m") ]] \
      && (($(awk '$3 ~ /^(running|streaming)$/' <<<"$m" | wc -l) == 3)); then
      break
    fi
    local name
    for name in "${NODES[@]}"; do
      alive "$(pid_of "$name")" || { tail -n 30 "$DIR/$name/patroni.log" >&2; die "Patroni of node $name exited (log $DIR/$name/patroni.log)"; }
    done
    ((SECONDS < deadline)) || { timeout 15 "${PATRONICTL[@]}" list >&2 || true; die "the formation is not whole after $bound s"; }
    sleep 0.3
  done
  took "$t"
}

primary_port() {
  local l; l=$(leader)
  [[ -n $l ]] || return 1
  pg_port "$(node_index "$l")"
}

cmd_up() {
  command -v patroni >/dev/null && command -v etcd >/dev/null && command -v pgbackrest >/dev/null \
    || die "patroni, etcd and pgbackrest are needed: run scripts/install-deps.sh"
  [[ -x $PGBIN/postgres ]] || die "$PGBIN/postgres not found (PostgreSQL 15)"
  local t0; t0=$(now)
  if [[ ! -d $DIR ]]; then
    mkdir -p "$DIR"
    ((EUID == 0)) && chown postgres: "$DIR"
  fi
  as_pg test -w "$DIR" || die "OS user $RUN_USER cannot write $DIR (a parent not traversable, e.g. /root?)"
  local fresh=0
  [[ -f $DIR/n1/data/PG_VERSION || -f $DIR/n2/data/PG_VERSION || -f $DIR/n3/data/PG_VERSION ]] || fresh=1
  info "folder $DIR, ports $BASE..$((BASE + 7)), OS user $RUN_USER$( ((fresh)) && echo ', bootstrapping from empty')"
  write_configs
  start_etcd
  local t; t=$(now)
  start_node n1
  if ((fresh)); then
    # The first node bootstraps alone; the others then clone from it (pg_basebackup, fast checkpoint).
    local deadline=$((SECONDS + 60))
    until [[ $(rest_status n1 primary) == 200 ]]; do
      alive "$(pid_of n1)" || { tail -n 30 "$DIR/n1/patroni.log" >&2; die "Patroni of n1 exited"; }
      ((SECONDS < deadline)) || die "n1 did not become primary within 60 s (log $DIR/n1/patroni.log)"
      sleep 0.3
    done
    info "n1 bootstrapped (initdb) and primary ($(took "$t"))"
  fi
  start_node n2
  start_node n3
  local waited; waited=$(wait_healthy 120) || exit 1
  info "formation whole: a primary, a synchronous standby, three nodes running ($waited)"
  local port; port=$(primary_port) || die "no primary"
  if [[ $(psql_on "$port" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'") != 1 ]]; then
    psql_on "$port" postgres -c "CREATE DATABASE $DBNAME" >/dev/null
    info "database $DBNAME created"
  fi
  if [[ ! -f $DIR/pgbackrest/repo/backup/$STANZA/backup.info ]]; then
    t=$(now)
    as_pg "${BACKREST[@]}" stanza-create >/dev/null || die "pgbackrest stanza-create failed (log $DIR/pgbackrest/log)"
    info "pgBackRest stanza '$STANZA' created in $DIR/pgbackrest/repo ($(took "$t"))"
  fi
  t=$(now)
  as_pg "${BACKREST[@]}" check >/dev/null || die "pgbackrest check failed: WAL archiving does not work (log $DIR/pgbackrest/log)"
  info "WAL archiving checked (a segment pushed and found in the repository) ($(took "$t"))"
  info "up in $(took "$t0"); stop with: scripts/cluster.sh down"
  echo "$RW_CONNINFO"
}

# ---------------------------------------------------------------- down
# Stops a process group: SIGTERM (or the given signal), then SIGKILL after the bound.
stop_group() {
  local pid=$1 what=$2 sig=${3:-TERM} bound=${4:-30}
  alive "$pid" || return 0
  kill -"$sig" -- "-$pid" 2>/dev/null || kill -"$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + bound))
  while alive "$pid"; do
    if ((SECONDS >= deadline)); then
      info "$what (pid $pid) did not stop within $bound s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
}

stop_node() {
  local name=$1 pm
  # SIGTERM to Patroni: it stops PostgreSQL (fast) and, on the primary, releases the leader key.
  stop_group "$(pid_of "$name")" "Patroni of $name" TERM 40
  pm=$(postmaster_of "$name")
  if alive "$pm"; then
    as_pg "$PGBIN/pg_ctl" stop -D "$DIR/$name/data" -m fast -w -t 20 >/dev/null 2>&1 || stop_group "$pm" "postmaster of $name" KILL 5
  fi
  rm -f "$DIR/run/$name.pid"
}

cmd_down() {
  local wipe=0
  [[ ${1:-} == --wipe ]] && wipe=1
  if [[ ! -d $DIR ]]; then info "no formation in $DIR; nothing to stop"; return 0; fi
  local t0 t name; t0=$(now)
  # The standbys together first, then the primary (so no standby sees its primary go and competes).
  local standbys=() l; l=$(leader 2>/dev/null || true)
  for name in "${NODES[@]}"; do [[ $name == "$l" ]] || standbys+=("$name"); done
  t=$(now)
  for name in "${standbys[@]}"; do stop_node "$name" & done
  wait
  info "standbys ${standbys[*]} stopped ($(took "$t"))"
  if [[ -n $l ]]; then
    t=$(now)
    stop_node "$l"
    info "primary $l stopped ($(took "$t"))"
  fi
  t=$(now)
  stop_group "$(pid_of etcd)" etcd TERM 20
  rm -f "$DIR/run/etcd.pid"
  info "etcd stopped ($(took "$t"))"
  # Nothing may be left: no process with this folder on its command line, no port of ours listening.
  local left
  left=$(pgrep -f -- "$DIR/" || true)
  if [[ -n $left ]]; then
    ps -o pid,pgid,cmd -p "$(tr '\n' ',' <<<"$left" | sed 's/,$//')" >&2 || true
    die "processes of the formation are still running (above)"
  fi
  local p
  for p in $(all_ports); do port_busy "$p" && die "port $p still accepts connections after down"; done
  if ((wipe)); then rm -rf -- "$DIR"; info "removed $DIR"; fi
  info "down in $(took "$t0"): no process of the formation, ports $BASE..$((BASE + 7)) free"
}

# ---------------------------------------------------------------- status and kills
cmd_status() {
  [[ -d $DIR ]] || { echo "no formation in $DIR (run: scripts/cluster.sh up)"; return 3; }
  local name
  for name in etcd "${NODES[@]}"; do
    local pid; pid=$(pid_of "$name")
    if alive "$pid"; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; fi
  done
  alive "$(pid_of etcd)" && { timeout 15 "${PATRONICTL[@]}" list || true; }
  as_pg "${BACKREST[@]}" info || true
  echo "read-write: $RW_CONNINFO"
  echo "read:       $RO_CONNINFO"
}

# SIGKILL of a whole node at once: Patroni's process group, its postmaster and every child of the
# postmaster (each PostgreSQL child runs in a session of its own, so a group kill does not reach them;
# left alone they would finish their statements, commits included, for a few milliseconds after the
# postmaster's death). The postmaster is stopped first so that it forks no child meanwhile.
kill_node() {
  local name=$1 pid pm targets=()
  node_index "$name" >/dev/null
  pid=$(pid_of "$name"); pm=$(postmaster_of "$name")
  alive "$pid" && targets+=("-$pid")
  alive "$pm" || pm=""
  ((${#targets[@]})) || [[ -n $pm ]] || die "node $name is not running"
  local t0; t0=$(now)
  if [[ -n $pm ]]; then
    kill -STOP "$pm"
    targets+=("$pm")
    local child
    for child in $(pgrep -P "$pm" || true); do targets+=("-$child"); done
  fi
  kill -KILL -- "${targets[@]}" 2>/dev/null || true
  # The time printed is taken once the signals are sent: whatever is answered later came from elsewhere.
  local t; t=$(now)
  local groups="${targets[*]}"
  while alive "$pid" || alive "$pm"; do sleep 0.05; done
  rm -f "$DIR/run/$name.pid"
  info "node $name killed (SIGKILL to $groups; sent in $(took "$t0"), gone in $(took "$t"))"
  echo "$name $t"
}

# SIGSTOP / SIGCONT of a whole node (a machine that stalls, then comes back): Patroni's group, the
# postmaster and each of its children (the WAL receiver among them: each child has a session of its own).
signal_node() {
  local name=$1 sig=$2 pid pm targets=() child
  node_index "$name" >/dev/null
  pid=$(pid_of "$name"); pm=$(postmaster_of "$name")
  alive "$pid" && targets+=("-$pid")
  alive "$pm" || pm=""
  ((${#targets[@]})) || [[ -n $pm ]] || die "node $name is not running"
  if [[ -n $pm ]]; then
    [[ $sig == STOP ]] && kill -STOP "$pm"   # first, so that it forks nothing meanwhile
    for child in $(pgrep -P "$pm" || true); do targets+=("$child"); done
    targets+=("$pm")
  fi
  kill -"$sig" -- "${targets[@]}"
  info "node $name: SIG$sig to ${targets[*]}"
}

cmd_switchover() {
  local l s t; l=$(leader); s=$(sync_standby)
  [[ -n $l && -n $s ]] || die "a switchover needs a primary and a synchronous standby (patronictl list)"
  t=$(now)
  info "switchover: $l -> $s (the synchronous standby)"
  timeout 60 "${PATRONICTL[@]}" switchover --leader "$l" --candidate "$s" --force >&2
  local deadline=$((SECONDS + 60))
  until [[ $(leader) == "$s" ]]; do
    ((SECONDS < deadline)) || die "the switchover did not complete within 60 s"
    sleep 0.2
  done
  info "switchover: $s is primary ($(took "$t"))"
  local waited; waited=$(wait_healthy 120) || exit 1
  info "switchover: formation whole again ($waited)"
}

# ---------------------------------------------------------------- backup and restore
cmd_backup() {
  local type=${1:-full} t
  [[ $type == full || $type == incr || $type == diff ]] || die "backup type '$type': full, incr or diff"
  t=$(now)
  as_pg "${BACKREST[@]}" --type="$type" backup || die "pgbackrest backup failed (log $DIR/pgbackrest/log)"
  info "$type backup done ($(took "$t"))"
}

cmd_restore() {
  local target=${1:?restore TARGET_TIME DIR PORT} into=${2:?restore TARGET_TIME DIR PORT} port=${3:?restore TARGET_TIME DIR PORT}
  [[ $into == /* ]] || into="$PWD/$into"
  [[ ! -e $into/PG_VERSION ]] || die "$into already holds a cluster"
  port_busy "$port" && die "port $port is in use"
  local t; t=$(now)
  mkdir -p "$into"; ((EUID == 0)) && chown postgres: "$into"; chmod 0700 "$into"
  # A restored copy must never push WAL into the formation's repository: archiving off.
  as_pg "${BACKREST[@]}" --pg1-path="$into" --type=time --target="$target" --target-action=promote \
    --archive-mode=off restore || die "pgbackrest restore failed (log $DIR/pgbackrest/log)"
  info "restored the files for $target into $into ($(took "$t"))"
  t=$(now)
  # The files are a Patroni node's: its port, socket and synchronous standby names are replaced.
  as_pg "$PGBIN/pg_ctl" start -D "$into" -w -t 600 -l "$into/server.log" \
    -o "-c port=$port -c listen_addresses=$HOST -c unix_socket_directories=$into -c synchronous_standby_names= -c archive_mode=off -c hot_standby=on -c config_file=$into/postgresql.conf -c hba_file=$into/pg_hba.conf" >/dev/null \
    || { tail -n 30 "$into/server.log" >&2; die "the restored cluster did not start (log $into/server.log)"; }
  local deadline=$((SECONDS + 600))
  until [[ $(psql_on "$port" postgres -tAc "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]]; do
    # Recovery that runs out of archived WAL before the target stops the server (a target later than
    # the last archived commit: archive it first, pg_switch_wal()).
    [[ -f $into/postmaster.pid ]] || { tail -n 5 "$into/server.log" >&2; die "the restored cluster stopped during recovery (log $into/server.log)"; }
    ((SECONDS < deadline)) || die "the restored cluster did not finish recovery (log $into/server.log)"
    sleep 0.2
  done
  info "recovered to $target and promoted on $HOST:$port ($(took "$t"))"
  echo "host=$HOST port=$port user=postgres dbname=$DBNAME"
}

cmd_restore_down() {
  local into=${1:?restore-down DIR}
  [[ -f $into/postmaster.pid ]] || { info "no restored cluster running in $into"; return 0; }
  as_pg "$PGBIN/pg_ctl" stop -D "$into" -m fast -w -t 60 >/dev/null
  info "restored cluster in $into stopped"
}

case "${1:-}" in
  up) cmd_up ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  url) if [[ ${2:-} == --read ]]; then echo "$RO_CONNINFO"; else echo "$RW_CONNINFO"; fi ;;
  psql) shift; port=$(primary_port) || die "no primary"; exec "$PGBIN/psql" -X "host=$HOST port=$port user=postgres dbname=$DBNAME" "$@" ;;
  kill-primary) l=$(leader); [[ -n $l ]] || die "no primary to kill"; kill_node "$l" ;;
  kill-standby) s=$(sync_standby); [[ -n $s ]] || die "no synchronous standby to kill"; kill_node "$s" ;;
  kill-node) kill_node "${2:?kill-node NAME}" ;;
  stop-node) node_index "${2:?stop-node NAME}" >/dev/null; t=$(now); stop_node "$2"; info "node $2 stopped ($(took "$t"))" ;;
  wait-healthy) waited=$(wait_healthy "${2:-120}") || exit 1; info "formation whole ($waited)" ;;
  leader) leader ;;
  members) members ;;
  freeze) signal_node "${2:?freeze NAME}" STOP ;;
  thaw) signal_node "${2:?thaw NAME}" CONT ;;
  switchover) cmd_switchover ;;
  backup) cmd_backup "${2:-full}" ;;
  restore) cmd_restore "${2:-}" "${3:-}" "${4:-}" ;;
  restore-down) cmd_restore_down "${2:-}" ;;
  -h|--help|help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
