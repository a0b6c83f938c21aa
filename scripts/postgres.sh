#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server to use, starting a throwaway one if needed.
#
#   scripts/postgres.sh ensure   use TRELLIS_POSTGRES_URL (default: the local server on
#                                127.0.0.1:5432) when it answers; otherwise start a cluster in
#                                .pg/ on port 55432 and use that. Prints the admin URL.
#   scripts/postgres.sh stop     stop the throwaway cluster, if it runs.
#
# initdb refuses to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
pgdir="$root/.pg"
port="${TRELLIS_THROWAWAY_PG_PORT:-55432}"
configured="${TRELLIS_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
throwaway="postgres://postgres@127.0.0.1:${port}/postgres"

find_bin() {
  command -v "$1" 2>/dev/null || ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}

answers() {
  pg_isready -q -d "$1" -t 2 >/dev/null 2>&1 && psql "$1" -qAtc 'SELECT 1' >/dev/null 2>&1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_throwaway() {
  local initdb pg_ctl
  initdb="$(find_bin initdb)"
  pg_ctl="$(find_bin pg_ctl)"
  if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
    echo "no PostgreSQL answers at $configured and no initdb/pg_ctl is installed" >&2
    exit 1
  fi
  mkdir -p "$pgdir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$pgdir"
  fi
  if [ ! -f "$pgdir/data/PG_VERSION" ]; then
    echo "initialising a throwaway PostgreSQL cluster in $pgdir/data" >&2
    as_owner "$initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  fi
  echo "starting the throwaway PostgreSQL on 127.0.0.1:$port" >&2
  as_owner "$pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pgdir -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
}

case "${1:-ensure}" in
  ensure)
    if answers "$configured"; then
      echo "$configured"
    elif answers "$throwaway"; then
      echo "$throwaway"
    else
      start_throwaway
      answers "$throwaway" || { echo "the throwaway PostgreSQL did not come up; see $pgdir/postgres.log" >&2; exit 1; }
      echo "$throwaway"
    fi
    ;;
  stop)
    if [ -f "$pgdir/data/postmaster.pid" ]; then
      as_owner "$(find_bin pg_ctl)" -D "$pgdir/data" -m fast stop >/dev/null
      echo "stopped the throwaway PostgreSQL" >&2
    fi
    ;;
  *)
    echo "usage: $0 ensure|stop" >&2
    exit 2
    ;;
esac
