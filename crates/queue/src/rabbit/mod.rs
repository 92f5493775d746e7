//! The `rabbitmq` driver (lapin). One [`RabbitBroker`] per node holds the
//! connection and reconnects it; [`RabbitBroker::open`] gives each app its
//! [`RabbitDriver`], whose names are all `rocket.{app}.…`.
//!
//! - Per kind a durable work queue `rocket.{app}.{kind}` (quorum when the
//!   server has them), declared on first use; persistent messages, publisher
//!   confirms awaited before an enqueue returns; message_id = job id.
//! - Delays and retries: TTL buckets dead-lettering into the work queue
//!   (see `topology`).
//! - Hand-out, visibility and attempts: see `consumer`.
//! - Dead letters: `rocket.{app}.dead` (see `dead`); work queues
//!   dead-letter rejected messages there too.
//! - Dedupe keys: rows in the app database (see `dedupe`).
//! - `enqueue_in`: the transactional outbox; its relay publishes through
//!   the same confirmed path.

mod conn;
mod consumer;
mod core;
mod dead;
mod dedupe;
mod message;
mod topology;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{BasicAckOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use rocket_store::{Db, Tx};
use tokio::sync::watch;

use self::conn::Broker;
use self::consumer::{Flight, InFlight, Kinds};
use self::core::{Core, Outgoing, Relay};
use self::dead::Scan;
use self::message::{dead_properties, requeue, Envelope};
use crate::driver::{Driver, QueueError, Result};
use crate::job::{now_ms, DeadJob, Enqueued, Job, JobId, KindStats, NewJob};
use crate::outbox::{Outbox, RelayOptions};

/// The node's connection to RabbitMQ.
#[derive(Clone)]
pub struct RabbitBroker {
    broker: Arc<Broker>,
}

impl RabbitBroker {
    /// Connects once (Unavailable naming the host when RabbitMQ is down) and
    /// starts the reconnecting supervisor.
    pub async fn connect(url: &str) -> Result<RabbitBroker> {
        Ok(RabbitBroker {
            broker: Broker::connect(url).await?,
        })
    }

    /// The driver of one app; `db` is the app database (outbox, dedupe keys).
    pub async fn open(&self, app: &str, db: Db) -> Result<Arc<RabbitDriver>> {
        let core = Arc::new(Core::new(self.broker.clone(), app));
        core.ensure_dead().await?;
        let (stop, stop_rx) = watch::channel(false);
        let flight = Arc::new(Flight::default());
        let kinds = Kinds::new(core.clone(), flight.clone(), stop_rx);
        let outbox = Outbox::start(db.clone(), Arc::new(Relay(core.clone())), RelayOptions::default());
        Ok(Arc::new(RabbitDriver {
            core,
            db,
            flight,
            kinds,
            outbox,
            stop,
            scan: tokio::sync::Mutex::new(()),
        }))
    }

    /// Closes the connection (drivers opened on it stop working).
    pub fn close(&self) {
        self.broker.close();
    }

    /// Readiness: the connection is up (or comes back within a second).
    pub async fn ping(&self) -> Result<()> {
        self.broker
            .link(std::time::Duration::from_secs(1))
            .await
            .map(|_| ())
    }
}

pub struct RabbitDriver {
    core: Arc<Core>,
    db: Db,
    flight: Arc<Flight>,
    kinds: Arc<Kinds>,
    outbox: Outbox,
    stop: watch::Sender<bool>,
    /// Dead-queue scans hold messages unacked: one at a time.
    scan: tokio::sync::Mutex<()>,
}

impl Drop for RabbitDriver {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl RabbitDriver {
    /// Outbox rows not yet confirmed by the broker.
    pub async fn outbox_pending(&self) -> Result<u64> {
        self.outbox.pending().await
    }

    /// Deletes every queue this driver declared (tests and app removal).
    /// Queues other nodes declared for kinds unknown here stay.
    pub async fn delete_queues(&self) -> Result<u64> {
        let link = self.core.link().await?;
        let mut n = 0;
        for name in self.core.declared_names() {
            let ch = conn::bounded(link.conn.create_channel())
                .await
                .map_err(|e| self.core.err(e))?;
            if conn::bounded(ch.queue_delete(name.as_str().into(), QueueDeleteOptions::default()))
                .await
                .is_ok()
            {
                n += 1;
            }
            let _ = conn::bounded(ch.close(200, "deleted".into())).await;
        }
        let ch = conn::bounded(link.conn.create_channel())
            .await
            .map_err(|e| self.core.err(e))?;
        let _ = conn::bounded(ch.exchange_delete(self.core.names.dead().as_str().into(), Default::default()))
            .await;
        let _ = conn::bounded(ch.close(200, "deleted".into())).await;
        Ok(n)
    }

    /// Frees the job's dedupe key (after ack or bury).
    async fn release_key(&self, env: &Envelope) {
        if let Some(key) = &env.dedupe_key {
            if let Err(e) = dedupe::release(&self.db, &env.kind, key, env.id).await {
                tracing::warn!(job = %env.id, error = %e, "rabbitmq: dedupe key not released");
            }
        }
    }

    /// A settle whose publish failed: give the delivery back so it comes
    /// again (its lease is gone, so nothing else would).
    async fn give_back(f: InFlight) {
        requeue(&f.acker).await;
    }

    /// Messages in a queue, None when it does not exist (a passive declare
    /// of a missing queue closes its channel, so each gets a fresh one).
    async fn count(&self, link: &conn::Link, queue: &str) -> Option<u64> {
        let ch = conn::bounded(link.conn.create_channel()).await.ok()?;
        let r = conn::bounded(ch.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        ))
        .await
        .ok()
        .map(|q| u64::from(q.message_count()));
        if ch.status().connected() {
            let _ = conn::bounded(ch.close(200, "counted".into())).await;
        }
        r
    }
}

#[async_trait]
impl Driver for RabbitDriver {
    fn name(&self) -> &'static str {
        conn::DRIVER
    }

    fn durable(&self) -> bool {
        true
    }

    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let mut out = Vec::with_capacity(jobs.len());
        let mut envs = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let e = dedupe::claim(&self.db, job).await?;
            if e.is_new() {
                envs.push(Envelope::fresh(job));
            }
            out.push(e);
        }
        if let Err(err) = self.core.publish_jobs(&envs).await {
            // Not published (or not confirmed): free the keys so the
            // caller's retry is not taken for a duplicate.
            for e in &envs {
                self.release_key(e).await;
            }
            return Err(err);
        }
        Ok(out)
    }

    async fn enqueue_in(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<()> {
        let mut keep = Vec::with_capacity(jobs.len());
        for job in jobs {
            if dedupe::claim_in(tx, job).await? {
                keep.push(job.clone());
            }
        }
        self.outbox.write(tx, &keep).await
    }

    fn committed(&self) {
        self.outbox.committed();
    }

    async fn reserve(&self, kind: &str, max: usize, visibility: Duration) -> Result<Vec<Job>> {
        if *self.stop.borrow() {
            return Ok(Vec::new());
        }
        Ok(self.kinds.reserve(kind, max, visibility))
    }

    async fn wait(&self, kind: &str, timeout: Duration) {
        self.kinds.wait(kind, timeout).await;
    }

    async fn ack(&self, job: &Job) -> Result<()> {
        let Some(f) = self.flight.take(&job.receipt) else {
            return Ok(()); // its visibility ran out: someone else has it now
        };
        self.flight.forget(job.id);
        if !f.acker.usable() {
            // Its channel died: the broker hands the job out again, and an
            // ack sent now would only wait for a connection that is gone.
            return Err(self
                .core
                .err("delivery channel lost before the ack; the job comes again"));
        }
        conn::bounded(f.acker.ack(BasicAckOptions::default()))
            .await
            .map_err(|e| self.core.err(e))?;
        self.release_key(&f.env).await;
        Ok(())
    }

    /// Every job gets its ack even when one fails (a lost channel fails
    /// only its own deliveries); the first error is reported.
    async fn ack_many(&self, jobs: &[Job]) -> Result<()> {
        let mut first = None;
        for j in jobs {
            if let Err(e) = self.ack(j).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn retry(&self, job: &Job, error: &str, retry_at: i64) -> Result<()> {
        let Some(f) = self.flight.take(&job.receipt) else {
            return Ok(());
        };
        let mut env = f.env.clone();
        env.attempts = job.attempt;
        env.due_at = retry_at;
        env.last_error = Some(error.to_string());
        let published = async {
            let msg = self.core.outgoing(&env).await?;
            self.core.publish_all(vec![msg]).await
        }
        .await;
        if let Err(e) = published {
            Self::give_back(f).await;
            return Err(e);
        }
        self.flight.forget(job.id);
        conn::bounded(f.acker.ack(BasicAckOptions::default()))
            .await
            .map_err(|e| self.core.err(e))?;
        Ok(())
    }

    async fn bury(&self, job: &Job, error: &str) -> Result<()> {
        let Some(f) = self.flight.take(&job.receipt) else {
            return Ok(());
        };
        let dead = DeadJob {
            id: job.id,
            kind: job.kind.clone(),
            payload: f.env.payload.clone(),
            attempts: job.attempt,
            last_error: error.to_string(),
            enqueued_at: f.env.enqueued_at,
            died_at: now_ms(),
        };
        let published = async {
            self.core.ensure_dead().await?;
            let body = serde_json::to_vec(&dead).map_err(|e| QueueError::Other(e.to_string()))?;
            self.core
                .publish_all(vec![Outgoing {
                    queue: self.core.names.dead(),
                    body,
                    props: dead_properties(&dead),
                }])
                .await
        }
        .await;
        if let Err(e) = published {
            Self::give_back(f).await;
            return Err(e);
        }
        self.flight.forget(job.id);
        conn::bounded(f.acker.ack(BasicAckOptions::default()))
            .await
            .map_err(|e| self.core.err(e))?;
        self.release_key(&f.env).await;
        Ok(())
    }

    /// Ready = the work queue's count plus what this node prefetched;
    /// delayed = the buckets this node declared plus jobs held for their
    /// last ms; in flight = this node's reservations; dead = an exact scan
    /// of the dead queue. Kinds are those this node used, plus every kind
    /// with dead jobs.
    async fn stats(&self) -> Result<Vec<KindStats>> {
        let link = self.core.link().await?;
        let mut out: std::collections::BTreeMap<String, KindStats> = Default::default();
        let mut kinds = self.kinds.known();
        for name in self.core.declared_names() {
            if let Some(kind) = name
                .strip_prefix(&self.core.names.work(""))
                .filter(|k| !k.contains(".delay.") && name != self.core.names.dead())
            {
                kinds.push(kind.to_string());
            }
        }
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            let mut s = KindStats {
                kind: kind.clone(),
                ..Default::default()
            };
            s.ready = self.count(&link, &self.core.names.work(&kind)).await.unwrap_or(0);
            if let Some(ks) = self.kinds.get(&kind) {
                s.ready += consumer::lock(&ks.buffer).len() as u64;
                s.delayed += ks.held.load(std::sync::atomic::Ordering::Relaxed);
            }
            for ms in topology::all_buckets() {
                let b = self.core.names.bucket(&kind, ms);
                if self.core.is_declared(&b) {
                    s.delayed += self.count(&link, &b).await.unwrap_or(0);
                }
            }
            s.in_flight = self.flight.count_of(&kind);
            out.insert(kind, s);
        }
        let _g = self.scan.lock().await;
        let scan = Scan::start(&self.core).await?;
        for (d, _) in &scan.items {
            let e = out.entry(d.kind.clone()).or_insert_with(|| KindStats {
                kind: d.kind.clone(),
                ..Default::default()
            });
            e.dead += 1;
        }
        scan.finish(Vec::new(), &self.core).await?;
        Ok(out
            .into_values()
            .filter(|s| s.ready + s.delayed + s.in_flight + s.dead > 0)
            .collect())
    }

    async fn dead(&self, kind: Option<&str>, limit: usize) -> Result<Vec<DeadJob>> {
        let _g = self.scan.lock().await;
        let scan = Scan::start(&self.core).await?;
        let mut jobs: Vec<DeadJob> = scan
            .items
            .iter()
            .map(|(d, _)| d)
            .filter(|d| kind.is_none_or(|k| d.kind == k))
            .cloned()
            .collect();
        scan.finish(Vec::new(), &self.core).await?;
        jobs.sort_by_key(|d| std::cmp::Reverse((d.died_at, d.id)));
        jobs.truncate(limit);
        Ok(jobs)
    }

    async fn requeue_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        let _g = self.scan.lock().await;
        let mut scan = Scan::start(&self.core).await?;
        let (pick, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut scan.items)
            .into_iter()
            .partition(|(d, _)| kind.is_none_or(|k| d.kind == k) && id.is_none_or(|i| d.id == i));
        scan.items = rest;
        // Fresh jobs (attempts start over, no dedupe key: a live job may
        // have taken it), confirmed before the dead letters are removed.
        let envs: Vec<Envelope> = pick
            .iter()
            .map(|(d, _)| Envelope {
                id: d.id,
                kind: d.kind.clone(),
                payload: d.payload.clone(),
                attempts: 0,
                max_attempts: crate::job::DEFAULT_MAX_ATTEMPTS,
                enqueued_at: d.enqueued_at,
                due_at: now_ms(),
                dedupe_key: None,
                last_error: None,
            })
            .collect();
        if let Err(e) = self.core.publish_jobs(&envs).await {
            scan.items.extend(pick);
            scan.finish(Vec::new(), &self.core).await?;
            return Err(e);
        }
        let n = pick.len() as u64;
        scan.finish(pick.into_iter().map(|(_, d)| d).collect(), &self.core)
            .await?;
        Ok(n)
    }

    async fn delete_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        let _g = self.scan.lock().await;
        let mut scan = Scan::start(&self.core).await?;
        let (pick, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut scan.items)
            .into_iter()
            .partition(|(d, _)| kind.is_none_or(|k| d.kind == k) && id.is_none_or(|i| d.id == i));
        scan.items = rest;
        let n = pick.len() as u64;
        scan.finish(pick.into_iter().map(|(_, d)| d).collect(), &self.core)
            .await?;
        Ok(n)
    }

    async fn close(&self) {
        self.outbox.close().await;
        let _ = self.stop.send(true);
    }
}
