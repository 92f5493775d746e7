-- Runs first in the migration transaction of every database (BEGIN IMMEDIATE
-- already holds the write lock, so concurrent bootstraps take turns).
CREATE TABLE IF NOT EXISTS _schema_migrations (
    schema_name TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (schema_name, version)
);
