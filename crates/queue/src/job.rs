//! The values every driver speaks: a job to enqueue, a reserved job, a dead
//! letter and per-kind counts. Times are Unix epoch milliseconds so they
//! compare the same in every store and broker.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Deliveries before dead-lettering when neither the job nor its kind says.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// A job's stable id: the same on every delivery, so consumers can dedupe.
/// UUID v7, so ids sort by enqueue time.
pub type JobId = Uuid;

/// What a subsystem hands to the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Not before this time (epoch ms); `now` when not delayed.
    pub run_at: i64,
    /// While a job with this key (and kind) is pending, delayed or in flight,
    /// enqueueing another one with it is a no-op.
    pub dedupe_key: Option<String>,
    /// Deliveries before the job is dead-lettered; None = the kind's policy.
    pub max_attempts: Option<u32>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> NewJob {
        NewJob {
            id: Uuid::now_v7(),
            kind: kind.into(),
            payload,
            run_at: now_ms(),
            dedupe_key: None,
            max_attempts: None,
        }
    }

    pub fn delay(mut self, d: std::time::Duration) -> NewJob {
        self.run_at = now_ms().saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self
    }

    pub fn run_at(mut self, epoch_ms: i64) -> NewJob {
        self.run_at = epoch_ms;
        self
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> NewJob {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn max_attempts(mut self, n: u32) -> NewJob {
        self.max_attempts = Some(n.max(1));
        self
    }
}

/// The answer to an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    New(JobId),
    /// A live job with the same dedupe key exists; this is its id when the
    /// driver knows it (the id of the job that was kept).
    Duplicate(Option<JobId>),
}

impl Enqueued {
    pub fn is_new(&self) -> bool {
        matches!(self, Enqueued::New(_))
    }
}

/// A reserved job: invisible to other consumers until acked, nacked or its
/// visibility timeout passes.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Deliveries so far, this one included (1 on the first).
    pub attempt: u32,
    pub max_attempts: u32,
    /// When the job was first enqueued (epoch ms).
    pub enqueued_at: i64,
    /// When it became due (epoch ms): enqueue-to-start latency is measured from here.
    pub run_at: i64,
    pub dedupe_key: Option<String>,
    /// The driver's handle on this delivery (a lease token, a stream entry
    /// id, a delivery tag); ack and nack present it back.
    pub receipt: String,
}

/// A job that used up its attempts, kept with its payload and last error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadJob {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub last_error: String,
    pub enqueued_at: i64,
    pub died_at: i64,
}

/// Counts for one kind (or for all kinds, with `kind` empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindStats {
    pub kind: String,
    /// Due and waiting for a consumer.
    pub ready: u64,
    /// Not due yet.
    pub delayed: u64,
    /// Reserved and not yet acked.
    pub in_flight: u64,
    pub dead: u64,
}
