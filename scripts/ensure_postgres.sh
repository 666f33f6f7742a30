#!/usr/bin/env bash
# A running PostgreSQL on 127.0.0.1 with a role and database for the store tests.
# Idempotent: installs Debian's postgresql (apt) only if missing, starts the first cluster
# only if it is down, creates the role and database only if absent. Needs root (or the
# postgres user) the first time. Prints the SQLAlchemy URL the tests use on its last line.
set -euo pipefail

ROLE="${SEEDSCOPE_PG_ROLE:-seedscope}"
PASSWORD="${SEEDSCOPE_PG_PASSWORD:-seedscope}"
DATABASE="${SEEDSCOPE_PG_DATABASE:-seedscope_test}"

as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "ensure_postgres: PostgreSQL is not installed and installing it needs root" >&2
        exit 1
    fi
    echo "ensure_postgres: installing postgresql (apt)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi

cluster="$(pg_lsclusters --no-header 2>/dev/null | head -n 1 || true)"
if [ -z "$cluster" ]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    echo "ensure_postgres: creating cluster $version/main" >&2
    pg_createcluster "$version" main >/dev/null
    cluster="$(pg_lsclusters --no-header | head -n 1)"
fi
read -r version name port status _ <<<"$cluster"
if [ "$status" != online ]; then
    echo "ensure_postgres: starting cluster $version/$name on port $port" >&2
    pg_ctlcluster "$version" "$name" start
fi

for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || {
    echo "ensure_postgres: server on 127.0.0.1:$port did not become ready" >&2
    exit 1
}

URL="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$port/$DATABASE"
if PGPASSWORD="$PASSWORD" psql -h 127.0.0.1 -p "$port" -U "$ROLE" -d "$DATABASE" -qtAX \
    -c "SELECT 1" >/dev/null 2>&1; then
    echo "$URL"  # role and database already work: nothing to do (and no root needed)
    exit 0
fi

psql_admin() { as_postgres psql -p "$port" -v ON_ERROR_STOP=1 -qtAX "$@"; }
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" ]; then
    psql_admin -c "CREATE ROLE \"$ROLE\" LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
    psql_admin -c "CREATE DATABASE \"$DATABASE\" OWNER \"$ROLE\""
fi

echo "$URL"
