-- V2 (SQLite): the durable job queue and the transactional outbox; see the
-- PostgreSQL file beside this one for what each column means.
CREATE TABLE IF NOT EXISTS _jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'ready',
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    lease TEXT,
    dedupe_key TEXT,
    last_error TEXT,
    enqueued_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS _jobs_due ON _jobs (kind, visible_at) WHERE state <> 'dead';
CREATE INDEX IF NOT EXISTS _jobs_dead ON _jobs (kind, updated_at) WHERE state = 'dead';
CREATE UNIQUE INDEX IF NOT EXISTS _jobs_dedupe ON _jobs (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state <> 'dead';
CREATE TABLE IF NOT EXISTS _outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    claim TEXT,
    claimed_until INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS _queue_dedupe (
    kind TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, dedupe_key)
);
