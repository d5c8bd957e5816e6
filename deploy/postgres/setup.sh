#!/usr/bin/env bash
# Creates the gateway's role (pos_gateway) and database (pos_journal) with setup.sql.
#
#   deploy/postgres/setup.sh [HOST] [PORT]      defaults: 127.0.0.1 5432, as user postgres
#
# The superuser's password comes the usual libpq way (prompt, ~/.pgpass or PGPASSWORD); the new
# role's password from POS_DB_PASSWORD, or a silent prompt if that is not set. Needs psql 15+.
set -euo pipefail

host="${1:-127.0.0.1}"
port="${2:-5432}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ -z "${POS_DB_PASSWORD:-}" ]]; then
    read -rsp "password for the new role pos_gateway: " POS_DB_PASSWORD; echo
    read -rsp "again: " again; echo
    [[ "$POS_DB_PASSWORD" == "$again" ]] || { echo "the passwords differ" >&2; exit 1; }
    [[ -n "$POS_DB_PASSWORD" ]] || { echo "empty password" >&2; exit 1; }
fi
export POS_DB_PASSWORD

psql --host="$host" --port="$port" --username=postgres --dbname=postgres \
    --no-psqlrc --set=ON_ERROR_STOP=1 --file="$here/setup.sql"

echo "done. In /etc/pos/gateway.env (root, 0600):"
echo "  POS_DATABASE_URL='postgres://pos_gateway:<password>@$host:$port/pos_journal'"
