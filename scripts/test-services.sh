#!/usr/bin/env bash
# Start the throwaway services the test suite needs (PostgreSQL on 127.0.0.1:5433) and print
# the environment to use them: eval "$(scripts/test-services.sh)". Debian/Ubuntu, run as root.
set -euo pipefail

PGPORT="${GROUPOPS_TEST_PGPORT:-5433}"
PGDIR="${GROUPOPS_TEST_PGDIR:-/tmp/groupops-test-pg}"

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  echo "$bin"
}

start_postgres() {
  local bin; bin=$(pg_bin)
  if [ ! -f "$PGDIR/PG_VERSION" ]; then
    rm -rf "$PGDIR"; mkdir -p "$PGDIR"; chown postgres:postgres "$PGDIR"
    runuser -u postgres -- "$bin/initdb" -D "$PGDIR" -A trust -U postgres >/dev/null
  fi
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$PGDIR" status >/dev/null 2>&1; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDIR" -l "$PGDIR/server.log" -w \
      -o "-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  fi
}

start_postgres >&2
echo "export GROUPOPS_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:${PGPORT}/postgres"
if [ -x /usr/bin/chromium ]; then echo "export GROUPOPS_CHROMIUM=/usr/bin/chromium"; fi
