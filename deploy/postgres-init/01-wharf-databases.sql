-- One database per Wharf service (auth, registry, indexer; storage keeps its data in S3).
-- Run once by the postgres image's entrypoint (/docker-entrypoint-initdb.d) as POSTGRES_USER, which then owns
-- them. Idempotent (psql's \gexec), so it can also be run by hand against an existing server:
--   psql -v ON_ERROR_STOP=1 -h HOST -U postgres -d postgres -f deploy/postgres-init/01-wharf-databases.sql
SELECT 'CREATE DATABASE wharf_auth'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'wharf_auth')\gexec
SELECT 'CREATE DATABASE wharf_registry'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'wharf_registry')\gexec
SELECT 'CREATE DATABASE wharf_indexer'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'wharf_indexer')\gexec
