#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server on 127.0.0.1 for tests.
#   hack/postgres.sh start [DIR]   installs PostgreSQL from apt when missing, starts a fresh
#                                  cluster in DIR (default /tmp/trellis-pg) and prints its DSN
#   hack/postgres.sh stop [DIR]    stops it
# The server runs as an unprivileged user (initdb refuses root), trusts local connections only
# and listens on 127.0.0.1 only.
set -euo pipefail
cmd=${1:-start}
dir=${2:-/tmp/trellis-pg}
port=${TRELLIS_PG_PORT:-55433}

pgbin() {
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

case "$cmd" in
start)
  if ! bin=$(pgbin); then
    echo "installing PostgreSQL from apt" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bin=$(pgbin)
  fi
  user=postgres
  id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home "$user"
  if [ -f "$dir/data/postmaster.pid" ]; then
    su "$user" -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -m fast stop" >&2 || true
  fi
  rm -rf "$dir"; mkdir -p "$dir"; chown "$user" "$dir"
  su "$user" -s /bin/sh -c "$bin/initdb -D '$dir/data' -U postgres --auth=trust -E UTF8 >/dev/null"
  su "$user" -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -l '$dir/log' -w -o \"-h 127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300\" start" >&2
  echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  ;;
stop)
  bin=$(pgbin) || exit 0
  [ -f "$dir/data/postmaster.pid" ] && su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -m fast stop" >&2
  exit 0
  ;;
*)
  echo "usage: hack/postgres.sh start|stop [DIR]" >&2; exit 2 ;;
esac
