# Shared by scripts/test and scripts/bench (sourced, not run): find, install if needed, start and
# stop a throwaway PostgreSQL cluster.
#
# start_postgres [SERVER OPTIONS]: starts a private cluster from the server binaries on this
# machine, as the `postgres` user when run as root (PostgreSQL refuses to run as root), on a free
# loopback port, with its data in a temp directory. Where the binaries are missing and we are root
# on Debian/Ubuntu, it installs them (apt-get install -y postgresql); otherwise it stops and says
# what to install. SERVER OPTIONS (one string of `-c name=value` settings) default to the test
# suite's fast, non-durable settings. It sets:
#   PG_ADMIN_URL  postgres://postgres@127.0.0.1:PORT/postgres (trust authentication)
#   PG_BIN        the directory of the server binaries (pgbench is there too)
# stop_postgres: stops the cluster and removes its directory (safe to call when none was started).

step() { printf '\n==> %s\n' "$*" >&2; }

find_postgres_bin() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $(( 20000 + RANDOM % 20000 ))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

start_postgres() {
  local settings=${1:-"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"}
  local bin
  if ! bin=$(find_postgres_bin); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      step "PostgreSQL server not found: installing it (apt-get install -y postgresql)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      bin=$(find_postgres_bin) || { echo "PostgreSQL installed but initdb not found" >&2; exit 1; }
    else
      cat >&2 <<'MSG'
PostgreSQL server binaries (initdb, pg_ctl) are required (the PostgreSQL half of the suite and of
the benchmark). Install them (Debian/Ubuntu: sudo apt-get install -y postgresql) and run the
script again. scripts/test also accepts CASELEDGER_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/postgres,
a cluster where USER may CREATE DATABASE.
MSG
      exit 1
    fi
  fi
  PG_TMP=$(mktemp -d /tmp/caseledger-pg.XXXXXX)
  local port run=()
  port=$(free_port)
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_TMP"
    run=(runuser -u postgres --)
  fi
  step "starting a throwaway PostgreSQL ($("$bin/postgres" --version)) on 127.0.0.1:$port"
  "${run[@]}" "$bin/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 --no-sync >"$PG_TMP/initdb.log" 2>&1 \
    || { cat "$PG_TMP/initdb.log" >&2; exit 1; }
  "${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP $settings" \
    start >/dev/null || { cat "$PG_TMP/server.log" >&2; exit 1; }
  PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop)
  PG_ADMIN_URL="postgres://postgres@127.0.0.1:$port/postgres"
  PG_BIN=$bin
}

stop_postgres() {
  if [ -n "${PG_TMP:-}" ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}
