-- V2 (PostgreSQL): the durable job queue and the transactional outbox.
-- Times are epoch milliseconds (BIGINT) so both dialects compare them alike.
-- _jobs: the `postgres` driver's jobs. A job is handed out when its state is
-- not 'dead' and visible_at has passed: a reserved ('running') job's
-- visible_at is its lease deadline, so an expired lease is due again.
CREATE TABLE IF NOT EXISTS _jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'ready',
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    visible_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    lease TEXT,
    dedupe_key TEXT,
    last_error TEXT,
    enqueued_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS _jobs_due ON _jobs (kind, visible_at) WHERE state <> 'dead';
CREATE INDEX IF NOT EXISTS _jobs_dead ON _jobs (kind, updated_at) WHERE state = 'dead';
CREATE UNIQUE INDEX IF NOT EXISTS _jobs_dedupe ON _jobs (kind, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state <> 'dead';
-- _outbox: jobs for an external broker (redis, rabbitmq), written in the
-- business transaction; the relay publishes them after commit and deletes a
-- row only once the broker confirmed it.
CREATE TABLE IF NOT EXISTS _outbox (
    seq BIGSERIAL PRIMARY KEY,
    job TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    claim TEXT,
    claimed_until BIGINT NOT NULL DEFAULT 0
);
-- _queue_dedupe: dedupe keys of live jobs for brokers without native dedupe
-- (rabbitmq). A row exists while its job is pending, delayed or in flight;
-- ack and bury delete it.
CREATE TABLE IF NOT EXISTS _queue_dedupe (
    kind TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    job_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, dedupe_key)
);
