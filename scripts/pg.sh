#!/usr/bin/env bash
# A local throwaway PostgreSQL 15 cluster for promoledger (tests, CI, demo).
set -euo pipefail

PROG="pg.sh"

usage() {
  cat <<EOF
Usage: scripts/pg.sh COMMAND [ARGS...]

A local throwaway PostgreSQL 15 cluster for promoledger.

Commands:
  up             initdb if needed, start the server, create database
                 'promoledger' if missing; prints the libpq connection string.
                 A no-op (exit 0) if the cluster is already running.
  down           fast shutdown (exit 0 if it was not running)
  status         says whether the cluster runs; exit 0 running, 3 not running
  psql [ARGS...] psql against the cluster (database promoledger unless ARGS
                 say otherwise; PGHOST/PGPORT/PGUSER/PGDATABASE are set)
  url            prints the libpq connection string
  help           this text

Environment:
  PROMOLEDGER_PGDATA  data directory
                      (default: /tmp/promoledger-pg-<uid>-<hash of repo path>)
  PROMOLEDGER_PGPORT  TCP port on 127.0.0.1 (default: 54329)
  PROMOLEDGER_PGBIN   PostgreSQL binaries (default: /usr/lib/postgresql/15/bin)

Run as root, the server runs as OS user 'postgres' (initdb/postgres refuse
root); run as another user, it runs as that user. Authentication is 'trust'
and the server listens on 127.0.0.1 only. The server log is <data dir>/server.log.
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 1; }
info() { echo "$PROG: $*" >&2; }

# ---------------------------------------------------------------- settings
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd -P)
REPO_HASH=$(printf '%s' "$REPO_DIR" | sha256sum | cut -c1-8)

PGBIN=${PROMOLEDGER_PGBIN:-/usr/lib/postgresql/15/bin}
PORT=${PROMOLEDGER_PGPORT:-54329}
HOST=127.0.0.1
DBUSER=postgres
DBNAME=promoledger
PGDATA_DIR=${PROMOLEDGER_PGDATA:-/tmp/promoledger-pg-$(id -u)-$REPO_HASH}
CONF_NAME=promoledger.conf
LOGFILE_NAME=server.log

if ! [[ $PORT =~ ^[0-9]+$ ]] || ((10#$PORT < 1024 || 10#$PORT > 65535)); then
  die "PROMOLEDGER_PGPORT='$PORT' is not a port number in 1024..65535"
fi
PORT=$((10#$PORT))

# Absolute path (relative values are taken relative to the current directory).
[[ $PGDATA_DIR == /* ]] || PGDATA_DIR="$PWD/$PGDATA_DIR"
PGDATA_DIR=$(realpath -m -- "$PGDATA_DIR")
# The path goes into postgresql.conf (unix_socket_directories is a comma list)
# and into a unix socket path (at most 107 bytes on Linux).
[[ $PGDATA_DIR =~ ^[A-Za-z0-9/._+@=-]+$ ]] \
  || die "data directory '$PGDATA_DIR' contains unsupported characters (allowed: letters, digits, / . _ + @ = -); set PROMOLEDGER_PGDATA"
SOCKET_PATH="$PGDATA_DIR/.s.PGSQL.$PORT"
((${#SOCKET_PATH} <= 107)) \
  || die "data directory '$PGDATA_DIR' is too long: the socket path $SOCKET_PATH exceeds 107 bytes; set a shorter PROMOLEDGER_PGDATA"

LOGFILE="$PGDATA_DIR/$LOGFILE_NAME"
CONNINFO="host=$HOST port=$PORT user=$DBUSER dbname=$DBNAME"

# ---------------------------------------------------------------- helpers
need_bin() {
  local b
  for b in "$@"; do
    [[ -x $PGBIN/$b ]] || die "$PGBIN/$b not found: install PostgreSQL 15 (scripts/install-deps.sh) or set PROMOLEDGER_PGBIN"
  done
}

# OS user that owns/runs the cluster: the owner of an existing data directory;
# for a new one, 'postgres' when we are root, else ourselves.
server_user() {
  local owner
  if [[ -e $PGDATA_DIR ]]; then
    owner=$(stat -c %U -- "$PGDATA_DIR") || die "cannot stat $PGDATA_DIR"
    if [[ $owner == root ]]; then
      die "data directory $PGDATA_DIR is owned by root; PostgreSQL refuses to run as root (remove it or chown it to postgres)"
    fi
    if ((EUID != 0)) && [[ $owner != "$(id -un)" ]]; then
      die "data directory $PGDATA_DIR is owned by '$owner', not by you ($(id -un)); use another PROMOLEDGER_PGDATA"
    fi
    echo "$owner"
  elif ((EUID == 0)); then
    id -u postgres >/dev/null 2>&1 \
      || die "running as root, but OS user 'postgres' does not exist (install postgresql-15, or run as a non-root user)"
    echo postgres
  else
    id -un
  fi
}

# Runs a server-side command (initdb, pg_ctl) as the server's OS user, from /
# so an unreadable current directory (e.g. /root) does not matter.
as_server() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$SERVER_USER" -- "$@" 9>&-)
  else
    (cd / && "$@" 9>&-)
  fi
}

# pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
pg_status() {
  local rc=0
  as_server "$PGBIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1 || rc=$?
  return "$rc"
}

initialized() { [[ -f $PGDATA_DIR/PG_VERSION ]]; }

# Sets SERVER_USER; fails early (with a clear message) if an existing data
# directory belongs to someone we cannot act for.
resolve_server_user() { SERVER_USER=$(server_user) || exit 1; }

running_pid() { head -n1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true; }
# Port the running postmaster listens on (4th line of postmaster.pid).
running_port() { sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true; }

export_client_env() {
  export PGHOST=$HOST PGPORT=$PORT PGUSER=$DBUSER PGDATABASE=$DBNAME
  unset PGSERVICE PGSERVICEFILE PGHOSTADDR PGPASSWORD PGSSLMODE PGOPTIONS
}

# Fails if something else listens on 127.0.0.1:$PORT (or on all addresses).
check_port_free() {
  local who=""
  if command -v ss >/dev/null 2>&1; then
    who=$(ss -Hltnp "( sport = :$PORT )" 2>/dev/null \
      | awk -v p=":$PORT" '$4 == "127.0.0.1" p || $4 == "0.0.0.0" p || $4 == "*" p || $4 == "[::]" p || $4 == "[::ffff:127.0.0.1]" p' || true)
  fi
  if [[ -z $who ]] && (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
    who="(something accepts connections)"
  fi
  if [[ -n $who ]]; then
    die "port $PORT on $HOST is already in use by another program, not by this cluster ($PGDATA_DIR):
$who
Stop that program or choose another port: PROMOLEDGER_PGPORT=<port> scripts/pg.sh up"
  fi
}

# Serialise concurrent up/down on the same data directory (best effort).
# fd 9 holds the lock; as_server closes it so the postmaster does not inherit it.
take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  local lock="$PGDATA_DIR.lock"
  if { exec 9>>"$lock"; } 2>/dev/null; then
    flock -w 120 9 || die "timed out after 120 s waiting for lock $lock (another pg.sh up/down running?)"
  fi
}

write_settings() {
  local conf="$PGDATA_DIR/$CONF_NAME" tmp
  tmp=$(mktemp) || die "mktemp failed"
  cat >"$tmp" <<EOF
# Written by scripts/pg.sh on every 'up'; edits here are overwritten.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$PGDATA_DIR'
max_connections = 100
shared_buffers = 256MB
fsync = on
synchronous_commit = on
shared_preload_libraries = 'pg_stat_statements'
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  # The data directory is only writable by its owner (the server user).
  as_server tee "$conf" <"$tmp" >/dev/null || { rm -f "$tmp"; die "could not write $conf"; }
  rm -f "$tmp"
  if ! grep -q "^include_if_exists = '$CONF_NAME'" "$PGDATA_DIR/postgresql.conf" 2>/dev/null; then
    printf "\n# promoledger settings (scripts/pg.sh)\ninclude_if_exists = '%s'\n" "$CONF_NAME" \
      | as_server tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null \
      || die "could not append to $PGDATA_DIR/postgresql.conf"
  fi
}

do_initdb() {
  local created=0 out
  if [[ -e $PGDATA_DIR ]]; then
    [[ -d $PGDATA_DIR ]] || die "$PGDATA_DIR exists but is not a directory"
    if [[ -n $(ls -A -- "$PGDATA_DIR" 2>/dev/null) ]]; then
      die "$PGDATA_DIR exists, is not empty and is not a PostgreSQL data directory (no PG_VERSION); remove it or set PROMOLEDGER_PGDATA"
    fi
  elif ((EUID == 0)); then
    mkdir -p -- "$PGDATA_DIR" || die "could not create $PGDATA_DIR"
    created=1
    if ! chown "$SERVER_USER:" -- "$PGDATA_DIR" || ! chmod 0700 -- "$PGDATA_DIR"; then
      die "could not chown $PGDATA_DIR to $SERVER_USER"
    fi
  fi
  # As root, the server user must be able to reach the directory (/root/... is not).
  if ((EUID == 0)) && ! runuser -u "$SERVER_USER" -- test -x "$PGDATA_DIR" -a -w "$PGDATA_DIR"; then
    ((created)) && rmdir -- "$PGDATA_DIR" 2>/dev/null
    die "OS user '$SERVER_USER' cannot reach $PGDATA_DIR (a parent directory is not traversable, e.g. /root); set PROMOLEDGER_PGDATA to a path under /tmp"
  fi
  info "initdb: creating cluster in $PGDATA_DIR (OS user $SERVER_USER)"
  if ! out=$(as_server "$PGBIN/initdb" -D "$PGDATA_DIR" --locale=C -E UTF8 \
      --auth=trust -U "$DBUSER" 2>&1); then
    echo "$out" >&2
    die "initdb failed for $PGDATA_DIR (output above)"
  fi
}

ensure_database() {
  export_client_env
  local exists
  exists=$("$PGBIN/psql" -X -q -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'" 2>&1) \
    || die "cannot query the server on $HOST:$PORT: $exists"
  if [[ $exists != 1 ]]; then
    info "creating database $DBNAME"
    local out
    out=$("$PGBIN/psql" -X -q -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE DATABASE $DBNAME" 2>&1) \
      || die "could not create database $DBNAME on $HOST:$PORT: $out"
  fi
}

# ---------------------------------------------------------------- commands
cmd_up() {
  need_bin initdb pg_ctl psql
  resolve_server_user
  take_lock

  if initialized; then
    local st=0
    pg_status || st=$?
    if ((st == 0)); then
      local rport
      rport=$(running_port)
      if [[ -n $rport && $rport != "$PORT" ]]; then
        die "cluster $PGDATA_DIR is already running, but on port $rport, not $PORT; run 'scripts/pg.sh down' first (with the same PROMOLEDGER_PGDATA)"
      fi
      info "already running (pid $(running_pid)) on $HOST:$PORT, data $PGDATA_DIR"
      ensure_database
      echo "$CONNINFO"
      return 0
    fi
    ((st == 3)) || die "pg_ctl status failed (code $st) for $PGDATA_DIR; is it readable by OS user $SERVER_USER?"
    local ver
    ver=$(cat "$PGDATA_DIR/PG_VERSION")
    [[ $ver == 15 ]] || die "$PGDATA_DIR holds a PostgreSQL $ver cluster, not 15; remove it or set PROMOLEDGER_PGDATA"
    check_port_free
  else
    check_port_free
    do_initdb
  fi

  write_settings
  info "starting server on $HOST:$PORT (data $PGDATA_DIR, log $LOGFILE)"
  local out
  if ! out=$(as_server "$PGBIN/pg_ctl" start -w -t 60 -D "$PGDATA_DIR" -l "$LOGFILE" 2>&1); then
    echo "$out" >&2
    if [[ -f $LOGFILE ]]; then
      echo "--- last lines of $LOGFILE:" >&2
      tail -n 20 "$LOGFILE" >&2 || true
    fi
    die "pg_ctl start failed for $PGDATA_DIR on port $PORT (see above and $LOGFILE)"
  fi
  ensure_database
  info "running (pid $(running_pid)); stop with: scripts/pg.sh down"
  echo "$CONNINFO"
}

cmd_down() {
  resolve_server_user
  if ! initialized; then
    info "no cluster in $PGDATA_DIR; nothing to stop"
    return 0
  fi
  need_bin pg_ctl
  take_lock
  local st=0
  pg_status || st=$?
  if ((st == 3)); then
    info "not running ($PGDATA_DIR)"
    return 0
  fi
  ((st == 0)) || die "pg_ctl status failed (code $st) for $PGDATA_DIR"
  local out
  if ! out=$(as_server "$PGBIN/pg_ctl" stop -m fast -w -t 60 -D "$PGDATA_DIR" 2>&1); then
    echo "$out" >&2
    die "pg_ctl stop failed for $PGDATA_DIR (see $LOGFILE)"
  fi
  info "stopped ($PGDATA_DIR)"
}

cmd_status() {
  resolve_server_user
  if ! initialized; then
    echo "not running: no cluster in $PGDATA_DIR (run: scripts/pg.sh up)"
    return 3
  fi
  need_bin pg_ctl
  local st=0
  pg_status || st=$?
  case $st in
    0) echo "running: pid $(running_pid), $HOST:$(running_port), data $PGDATA_DIR, OS user $SERVER_USER"
       return 0 ;;
    3) echo "not running: data $PGDATA_DIR (run: scripts/pg.sh up)"
       return 3 ;;
    *) die "pg_ctl status failed (code $st) for $PGDATA_DIR" ;;
  esac
}

cmd_psql() {
  need_bin psql
  resolve_server_user
  if ! initialized; then
    die "no cluster in $PGDATA_DIR; run 'scripts/pg.sh up' first"
  fi
  pg_status || die "the cluster in $PGDATA_DIR is not running; run 'scripts/pg.sh up' first"
  export_client_env
  exec "$PGBIN/psql" "$@"
}

case "${1:-}" in
  up)     shift; (($# == 0)) || die "'up' takes no arguments"; cmd_up ;;
  down)   shift; (($# == 0)) || die "'down' takes no arguments"; cmd_down ;;
  status) shift; (($# == 0)) || die "'status' takes no arguments"; st=0; cmd_status || st=$?; exit "$st" ;;
  psql)   shift; cmd_psql "$@" ;;
  url)    shift; (($# == 0)) || die "'url' takes no arguments"; echo "$CONNINFO" ;;
  help|-h|--help) usage ;;
  "")     usage >&2; exit 2 ;;
  *)      echo "$PROG: error: unknown command '$1'" >&2; usage >&2; exit 2 ;;
esac
