//! The one interface every queue driver implements. The retry policy, the
//! worker pools and the metrics sit above it (in `Queue` and `Workers`), so a
//! driver only stores, hands out and settles jobs.

use std::time::Duration;

use async_trait::async_trait;
use rocket_store::Tx;

use crate::job::{DeadJob, Enqueued, Job, JobId, KindStats, NewJob};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A bounded queue is full: the caller answers 503 + Retry-After.
    #[error("queue is full ({0} jobs)")]
    Full(usize),
    /// The broker or database cannot be reached right now.
    #[error("{driver} unavailable: {message}")]
    Unavailable { driver: &'static str, message: String },
    /// The driver cannot do this (e.g. the memory driver has no outbox).
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, QueueError>;

impl From<rocket_store::StoreError> for QueueError {
    fn from(e: rocket_store::StoreError) -> Self {
        use rocket_store::StoreErrorKind as K;
        match e.kind {
            K::PoolTimeout | K::Closed => QueueError::Unavailable {
                driver: "database",
                message: e.message,
            },
            _ => QueueError::Other(e.message),
        }
    }
}

impl From<QueueError> for rocket_error::Error {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Full(_) | QueueError::Unavailable { .. } => {
                rocket_error::Error::overloaded(e.to_string())
            }
            other => rocket_error::Error::internal(other),
        }
    }
}

/// Storage and hand-out of jobs for one app.
///
/// Guarantees every implementation keeps (the conformance suite checks them):
/// - a job is handed to one consumer at a time until acked, nacked or its
///   visibility timeout passes; then it is handed out again (at-least-once);
/// - `run_at` in the future keeps a job back until then;
/// - a live job's dedupe key (per kind) suppresses a second enqueue;
/// - `reserve` increments `attempt` on every hand-out, so a job whose consumer
///   keeps dying still reaches its maximum and is dead-lettered.
#[async_trait]
pub trait Driver: Send + Sync + 'static {
    /// `memory`, `sqlite`, `postgres`, `redis` or `rabbitmq`.
    fn name(&self) -> &'static str;

    /// Whether jobs survive a restart of this process.
    fn durable(&self) -> bool;

    /// Enqueues jobs; one answer per job, in order.
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>>;

    /// Records jobs inside an open transaction of the app's database (the
    /// outbox): they exist if and only if `tx` commits. Database drivers write
    /// the job itself; broker drivers write an outbox row that their relay
    /// publishes after commit.
    async fn enqueue_in(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<()>;

    /// Called after a transaction that used `enqueue_in` committed: wakes
    /// consumers or the relay without waiting for a poll.
    fn committed(&self) {}

    /// Hands out up to `max` due jobs of `kind`, invisible to others for
    /// `visibility`.
    async fn reserve(&self, kind: &str, max: usize, visibility: Duration) -> Result<Vec<Job>>;

    /// Waits until jobs of `kind` may be due (a wake-up, a due delayed job) or
    /// `timeout` passes, whichever is first. A spurious return is allowed.
    async fn wait(&self, kind: &str, timeout: Duration);

    /// The job is done: it is removed (and its dedupe key freed).
    async fn ack(&self, job: &Job) -> Result<()>;

    /// Several jobs are done; drivers that can settle a batch in one round
    /// trip override this.
    async fn ack_many(&self, jobs: &[Job]) -> Result<()> {
        for j in jobs {
            self.ack(j).await?;
        }
        Ok(())
    }

    /// The attempt failed: hand the job out again at `retry_at` (epoch ms).
    async fn retry(&self, job: &Job, error: &str, retry_at: i64) -> Result<()>;

    /// The job is dead: keep payload and error for the admin API.
    async fn bury(&self, job: &Job, error: &str) -> Result<()>;

    /// Counts per kind, including kinds that have only dead jobs.
    async fn stats(&self) -> Result<Vec<KindStats>>;

    /// Dead jobs, newest first, optionally of one kind.
    async fn dead(&self, kind: Option<&str>, limit: usize) -> Result<Vec<DeadJob>>;

    /// Moves dead jobs back to ready with fresh attempts: one by id, or all
    /// (of a kind) when `id` is None. Returns how many moved.
    async fn requeue_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64>;

    /// Deletes dead jobs: one by id, or all (of a kind). Returns how many.
    async fn delete_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64>;

    /// Stops background tasks (relays, listeners); jobs stay where they are.
    async fn close(&self) {}
}
