//! The transactional outbox for broker drivers (redis, rabbitmq): jobs are
//! written to `_outbox` in the app database inside the business transaction;
//! a relay publishes them after commit and deletes a row only once the broker
//! confirmed it. On start the relay drains what a crash left behind, so a
//! kill -9 between commit and publish loses nothing (it may publish a job
//! twice; the job id is stable, consumers dedupe).
//!
//! Rows are claimed with a token and a deadline (dialect-neutral, works for
//! several nodes): a relay that dies mid-publish leaves its claim to expire.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rocket_store::{Db, Tx, Value};
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::driver::{QueueError, Result};
use crate::job::{now_ms, NewJob};

const INSERT: &str = "INSERT INTO _outbox (job, created_at) VALUES ($1, $2)";
const CLAIM: &str = "UPDATE _outbox SET claim = $1, claimed_until = $2 \
     WHERE claimed_until < $3 AND seq IN (SELECT seq FROM _outbox WHERE claimed_until < $3 ORDER BY seq LIMIT $4) \
     RETURNING seq, job";
const DELETE: &str = "DELETE FROM _outbox WHERE claim = $1";
const RELEASE: &str = "UPDATE _outbox SET claim = NULL, claimed_until = 0 WHERE claim = $1";
const PENDING: &str = "SELECT COUNT(*) AS n FROM _outbox";

/// Where the relay sends what it claimed. Returns only once the broker has
/// confirmed every job (publisher confirms, a replicated write).
#[async_trait]
pub trait Publish: Send + Sync + 'static {
    async fn publish(&self, jobs: Vec<NewJob>) -> Result<()>;
}

/// Writes outbox rows and runs the relay task for one app database.
pub struct Outbox {
    db: Db,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[derive(Debug, Clone)]
pub struct RelayOptions {
    pub batch: usize,
    /// How long a claim holds before another relay may take the rows.
    pub claim_for: Duration,
    /// Safety poll when no commit woke the relay (rows from other nodes).
    pub poll: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            batch: 500,
            claim_for: Duration::from_secs(30),
            poll: Duration::from_secs(2),
        }
    }
}

impl Outbox {
    pub fn start(db: Db, target: Arc<dyn Publish>, opts: RelayOptions) -> Outbox {
        let wake = Arc::new(Notify::new());
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(relay(db.clone(), target, opts, wake.clone(), rx));
        Outbox {
            db,
            wake,
            stop,
            task: std::sync::Mutex::new(Some(task)),
        }
    }

    pub async fn write(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<()> {
        let now = now_ms();
        for job in jobs {
            let text = serde_json::to_string(job).map_err(|e| QueueError::Other(e.to_string()))?;
            tx.execute(INSERT, &[Value::Text(text), Value::Int(now)]).await?;
        }
        Ok(())
    }

    /// A transaction with outbox rows committed: publish now.
    pub fn committed(&self) {
        self.wake.notify_one();
    }

    /// Rows not yet confirmed by the broker.
    pub async fn pending(&self) -> Result<u64> {
        let row = self.db.query_opt(PENDING, &[]).await?;
        Ok(row
            .and_then(|r| r.i64("n"))
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    pub async fn close(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = task {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Publishes one claimed batch; returns how many rows it moved.
async fn relay_once(db: &Db, target: &dyn Publish, opts: &RelayOptions) -> Result<usize> {
    let claim = Uuid::new_v4().to_string();
    let now = now_ms();
    let until = now.saturating_add(i64::try_from(opts.claim_for.as_millis()).unwrap_or(i64::MAX));
    let mut tx = db.begin().await?;
    let rows = tx
        .query(
            CLAIM,
            &[
                Value::text(&claim),
                Value::Int(until),
                Value::Int(now),
                Value::Int(i64::try_from(opts.batch.max(1)).unwrap_or(i64::MAX)),
            ],
        )
        .await?;
    tx.commit().await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let claimed_rows = rows.len();
    let mut claimed: Vec<(i64, NewJob)> = rows
        .into_iter()
        .filter_map(|r| {
            let seq = r.i64("seq")?;
            match serde_json::from_str::<NewJob>(&r.str("job")?) {
                Ok(job) => Some((seq, job)),
                Err(e) => {
                    tracing::error!(seq, error = %e, "outbox: unreadable row skipped");
                    None
                }
            }
        })
        .collect();
    claimed.sort_by_key(|(seq, _)| *seq);
    let n = claimed.len();
    let jobs: Vec<NewJob> = claimed.into_iter().map(|(_, j)| j).collect();
    match target.publish(jobs).await {
        Ok(()) => {
            db.execute(DELETE, &[Value::text(&claim)]).await?;
            if n < claimed_rows {
                tracing::error!(skipped = claimed_rows - n, "outbox: unreadable rows deleted");
            }
            Ok(claimed_rows)
        }
        Err(e) => {
            // Give the rows back at once so the next attempt (here or on
            // another node) does not wait for the claim to expire.
            let _ = db.execute(RELEASE, &[Value::text(&claim)]).await;
            Err(e)
        }
    }
}

async fn relay(
    db: Db,
    target: Arc<dyn Publish>,
    opts: RelayOptions,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        match relay_once(&db, target.as_ref(), &opts).await {
            Ok(n) if n > 0 => {
                failures = 0;
                metrics::counter!("rocket_queue_outbox_relayed_total").increment(n as u64);
                continue; // more may be waiting
            }
            Ok(_) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                let pause = Duration::from_millis(100u64 << failures.min(7)).min(Duration::from_secs(10));
                if failures == 1 || failures.is_multiple_of(20) {
                    tracing::warn!(error = %e, failures, "outbox relay: publish failed; rows stay in the outbox, retrying in {pause:?}");
                }
                metrics::counter!("rocket_queue_outbox_failures_total").increment(1);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(opts.poll) => {}
            _ = stop.changed() => return,
        }
    }
}
