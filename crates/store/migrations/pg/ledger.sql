-- Runs first in the migration transaction of every database. The advisory
-- lock (held until commit) makes nodes that bootstrap the same database at
-- once take turns, so no two create the same table concurrently.
SELECT pg_advisory_xact_lock(7236118001);
CREATE TABLE IF NOT EXISTS _schema_migrations (
    schema_name TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (schema_name, version)
);
