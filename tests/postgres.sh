#!/bin/sh
# Prints the address of a PostgreSQL for the tests (make test passes it in SMSGW_TEST_POSTGRES):
# the one on 127.0.0.1:5432 when it answers as user postgres (CI and the dev machines run
# PostgreSQL 15 there), else a cluster of our own on port 5433, made and started here, with
# Debian's postgresql installed first if its programs are missing. Progress goes to stderr.
set -eu
PYTHON=${PYTHON:-.venv/bin/python}
answers() {
    "$PYTHON" -c "import asyncio, asyncpg, sys; asyncio.run(asyncpg.connect(sys.argv[1], timeout=3))" "$1" 2>/dev/null
}
SHARED=postgresql://postgres@127.0.0.1:5432/postgres
OURS=postgresql://postgres@127.0.0.1:5433/postgres
if answers "$SHARED"; then echo "$SHARED"; exit 0; fi
if answers "$OURS"; then echo "$OURS"; exit 0; fi
echo "no PostgreSQL on 127.0.0.1:5432: starting one of our own on 5433" >&2
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        postgresql) >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
DATA=/tmp/smsgw-test-postgres-$(id -u)
# initdb will not run as root: the cluster then belongs to the postgres user Debian creates
if [ "$(id -u)" = 0 ]; then AS="runuser -u postgres --"; else AS=""; fi
if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ -z "$AS" ] || chown postgres "$DATA"
    $AS "$BIN/initdb" -D "$DATA" -U postgres -A trust >&2
fi
$AS "$BIN/pg_ctl" -D "$DATA" -l "$DATA/log" -w \
    -o "-p 5433 -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
echo "$OURS"
