//! The `redis` driver: Redis Streams with one consumer group per kind.
//!
//! - Ready jobs are stream entries; a hand-out is `XREADGROUP` (new) or
//!   `XCLAIM` (lease expired), inside one Lua script that also bumps the
//!   job's attempt counter and records the lease deadline. Leases live in a
//!   per-kind ZSET rather than in `XAUTOCLAIM`'s min-idle: that threshold is
//!   one number per call, while each delivery has its own visibility.
//! - Delayed jobs and retries wait in a per-kind ZSET and are moved into the
//!   stream by the reserve and wait scripts when due (no background mover:
//!   an idle consumer sleeps exactly until the next due time).
//! - Attempts live in a hash keyed by job id, not in the stream's delivery
//!   counter, because a retry re-adds the job as a new entry.
//! - Settling (ack, retry, bury) checks the receipt (`entry id @ lease
//!   deadline`) against the lease, so a consumer whose lease lapsed cannot
//!   settle the delivery someone else now holds.
//! - `enqueue_in` goes through the transactional [`Outbox`]; its relay
//!   publishes with the same scripts as `enqueue`.
//!
//! See `scripts.rs` for the key layout and `wait.rs` for how idle consumers
//! block.

mod acks;
mod codec;
mod scripts;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script, Value};
use rocket_store::{Db, Tx};

use crate::driver::{Driver, QueueError, Result};
use crate::job::{now_ms, DeadJob, Enqueued, Job, JobId, KindStats, NewJob};
use crate::outbox::{Outbox, Publish, RelayOptions};
use acks::{AckItem, Acker};
use codec::{array, int, text, Keys};
use wait::BlockingPool;

const GROUP: &str = "rocket";
const DEDUPE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Jobs per enqueue script run, and script runs per pipelined round trip.
const PER_SCRIPT: usize = 100;
const PIPELINE: usize = 5;

fn unavailable(url: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable {
        driver: "redis",
        message: format!("{url}: {e}"),
    }
}

/// Connection problems become `Unavailable` (503 upstream); anything else
/// (a script error, a type clash) is a bug or a foreign key collision.
fn map_err(url: &str, e: RedisError) -> QueueError {
    if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() {
        unavailable(url, e)
    } else {
        QueueError::Other(format!("redis: {e}"))
    }
}

struct Scripts {
    enqueue: Script,
    reserve: Script,
    peek: Script,
    ack: Script,
    retry: Script,
    bury: Script,
    requeue: Script,
    delete_dead: Script,
    stats: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            enqueue: Script::new(scripts::ENQUEUE),
            reserve: Script::new(&scripts::reserve()),
            peek: Script::new(&scripts::peek()),
            ack: Script::new(&scripts::ack()),
            retry: Script::new(&scripts::retry()),
            bury: Script::new(&scripts::bury()),
            requeue: Script::new(scripts::REQUEUE),
            delete_dead: Script::new(scripts::DELETE_DEAD),
            stats: Script::new(scripts::STATS),
        }
    }

    fn all(&self) -> [&Script; 9] {
        [
            &self.enqueue,
            &self.reserve,
            &self.peek,
            &self.ack,
            &self.retry,
            &self.bury,
            &self.requeue,
            &self.delete_dead,
            &self.stats,
        ]
    }
}

/// One per node: the shared, auto-reconnecting connection every app's
/// driver uses, and the consumer name of this process.
#[derive(Clone)]
pub struct RedisBroker {
    client: Client,
    conn: ConnectionManager,
    url: Arc<str>,
    consumer: Arc<str>,
    scripts: Arc<Scripts>,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisBroker({})", self.url)
    }
}

impl RedisBroker {
    /// Connects and PINGs; `Unavailable` (naming the URL, password hidden)
    /// when Redis cannot be reached.
    pub async fn connect(url: &str) -> Result<RedisBroker> {
        let shown = codec::redact(url);
        let client = Client::open(url).map_err(|e| unavailable(&shown, e))?;
        // A direct first connection fails fast; the manager's own retries
        // (with backoff) are for outages after start.
        let probe_cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let mut probe = client
            .get_multiplexed_async_connection_with_config(&probe_cfg)
            .await
            .map_err(|e| unavailable(&shown, e))?;
        redis::cmd("PING")
            .query_async::<()>(&mut probe)
            .await
            .map_err(|e| unavailable(&shown, e))?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_with_config(client.clone(), cfg)
            .await
            .map_err(|e| unavailable(&shown, e))?;
        let scripts = Arc::new(Scripts::new());
        let mut c = conn.clone();
        for s in scripts.all() {
            s.load_async(&mut c).await.map_err(|e| map_err(&shown, e))?;
        }
        Ok(RedisBroker {
            client,
            conn,
            url: shown.into(),
            consumer: consumer_name().into(),
            scripts,
        })
    }

    /// Whether Redis answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        let mut c = self.conn.clone();
        redis::cmd("PING")
            .query_async::<()>(&mut c)
            .await
            .map_err(|e| map_err(&self.url, e))
    }

    /// The driver of one app, with its outbox relay on the app database.
    pub fn open(&self, app: &str, db: Db) -> Arc<RedisDriver> {
        self.open_with(app, db, RelayOptions::default())
    }

    pub fn open_with(&self, app: &str, db: Db, relay: RelayOptions) -> Arc<RedisDriver> {
        let core = Arc::new(Core {
            conn: self.conn.clone(),
            url: self.url.clone(),
            consumer: self.consumer.clone(),
            scripts: self.scripts.clone(),
            keys: Keys::new(app),
            blocking: BlockingPool::new(self.client.clone()),
        });
        let outbox = Outbox::start(db, core.clone(), relay);
        let acker = Acker::start(core.clone());
        Arc::new(RedisDriver { core, outbox, acker })
    }
}

/// Unique per process and per broker: two processes on one host differ by
/// pid, a restarted process by the random part.
fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &rand[..8])
}

/// A script call: which script, its keys, its arguments.
struct Call<'a> {
    script: &'a Script,
    keys: Vec<String>,
    args: Vec<String>,
}

/// What the driver and its outbox relay share.
struct Core {
    conn: ConnectionManager,
    url: Arc<str>,
    consumer: Arc<str>,
    scripts: Arc<Scripts>,
    keys: Keys,
    blocking: BlockingPool,
}

impl Core {
    fn err(&self, e: RedisError) -> QueueError {
        map_err(&self.url, e)
    }

    /// Runs script calls pipelined in one round trip (EVALSHA). Scripts
    /// were loaded at connect; after a Redis restart without them, they are
    /// loaded again and the calls repeated (at-least-once, like any retry).
    async fn eval(&self, calls: &[Call<'_>]) -> Result<Vec<Value>> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for c in calls {
            pipe.cmd("EVALSHA")
                .arg(c.script.get_hash())
                .arg(c.keys.len())
                .arg(&c.keys)
                .arg(&c.args);
        }
        let mut conn = self.conn.clone();
        match pipe.query_async::<Vec<Value>>(&mut conn).await {
            Ok(v) => Ok(v),
            Err(e) if e.code() == Some("NOSCRIPT") => {
                for s in self.scripts.all() {
                    s.load_async(&mut conn).await.map_err(|e| self.err(e))?;
                }
                pipe.query_async::<Vec<Value>>(&mut conn)
                    .await
                    .map_err(|e| self.err(e))
            }
            Err(e) => Err(self.err(e)),
        }
    }

    async fn eval_one(&self, call: Call<'_>) -> Result<Value> {
        Ok(self.eval(&[call]).await?.pop().unwrap_or(Value::Nil))
    }

    /// One enqueue script run for up to [`PER_SCRIPT`] jobs.
    fn enqueue_call(&self, jobs: &[NewJob], now: i64) -> Result<Call<'_>> {
        let k = &self.keys;
        let mut keys = Vec::with_capacity(jobs.len() * scripts::ENQUEUE_KEYS);
        let mut args = Vec::with_capacity(2 + jobs.len() * scripts::ENQUEUE_ARGS);
        args.push(now.to_string());
        args.push(DEDUPE_TTL_MS.to_string());
        for job in jobs {
            let kind = &job.kind;
            keys.extend([
                k.stream(kind),
                k.delayed(kind),
                k.dedupe(kind, job.dedupe_key.as_deref()),
                k.app("kinds"),
                k.wake(kind),
            ]);
            args.extend([
                job.run_at.to_string(),
                job.id.to_string(),
                kind.clone(),
                if job.dedupe_key.is_some() { "1" } else { "0" }.to_string(),
            ]);
            let fields = codec::fields(job, now)?;
            debug_assert_eq!(fields.len(), scripts::FIELDS);
            args.extend(fields);
        }
        Ok(Call {
            script: &self.scripts.enqueue,
            keys,
            args,
        })
    }

    async fn enqueue(&self, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
        let now = now_ms();
        let mut out = Vec::with_capacity(jobs.len());
        for round in jobs.chunks(PER_SCRIPT * PIPELINE) {
            let calls = round
                .chunks(PER_SCRIPT)
                .map(|c| self.enqueue_call(c, now))
                .collect::<Result<Vec<_>>>()?;
            let replies = self.eval(&calls).await?;
            let answers = replies.iter().flat_map(|r| array(r).iter());
            for (job, r) in round.iter().zip(answers) {
                out.push(match r {
                    Value::Int(_) => Enqueued::New(job.id),
                    other => Enqueued::Duplicate(text(other).as_deref().and_then(codec::id)),
                });
            }
        }
        if out.len() != jobs.len() {
            return Err(QueueError::Other(format!(
                "redis: {} answers for {} enqueued jobs",
                out.len(),
                jobs.len()
            )));
        }
        Ok(out)
    }

    /// Settles many deliveries in one script run (see `acks.rs`).
    async fn ack_many(&self, items: &[&AckItem]) -> Result<()> {
        let k = &self.keys;
        let mut keys = Vec::with_capacity(items.len() * 4);
        let mut args = Vec::with_capacity(items.len() * 5);
        for i in items {
            keys.extend([
                k.stream(&i.kind),
                k.leases(&i.kind),
                k.app("attempts"),
                k.dedupe(&i.kind, i.dedupe.as_deref()),
            ]);
            args.extend([
                GROUP.to_string(),
                i.entry.clone(),
                i.deadline.clone(),
                i.id.clone(),
                if i.dedupe.is_some() { "1" } else { "0" }.to_string(),
            ]);
        }
        self.eval_one(Call {
            script: &self.scripts.ack,
            keys,
            args,
        })
        .await?;
        Ok(())
    }

    /// Dead jobs by id from the dead hash (missing or unreadable ones skipped).
    async fn dead_by_ids(&self, ids: &[String]) -> Result<Vec<DeadJob>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let vals: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.app("dead"))
            .arg(ids)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.err(e))?;
        Ok(vals
            .into_iter()
            .flatten()
            .filter_map(|j| serde_json::from_str::<DeadJob>(&j).ok())
            .collect())
    }

    /// The dead jobs `requeue_dead` / `delete_dead` act on.
    async fn pick_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<Vec<DeadJob>> {
        let ids: Vec<String> = match id {
            Some(id) => vec![id.to_string()],
            None => {
                let index = kind.map_or_else(|| self.keys.app("dead:index"), |k| self.keys.kind_dead(k));
                let mut conn = self.conn.clone();
                redis::cmd("ZRANGE")
                    .arg(index)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.err(e))?
            }
        };
        let mut dead = self.dead_by_ids(&ids).await?;
        dead.retain(|d| kind.is_none_or(|k| d.kind == k));
        Ok(dead)
    }
}

#[async_trait]
impl Publish for Core {
    /// Returns once Redis answered every enqueue script: the job is in the
    /// stream (or the delayed set), so the relay may delete its rows.
    async fn publish(&self, jobs: Vec<NewJob>) -> Result<()> {
        self.enqueue(&jobs).await.map(|_| ())
    }
}

fn ack_item(job: &Job) -> AckItem {
    let (entry, deadline) = codec::receipt(&job.receipt).unwrap_or(("0-0", "-1"));
    AckItem {
        kind: job.kind.clone(),
        entry: entry.to_string(),
        deadline: deadline.to_string(),
        id: job.id.to_string(),
        dedupe: job.dedupe_key.clone(),
    }
}

pub struct RedisDriver {
    core: Arc<Core>,
    outbox: Outbox,
    acker: Acker,
}

impl RedisDriver {
    /// Outbox rows not yet published (for tests and health checks).
    pub async fn outbox_pending(&self) -> Result<u64> {
        self.outbox.pending().await
    }

    /// The key prefix of this app (`rocket:q:{app}:`).
    pub fn key_prefix(&self) -> &str {
        self.core.keys.prefix()
    }

    fn settle_keys<'j>(&self, job: &'j Job) -> (String, String, &'j str, &'j str) {
        let (entry, deadline) = codec::receipt(&job.receipt).unwrap_or(("0-0", "-1"));
        (
            self.core.keys.stream(&job.kind),
            self.core.keys.leases(&job.kind),
            entry,
            deadline,
        )
    }
}

#[async_trait]
impl Driver for RedisDriver {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn durable(&self) -> bool {
        true
    }

    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        self.core.enqueue(&jobs).await
    }

    async fn enqueue_in(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<()> {
        self.outbox.write(tx, jobs).await
    }

    fn committed(&self) {
        self.outbox.committed();
    }

    async fn reserve(&self, kind: &str, max: usize, visibility: Duration) -> Result<Vec<Job>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let k = &self.core.keys;
        let now = now_ms();
        let deadline = now.saturating_add(i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX));
        let reply = self
            .core
            .eval_one(Call {
                script: &self.core.scripts.reserve,
                keys: vec![k.stream(kind), k.delayed(kind), k.leases(kind), k.app("attempts")],
                args: vec![
                    GROUP.into(),
                    self.core.consumer.to_string(),
                    max.to_string(),
                    now.to_string(),
                    deadline.to_string(),
                ],
            })
            .await?;
        Ok(array(&reply)
            .iter()
            .filter_map(|v| {
                let job = codec::job(v, deadline);
                if job.is_none() {
                    tracing::error!(kind, "redis queue: unreadable stream entry skipped");
                }
                job
            })
            .collect())
    }

    async fn wait(&self, kind: &str, timeout: Duration) {
        let k = &self.core.keys;
        let now = now_ms();
        let peek = self
            .core
            .eval_one(Call {
                script: &self.core.scripts.peek,
                keys: vec![k.stream(kind), k.delayed(kind), k.leases(kind), k.wake(kind)],
                args: vec![GROUP.into(), now.to_string()],
            })
            .await;
        let Ok(peek) = peek else {
            tokio::time::sleep(timeout.min(Duration::from_millis(200))).await;
            return;
        };
        let p = array(&peek);
        let num = |i: usize| p.get(i).and_then(int).unwrap_or(-1);
        let txt = |i: usize| p.get(i).and_then(text).unwrap_or_else(|| "0-0".into());
        if num(0) > 0 {
            return; // due jobs were just moved into the stream
        }
        let mut block = timeout;
        for at in [num(1), num(2)] {
            if at >= 0 {
                block = block.min(Duration::from_millis(u64::try_from(at - now).unwrap_or(0)));
            }
        }
        if block.is_zero() {
            return;
        }
        let (stream, wake) = (k.stream(kind), k.wake(kind));
        let (last, wake_last) = (txt(3), txt(4));
        self.core
            .blocking
            .block([(&stream, &last), (&wake, &wake_last)], block)
            .await;
    }

    async fn ack(&self, job: &Job) -> Result<()> {
        self.acker.ack(ack_item(job)).await
    }

    /// The worker pool's batched acks: one script run per 256 deliveries,
    /// straight to Redis (the pool already gathered them).
    async fn ack_many(&self, jobs: &[Job]) -> Result<()> {
        let items: Vec<AckItem> = jobs.iter().map(ack_item).collect();
        for chunk in items.chunks(256) {
            let refs: Vec<&AckItem> = chunk.iter().collect();
            self.core.ack_many(&refs).await?;
        }
        Ok(())
    }

    async fn retry(&self, job: &Job, error: &str, retry_at: i64) -> Result<()> {
        let (stream, leases, entry, deadline) = self.settle_keys(job);
        let k = &self.core.keys;
        tracing::debug!(job = %job.id, error, "redis queue: retry scheduled");
        self.core
            .eval_one(Call {
                script: &self.core.scripts.retry,
                keys: vec![stream, leases, k.delayed(&job.kind), k.wake(&job.kind)],
                args: vec![
                    GROUP.into(),
                    entry.into(),
                    deadline.into(),
                    retry_at.to_string(),
                    now_ms().to_string(),
                ],
            })
            .await?;
        Ok(())
    }

    async fn bury(&self, job: &Job, error: &str) -> Result<()> {
        let (stream, leases, entry, deadline) = self.settle_keys(job);
        let k = &self.core.keys;
        let died_at = now_ms();
        let dead = DeadJob {
            id: job.id,
            kind: job.kind.clone(),
            payload: job.payload.clone(),
            attempts: job.attempt,
            last_error: error.to_string(),
            enqueued_at: job.enqueued_at,
            died_at,
        };
        let dead = serde_json::to_string(&dead).map_err(|e| QueueError::Other(e.to_string()))?;
        self.core
            .eval_one(Call {
                script: &self.core.scripts.bury,
                keys: vec![
                    stream,
                    leases,
                    k.app("attempts"),
                    k.dedupe(&job.kind, job.dedupe_key.as_deref()),
                    k.app("dead"),
                    k.app("dead:index"),
                    k.kind_dead(&job.kind),
                    k.app("kinds"),
                ],
                args: vec![
                    GROUP.into(),
                    entry.into(),
                    deadline.into(),
                    job.id.to_string(),
                    if job.dedupe_key.is_some() { "1" } else { "0" }.into(),
                    died_at.to_string(),
                    dead,
                    job.kind.clone(),
                ],
            })
            .await?;
        Ok(())
    }

    async fn stats(&self) -> Result<Vec<KindStats>> {
        let k = &self.core.keys;
        let mut conn = self.core.conn.clone();
        let mut kinds: Vec<String> = redis::cmd("SMEMBERS")
            .arg(k.app("kinds"))
            .query_async(&mut conn)
            .await
            .map_err(|e| self.core.err(e))?;
        kinds.sort();
        let calls: Vec<Call> = kinds
            .iter()
            .map(|kind| Call {
                script: &self.core.scripts.stats,
                keys: vec![k.stream(kind), k.delayed(kind), k.kind_dead(kind)],
                args: vec![GROUP.into()],
            })
            .collect();
        let replies = self.core.eval(&calls).await?;
        let n = |v: Option<&Value>| v.and_then(int).map_or(0, |n| u64::try_from(n).unwrap_or(0));
        Ok(kinds
            .into_iter()
            .zip(replies)
            .map(|(kind, r)| {
                let a = array(&r);
                KindStats {
                    kind,
                    ready: n(a.first()),
                    in_flight: n(a.get(1)),
                    delayed: n(a.get(2)),
                    dead: n(a.get(3)),
                }
            })
            .filter(|s| s.ready + s.in_flight + s.delayed + s.dead > 0)
            .collect())
    }

    async fn dead(&self, kind: Option<&str>, limit: usize) -> Result<Vec<DeadJob>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let k = &self.core.keys;
        let index = kind.map_or_else(|| k.app("dead:index"), |kd| k.kind_dead(kd));
        let mut conn = self.core.conn.clone();
        let ids: Vec<String> = redis::cmd("ZREVRANGE")
            .arg(index)
            .arg(0)
            .arg(i64::try_from(limit).unwrap_or(i64::MAX) - 1)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.core.err(e))?;
        self.core.dead_by_ids(&ids).await
    }

    async fn requeue_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        let dead = self.core.pick_dead(kind, id).await?;
        let k = &self.core.keys;
        let now = now_ms();
        let mut calls = Vec::with_capacity(dead.len());
        for d in dead {
            let job = NewJob {
                id: d.id,
                kind: d.kind,
                payload: d.payload,
                run_at: now,
                dedupe_key: None,
                max_attempts: None,
            };
            let mut args = vec![job.id.to_string()];
            args.extend(codec::fields(&job, d.enqueued_at)?);
            calls.push(Call {
                script: &self.core.scripts.requeue,
                keys: vec![
                    k.stream(&job.kind),
                    k.app("attempts"),
                    k.app("dead"),
                    k.app("dead:index"),
                    k.kind_dead(&job.kind),
                ],
                args,
            });
        }
        let replies = self.core.eval(&calls).await?;
        Ok(replies.iter().filter(|r| int(r) == Some(1)).count() as u64)
    }

    async fn delete_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        let dead = self.core.pick_dead(kind, id).await?;
        let k = &self.core.keys;
        let calls: Vec<Call> = dead
            .iter()
            .map(|d| Call {
                script: &self.core.scripts.delete_dead,
                keys: vec![k.app("dead"), k.app("dead:index"), k.kind_dead(&d.kind)],
                args: vec![d.id.to_string()],
            })
            .collect();
        let replies = self.core.eval(&calls).await?;
        Ok(replies.iter().filter(|r| int(r) == Some(1)).count() as u64)
    }

    async fn close(&self) {
        self.outbox.close().await;
        self.acker.stop();
    }
}
