//! The `postgres` driver's own statements: batch reservation with
//! `FOR UPDATE SKIP LOCKED` (consumers on many nodes never wait on each other
//! or take the same job), and LISTEN/NOTIFY wake-ups. NOTIFY inside the
//! enqueueing transaction is delivered at commit, so an outbox job wakes its
//! consumers exactly when it becomes visible.

use std::sync::Weak;
use std::time::Duration;

use crate::wake::Wakers;

/// The outer conditions are repeated so a row another reserver changed
/// between the scan and the lock is re-checked, not taken twice.
pub const RESERVE: &str = "UPDATE _jobs SET state = 'running', attempts = attempts + 1, lease = $1, visible_at = $2, updated_at = $3 \
     WHERE state <> 'dead' AND visible_at <= $3 AND id IN (SELECT id FROM _jobs WHERE kind = $4 AND state <> 'dead' AND visible_at <= $3 \
     ORDER BY visible_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
     RETURNING id, kind, payload, attempts, max_attempts, enqueued_at, due_at, dedupe_key";

/// Settle a batch in one round trip. Pairing ids and leases by set is
/// exact enough: a lease is a random token per reservation, and a row whose
/// current lease is another token in the set was reserved by that batch,
/// which is acking it too.
pub const ACK_MANY: &str = "DELETE FROM _jobs WHERE id = ANY($1) AND lease = ANY($2)";

/// Enqueue a batch without dedupe keys in one statement.
pub const INSERT_MANY: &str = "INSERT INTO _jobs (id, kind, payload, state, attempts, max_attempts, visible_at, due_at, enqueued_at, updated_at) \
     SELECT j.id, j.kind, j.payload, 'ready', 0, j.max_attempts, j.run_at, j.run_at, $6, $6 \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[]) AS j(id, kind, payload, max_attempts, run_at) \
     ON CONFLICT DO NOTHING";

/// Reservations and acks need not wait for the WAL flush: losing one in a
/// crash only makes the job visible again (a redelivery, which at-least-once
/// allows). Enqueues keep the full commit, so a job never disappears.
pub const RELAXED_COMMIT: &str = "SET LOCAL synchronous_commit TO off";

/// Payload: the job kind.
pub const NOTIFY: &str = "SELECT pg_notify('rocket_jobs', $1)";

const LISTEN: &str = "LISTEN rocket_jobs";

/// Holds one connection that LISTENs for new jobs and wakes the kind named in
/// each notification; reconnects after a loss and then wakes every kind (a
/// notification may have been missed while it was away).
pub async fn listen(config: tokio_postgres::Config, wakers: Weak<Wakers>) {
    let mut first = true;
    loop {
        match rocket_store::listen::subscribe(&config, LISTEN).await {
            Ok(mut sub) => {
                if !first {
                    match wakers.upgrade() {
                        Some(w) => w.wake_all(),
                        None => return,
                    }
                }
                first = false;
                while let Some(kind) = sub.next().await {
                    match wakers.upgrade() {
                        Some(w) => w.wake(&kind),
                        None => return,
                    }
                }
                tracing::warn!("queue: LISTEN connection lost; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "queue: listener cannot LISTEN; retrying"),
        }
        if wakers.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
