#!/usr/bin/env bash
# A throw-away PostgreSQL server for development and tests: a cluster under one base folder,
# listening on loopback only, with a database for tests. Needs no systemd and no
# pg_ctlcluster; when run as root, the server runs as the `postgres` user.
#
#   scripts/postgres-dev.sh start   install packages if missing (apt, as root), init, start
#   scripts/postgres-dev.sh status  say whether the server answers
#   scripts/postgres-dev.sh env     print `export EXPCTL_TEST_POSTGRES_URL=...`
#   scripts/postgres-dev.sh stop    stop this server and remove the base folder
#
# Settings (environment): EXPCTL_POSTGRES_DEV_DIR (base, default /tmp/expctl-postgres-dev),
# EXPCTL_POSTGRES_DEV_PORT (default 55432). Tests read EXPCTL_TEST_POSTGRES_URL, or the
# file $BASE/env this script writes.
set -euo pipefail

BASE=$(realpath -m "${EXPCTL_POSTGRES_DEV_DIR:-/tmp/expctl-postgres-dev}")
PORT=${EXPCTL_POSTGRES_DEV_PORT:-55432}
DATA=$BASE/data
ENV_FILE=$BASE/env
DATABASE=expctl_test
DB_USER=expctl
START_TIMEOUT=${EXPCTL_POSTGRES_DEV_TIMEOUT:-60}

log() { echo "postgres-dev: $*" >&2; }
die() { log "error: $*"; exit 1; }

# The newest installed server's bin folder (Debian keeps each major under its own folder).
pg_bin() {
    local dir
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n 1 || true)
    if [ -z "$dir" ] && command -v pg_ctl >/dev/null; then
        dir=$(dirname "$(command -v pg_ctl)")
    fi
    echo "$dir"
}

install_packages() {
    local bin
    bin=$(pg_bin)
    [ -n "$bin" ] && [ -x "$bin/initdb" ] && return 0
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; run as root or install postgresql"
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and there is no apt-get"
    log "installing postgresql"
    # Keep Debian's maintainer scripts from starting the packaged cluster.
    local policy=/usr/sbin/policy-rc.d added=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added=1
    fi
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql >/dev/null
    [ -n "$added" ] && rm -f "$policy"
    return 0
}

# Run a command as the server's owner: `postgres` when we are root (the server refuses root).
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

url() {
    echo "postgresql+psycopg://$DB_USER@127.0.0.1:$PORT/$DATABASE"
}

write_env() {
    {
        echo "export EXPCTL_TEST_POSTGRES_URL=$(url)"
        echo "export EXPCTL_POSTGRES_DEV_DIR=$BASE"
    } >"$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

server_up() {
    local bin
    bin=$(pg_bin)
    [ -n "$bin" ] && [ -f "$DATA/postmaster.pid" ] &&
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres 2>/dev/null &&
        as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

cmd_start() {
    install_packages
    local bin
    bin=$(pg_bin)
    if server_up; then
        log "already running (base $BASE)"
        write_env
        cat "$ENV_FILE"
        return 0
    fi
    stop_server quiet
    rm -rf "$BASE"
    mkdir -p "$BASE/socket"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$BASE"
    chmod 755 "$BASE"
    as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C >"$BASE/initdb.log" 2>&1 || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }
    # Loopback only, our own socket folder; fsync off: a test server's data is disposable.
    cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$BASE/socket'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t "$START_TIMEOUT" start \
        >/dev/null || { tail -n 20 "$BASE/server.log" >&2; die "server did not start"; }
    as_owner "$bin/psql" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE $DB_USER LOGIN CREATEDB" -c "CREATE DATABASE $DATABASE OWNER $DB_USER" \
        >/dev/null
    write_env
    log "ready: $(url) (base $BASE)"
    cat "$ENV_FILE"
}

stop_server() {
    local quiet=${1:-} bin
    bin=$(pg_bin)
    [ -n "$bin" ] && [ -f "$DATA/postmaster.pid" ] || return 0
    [ -n "$quiet" ] || log "stopping the server in $DATA"
    as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
        as_owner "$bin/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
}

cmd_stop() {
    if [ ! -d "$BASE" ]; then
        log "not running (no $BASE)"
        return 0
    fi
    stop_server
    rm -rf "$BASE"
    log "stopped"
}

cmd_status() {
    if server_up; then
        echo "running: $(url) (base $BASE)"
        return 0
    fi
    echo "not running"
    return 1
}

cmd_env() {
    [ -f "$ENV_FILE" ] || die "not running (no $ENV_FILE); run: $0 start"
    cat "$ENV_FILE"
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
