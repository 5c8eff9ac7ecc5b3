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
port=${TRELLIS_PG_PORT:-}

# free_port prints the first port from 55433 on that nothing listens on at 127.0.0.1 (another
# test server, a developer's own PostgreSQL), so a busy default port never fails the tests.
free_port() {
  local p
  for p in $(seq 55433 55533); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"; return 0
    fi
  done
  echo "no free port in 55433-55533 on 127.0.0.1; set TRELLIS_PG_PORT" >&2
  return 1
}

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
  [ -n "$port" ] || port=$(free_port)
  su "$user" -s /bin/sh -c "$bin/initdb -D '$dir/data' -U postgres --auth=trust -E UTF8 >/dev/null"
  if ! su "$user" -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -l '$dir/log' -w -o \"-h 127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300\" start" >&2; then
    echo "PostgreSQL did not start on 127.0.0.1:$port; its log ($dir/log):" >&2
    tail -20 "$dir/log" >&2 || true
    exit 1
  fi
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
