//! Bounded consumers: one loop per (queue, kind) reserves as many jobs as it
//! has free slots, runs each in its own task and settles it (ack, retry with
//! backoff, or dead letter). A handler that panics counts as a failed attempt,
//! so a poison job ends in dead letters without blocking its kind.
//!
//! Shutdown stops reserving, gives in-flight jobs until a deadline, then
//! abandons the rest: their leases run out and they are delivered again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::FutureExt;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use crate::job::{now_ms, Job};
use crate::queue::Queue;

/// What a subsystem registers for a kind. `Err` is a failed attempt; its text
/// is kept as the job's last error.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, job: &Job) -> std::result::Result<(), String>;
}

#[derive(Debug, Clone)]
pub struct KindOptions {
    /// Jobs of this kind running at once (per queue).
    pub concurrency: usize,
    /// How long a reserved job stays invisible before it is handed out again.
    pub visibility: Duration,
    /// The slowest poll when nothing wakes the consumer (delayed jobs and
    /// expired leases are waited for exactly, not polled).
    pub idle_poll: Duration,
}

impl Default for KindOptions {
    fn default() -> Self {
        KindOptions {
            concurrency: 16,
            visibility: Duration::from_secs(60),
            idle_poll: Duration::from_secs(5),
        }
    }
}

/// A running consumer; dropping it without [`Workers::shutdown`] aborts it.
pub struct Workers {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    kind: String,
}

impl Workers {
    pub fn start(queue: Queue, kind: &str, opts: KindOptions, handler: Arc<dyn Handler>) -> Workers {
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(consume(queue, kind.to_string(), opts, handler, rx));
        Workers {
            stop,
            task: Some(task),
            kind: kind.to_string(),
        }
    }

    /// Stops reserving and waits up to `deadline` for in-flight jobs.
    pub async fn shutdown(mut self, deadline: Duration) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(deadline + Duration::from_millis(100), task)
                .await
                .is_err()
            {
                abort.abort();
                tracing::warn!(kind = %self.kind, "queue consumer did not drain in time");
            }
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Metric handles of one (app, kind), looked up once per consumer instead
/// of per job.
struct Instruments {
    latency: metrics::Histogram,
    run: metrics::Histogram,
    ok: metrics::Counter,
    retry: metrics::Counter,
    dead: metrics::Counter,
}

impl Instruments {
    fn new(app: &str, kind: &str) -> Instruments {
        let l = || [("app", app.to_string()), ("kind", kind.to_string())];
        let outcome = |o: &'static str| metrics::counter!("rocket_queue_processed_total", "app" => app.to_string(), "kind" => kind.to_string(), "outcome" => o);
        Instruments {
            latency: metrics::histogram!("rocket_queue_latency_seconds", &l()),
            run: metrics::histogram!("rocket_queue_run_seconds", &l()),
            ok: outcome("ok"),
            retry: outcome("retry"),
            dead: outcome("dead"),
        }
    }
}

/// Acks go through one task per consumer that settles whatever has piled up
/// in a single call (one round trip for the database drivers): while one
/// batch is in flight, the next one gathers.
async fn acker(queue: Queue, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(ACK_BATCH);
    while rx.recv_many(&mut batch, ACK_BATCH).await > 0 {
        if let Err(e) = queue.driver().ack_many(&batch).await {
            tracing::warn!(app = queue.app(), error = %e, jobs = batch.len(), "queue: could not ack; the jobs will be delivered again");
        }
        batch.clear();
    }
}

const ACK_BATCH: usize = 256;

/// How long a consumer with a few free slots waits for more to free up
/// before it reserves (see the loop).
const REFILL_LINGER: Duration = Duration::from_millis(5);

async fn consume(
    queue: Queue,
    kind: String,
    opts: KindOptions,
    handler: Arc<dyn Handler>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let instruments = Arc::new(Instruments::new(queue.app(), &kind));
    let (acks, ack_rx) = mpsc::channel::<Job>(opts.concurrency.max(1) * 2);
    let acking = tokio::spawn(acker(queue.clone(), ack_rx));
    let mut running: JoinSet<()> = JoinSet::new();
    let mut failures = 0u32;
    let low_water = (opts.concurrency / 4).max(1);
    let drain_deadline = |stop: &watch::Receiver<bool>| *stop.borrow();
    loop {
        if drain_deadline(&stop) {
            break;
        }
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                _ = running.join_next() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        if free < low_water && !running.is_empty() {
            // Slots free up one at a time; reserving each on its own costs a
            // round trip (and a commit) per job. Let completions gather for
            // a moment so the next reservation is a batch; the bound keeps a
            // slot held by a slow job from delaying the others.
            let _ = tokio::time::timeout(REFILL_LINGER, async {
                while slots.available_permits() < low_water && running.join_next().await.is_some() {}
            })
            .await;
            continue;
        }
        let jobs = match queue.driver().reserve(&kind, free, opts.visibility).await {
            Ok(jobs) => {
                failures = 0;
                jobs
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let pause = Duration::from_millis(100u64 << failures.min(6));
                tracing::warn!(app = queue.app(), kind = %kind, error = %e, "queue: reserve failed; retrying in {pause:?}");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        if jobs.is_empty() {
            tokio::select! {
                _ = queue.driver().wait(&kind, opts.idle_poll) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for job in jobs {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                // Cannot happen (we reserved at most `free`); hand it back.
                let _ = queue
                    .driver()
                    .retry(&job, "consumer had no free slot", now_ms())
                    .await;
                continue;
            };
            let (q, h, m, a) = (queue.clone(), handler.clone(), instruments.clone(), acks.clone());
            running.spawn(async move {
                run_one(&q, h.as_ref(), &m, &a, job).await;
                drop(permit);
            });
        }
    }
    // Drain: in-flight jobs finish (the caller's deadline aborts this task
    // otherwise, and their leases lapse into redelivery).
    while running.join_next().await.is_some() {}
    drop(acks);
    let _ = acking.await;
}

async fn run_one(queue: &Queue, handler: &dyn Handler, m: &Instruments, acks: &mpsc::Sender<Job>, job: Job) {
    let started = now_ms();
    let latency = (started - job.run_at.max(job.enqueued_at)).max(0) as f64 / 1000.0;
    m.latency.record(latency);
    let policy = queue.policies().of(&job.kind).clone();
    let driver = queue.driver();

    // A job whose earlier deliveries died with their consumer (crash loop)
    // has used its attempts before running again.
    let outcome = if job.attempt > job.max_attempts.max(1) {
        Err(format!(
            "gave up after {} deliveries without an answer",
            job.attempt - 1
        ))
    } else {
        let t = Instant::now();
        let r = std::panic::AssertUnwindSafe(handler.handle(&job))
            .catch_unwind()
            .await;
        m.run.record(t.elapsed().as_secs_f64());
        match r {
            Ok(r) => r,
            Err(panic) => Err(format!("handler panicked: {}", panic_text(&panic))),
        }
    };

    let result = match outcome {
        Ok(()) => {
            m.ok.increment(1);
            // Fails only when the acker is gone (shutdown abort): the lease
            // lapses and the job comes back.
            let _ = acks.send(job).await;
            return;
        }
        Err(error) if policy.exhausted(job.attempt, job.max_attempts) => {
            tracing::warn!(app = queue.app(), kind = %job.kind, job = %job.id, attempts = job.attempt, error = %error, "queue: job dead-lettered");
            m.dead.increment(1);
            driver.bury(&job, &error).await
        }
        Err(error) => {
            let at = now_ms()
                .saturating_add(i64::try_from(policy.delay(job.attempt).as_millis()).unwrap_or(i64::MAX));
            m.retry.increment(1);
            driver.retry(&job, &error, at).await
        }
    };
    if let Err(e) = result {
        // The lease will lapse and the job comes back: at-least-once holds.
        tracing::warn!(app = queue.app(), kind = %job.kind, job = %job.id, error = %e, "queue: could not settle job; it will be delivered again");
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-text panic".to_string()
    }
}
