#!/bin/sh
# One-shot (docker-compose service temporal-schema, image temporalio/admin-tools): creates the
# Temporal persistence and visibility databases on temporal-db and brings their schemas to the
# version this admin-tools release ships. Safe to run on every `docker compose up`:
#   create         fails when the database exists: that is fine, it is tolerated below
#   setup-schema   -v 0.0 is skipped once a newer schema version is recorded
#   update-schema  applies only the versions not yet applied (server upgrades: bump both images)
# Env: TEMPORAL_DB_HOST, TEMPORAL_DB_PORT, TEMPORAL_DB_USER, SQL_PASSWORD (read by temporal-sql-tool).
set -eu

host="${TEMPORAL_DB_HOST:-temporal-db}"
port="${TEMPORAL_DB_PORT:-5432}"
user="${TEMPORAL_DB_USER:-temporal}"
schema_dir=/etc/temporal/schema/postgresql/v12

sql() { temporal-sql-tool --plugin postgres12 --ep "$host" -p "$port" -u "$user" "$@"; }

echo "waiting for postgres at $host:$port ..."
i=0
until nc -z "$host" "$port"; do
  i=$((i + 1))
  [ "$i" -lt 60 ] || { echo "postgres at $host:$port did not open within 60 s" >&2; exit 1; }
  sleep 1
done

for db in temporal:temporal temporal_visibility:visibility; do
  name="${db%%:*}"
  dir="$schema_dir/${db##*:}/versioned"
  sql --db "$name" create 2>/dev/null && echo "created database $name" || echo "database $name exists"
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$dir"
done
echo "temporal schema is up to date"
