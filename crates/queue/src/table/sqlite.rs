//! The `sqlite` driver's own statement and wake-ups: the embedded default.
//! SQLite has one writer, so the reservation needs no row locks; this process
//! is the only one using the file, so wake-ups are in-process.

/// Reserve a batch: due jobs of a kind, oldest first, leased for `$2`.
pub const RESERVE: &str = "UPDATE _jobs SET state = 'running', attempts = attempts + 1, lease = $1, visible_at = $2, updated_at = $3 \
     WHERE id IN (SELECT id FROM _jobs WHERE kind = $4 AND state <> 'dead' AND visible_at <= $3 ORDER BY visible_at LIMIT $5) \
     RETURNING id, kind, payload, attempts, max_attempts, enqueued_at, due_at, dedupe_key";

/// Settle a batch: ids and leases as JSON arrays.
pub const ACK_MANY: &str = "DELETE FROM _jobs WHERE id IN (SELECT value FROM json_each($1)) \
     AND lease IN (SELECT value FROM json_each($2))";
