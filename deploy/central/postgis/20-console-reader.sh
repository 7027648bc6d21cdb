#!/bin/sh
# Run once by the PostGIS image when it initialises an empty data directory (after its own 10_postgis.sh): the
# console's login, which may read the season store and nothing else. The ingest worker owns the tables (it logs in as
# POSTGRES_USER and creates them); every table it creates in schema public is readable by the console.
set -eu
: "${CONSOLE_PASSWORD:?CONSOLE_PASSWORD is not set: key 'console' of the Secret treescout-central-postgis}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" -v console_password="$CONSOLE_PASSWORD" <<'SQL'
CREATE ROLE treescout_console LOGIN PASSWORD :'console_password';
GRANT CONNECT ON DATABASE :"db" TO treescout_console;
GRANT USAGE ON SCHEMA public TO treescout_console;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO treescout_console;
ALTER ROLE treescout_console SET default_transaction_read_only = on;
SQL
