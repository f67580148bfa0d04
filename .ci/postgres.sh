#!/usr/bin/env bash
# Start a throwaway PostgreSQL server (Debian's package) for the tests and print its SQLAlchemy URL.
# Usage: eval "$(bash .ci/postgres.sh)"   → exports BELLWETHER_TEST_POSTGRES_URL
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
port=${BELLWETHER_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
data=$(mktemp -d /tmp/bellwether-pg.XXXXXX)
chown postgres: "$data"
runuser -u postgres -- "$bin/initdb" -D "$data/db" -A trust -U postgres >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$data/db" -l "$data/log" -w -o "-p $port -k $data -c listen_addresses=127.0.0.1" start >/dev/null
runuser -u postgres -- "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres bellwether
echo "export BELLWETHER_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/bellwether"
