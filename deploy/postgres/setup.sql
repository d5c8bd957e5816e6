-- The gateway's PostgreSQL role and database. Run as a superuser (postgres), once per cluster,
-- with deploy/postgres/setup.sh, or by hand:
--
--   read -rs POS_DB_PASSWORD && export POS_DB_PASSWORD
--   psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -f deploy/postgres/setup.sql
--
-- PASSWORD: chosen by the operator (e.g. `openssl rand -hex 24`, which needs no escaping in the
-- POS_DATABASE_URL), read here from the environment variable POS_DB_PASSWORD by \getenv
-- (psql 15 or later), so it never appears on a command line or in this file. Never commit it.
-- It is sent in this statement, so keep log_statement below 'ddl' while this runs.
--
-- Only the role and the empty database are made here: the gateway creates its tables itself,
-- running its migrations (gateway/migrations/postgres) every time it starts.
-- Re-running this file is safe: it resets the password and creates only what is missing.

\set ON_ERROR_STOP on
\getenv pos_password POS_DB_PASSWORD
\if :{?pos_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'POS_DB_PASSWORD is not set: export the pos_gateway password first'; END $$;
\endif

SELECT 'CREATE ROLE pos_gateway LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pos_gateway') \gexec
ALTER ROLE pos_gateway WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pos_password';

-- UTF-8 for the Japanese names; C collation so text sorts by bytes (the journal's identifiers and
-- RFC 3339 instants) and indexes never depend on the operating system's locale data.
SELECT 'CREATE DATABASE pos_journal OWNER pos_gateway ENCODING ''UTF8'' LC_COLLATE ''C'' LC_CTYPE ''C'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pos_journal') \gexec
ALTER DATABASE pos_journal OWNER TO pos_gateway;
REVOKE ALL ON DATABASE pos_journal FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE pos_journal TO pos_gateway;
