//! Fixed statements on `_jobs` that read the same in both dialects
//! (`$n` placeholders; store rewrites them for SQLite). The one statement
//! that differs, the batch reservation, lives in each driver's file.

pub const INSERT: &str = "INSERT INTO _jobs (id, kind, payload, state, attempts, max_attempts, visible_at, due_at, dedupe_key, enqueued_at, updated_at) \
     VALUES ($1, $2, $3, 'ready', 0, $4, $5, $5, $6, $7, $7) ON CONFLICT DO NOTHING";

pub const DUPLICATE_OF: &str = "SELECT id FROM _jobs WHERE kind = $1 AND dedupe_key = $2 AND state <> 'dead'";

pub const ACK: &str = "DELETE FROM _jobs WHERE id = $1 AND lease = $2";

pub const RETRY: &str = "UPDATE _jobs SET state = 'ready', visible_at = $1, due_at = $1, lease = NULL, last_error = $2, updated_at = $3 \
     WHERE id = $4 AND lease = $5";

pub const BURY: &str = "UPDATE _jobs SET state = 'dead', lease = NULL, last_error = $1, updated_at = $2 WHERE id = $3 AND lease = $4";

/// The earliest time a job of a kind can be handed out (due or lease end).
pub const NEXT_VISIBLE: &str =
    "SELECT MIN(visible_at) AS next FROM _jobs WHERE kind = $1 AND state <> 'dead'";

pub const STATS: &str = "SELECT kind, \
     SUM(CASE WHEN state = 'ready' AND visible_at <= $1 THEN 1 ELSE 0 END) AS ready, \
     SUM(CASE WHEN state = 'ready' AND visible_at > $1 THEN 1 ELSE 0 END) AS delayed, \
     SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END) AS in_flight, \
     SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead \
     FROM _jobs GROUP BY kind ORDER BY kind";

pub const DEAD: &str = "SELECT id, kind, payload, attempts, last_error, enqueued_at, updated_at FROM _jobs \
     WHERE state = 'dead' AND (CAST($1 AS TEXT) IS NULL OR kind = $1) ORDER BY updated_at DESC, id DESC LIMIT $2";

/// Requeued jobs start over; their dedupe key is dropped, since a live job
/// may have taken it meanwhile.
pub const REQUEUE: &str = "UPDATE _jobs SET state = 'ready', attempts = 0, visible_at = $1, due_at = $1, lease = NULL, \
     dedupe_key = NULL, last_error = NULL, updated_at = $1 \
     WHERE state = 'dead' AND (CAST($2 AS TEXT) IS NULL OR kind = $2) AND (CAST($3 AS TEXT) IS NULL OR id = $3)";

pub const DELETE_DEAD: &str =
    "DELETE FROM _jobs WHERE state = 'dead' AND (CAST($1 AS TEXT) IS NULL OR kind = $1) \
     AND (CAST($2 AS TEXT) IS NULL OR id = $2)";
