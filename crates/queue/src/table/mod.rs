//! The database drivers, `sqlite` and `postgres`: jobs live in the app's own
//! database (`_jobs`, system migration V2), so enqueueing inside a business
//! transaction is a plain INSERT in it, and the job exists exactly when the
//! write committed. The two differ in their reservation statement and in how
//! consumers are woken; each says so in its own file.

mod postgres;
mod sqlite;
mod statements;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rocket_store::{Db, Row, Tx, Value};
use uuid::Uuid;

use crate::driver::{Driver, QueueError, Result};
use crate::job::{now_ms, DeadJob, Enqueued, Job, JobId, KindStats, NewJob, DEFAULT_MAX_ATTEMPTS};
use crate::wake::Wakers;
use statements as q;

pub struct TableDriver {
    name: &'static str,
    db: Db,
    reserve: &'static str,
    ack_many: &'static str,
    /// PostgreSQL: one statement for a batch without dedupe keys.
    insert_many: Option<&'static str>,
    /// PostgreSQL: NOTIFY in the enqueueing transaction.
    notify: Option<&'static str>,
    /// PostgreSQL: reservations and acks commit without waiting for the
    /// WAL flush (see `postgres::RELAXED_COMMIT`).
    relaxed: Option<&'static str>,
    wake: Arc<Wakers>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl TableDriver {
    /// The embedded default: `db` is the app's SQLite database.
    pub fn sqlite(db: Db) -> TableDriver {
        TableDriver {
            name: "sqlite",
            db,
            reserve: sqlite::RESERVE,
            ack_many: sqlite::ACK_MANY,
            insert_many: None,
            notify: None,
            relaxed: None,
            wake: Arc::new(Wakers::default()),
            listener: None,
        }
    }

    /// `db` is the app's PostgreSQL database; `listen` reaches the same
    /// database for the LISTEN connection.
    pub fn postgres(db: Db, listen: tokio_postgres::Config) -> TableDriver {
        let wake = Arc::new(Wakers::default());
        let listener = tokio::spawn(postgres::listen(listen, Arc::downgrade(&wake)));
        TableDriver {
            name: "postgres",
            db,
            reserve: postgres::RESERVE,
            ack_many: postgres::ACK_MANY,
            insert_many: Some(postgres::INSERT_MANY),
            notify: Some(postgres::NOTIFY),
            relaxed: Some(postgres::RELAXED_COMMIT),
            wake,
            listener: Some(listener),
        }
    }

    async fn insert(&self, tx: &mut Tx, job: &NewJob) -> Result<Enqueued> {
        let now = now_ms();
        let payload = serde_json::to_string(&job.payload).map_err(|e| QueueError::Other(e.to_string()))?;
        let attempts = i64::from(job.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1));
        let n = tx
            .execute(
                q::INSERT,
                &[
                    Value::text(job.id.to_string()),
                    Value::text(&job.kind),
                    Value::Text(payload),
                    Value::Int(attempts),
                    Value::Int(job.run_at),
                    job.dedupe_key.as_deref().map_or(Value::Null, Value::text),
                    Value::Int(now),
                ],
            )
            .await?;
        if n == 1 {
            return Ok(Enqueued::New(job.id));
        }
        let Some(key) = &job.dedupe_key else {
            // Same id again (a relay or client retry): already stored.
            return Ok(Enqueued::Duplicate(Some(job.id)));
        };
        let row = tx
            .query_opt(q::DUPLICATE_OF, &[Value::text(&job.kind), Value::text(key)])
            .await?;
        Ok(Enqueued::Duplicate(
            row.and_then(|r| r.str("id"))
                .and_then(|s| Uuid::parse_str(&s).ok()),
        ))
    }

    /// One statement for the whole batch; every job counts as new (an id
    /// already stored is a relay or client retry of the same job).
    async fn insert_batch(&self, tx: &mut Tx, sql: &str, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
        let mut cols: [Vec<Value>; 5] = Default::default();
        for job in jobs {
            let payload =
                serde_json::to_string(&job.payload).map_err(|e| QueueError::Other(e.to_string()))?;
            cols[0].push(Value::text(job.id.to_string()));
            cols[1].push(Value::text(&job.kind));
            cols[2].push(Value::Text(payload));
            cols[3].push(Value::Int(i64::from(
                job.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1),
            )));
            cols[4].push(Value::Int(job.run_at));
        }
        let [a, b, c, d, e] = cols;
        let params = [
            Value::List(a),
            Value::List(b),
            Value::List(c),
            Value::List(d),
            Value::List(e),
            Value::Int(now_ms()),
        ];
        tx.execute(sql, &params).await?;
        Ok(jobs.iter().map(|j| Enqueued::New(j.id)).collect())
    }

    async fn insert_all(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
        let mut kinds: Vec<&str> = Vec::new();
        for job in jobs {
            if !kinds.contains(&job.kind.as_str()) {
                kinds.push(&job.kind);
            }
        }
        let batch = self
            .insert_many
            .filter(|_| jobs.len() > 1 && jobs.iter().all(|j| j.dedupe_key.is_none()));
        let out = match batch {
            Some(sql) => self.insert_batch(tx, sql, jobs).await?,
            None => {
                let mut out = Vec::with_capacity(jobs.len());
                for job in jobs {
                    out.push(self.insert(tx, job).await?);
                }
                out
            }
        };
        if let Some(notify) = self.notify {
            for k in kinds {
                tx.execute(notify, &[Value::text(k)]).await?;
            }
        }
        Ok(out)
    }
}

impl Drop for TableDriver {
    fn drop(&mut self) {
        if let Some(l) = self.listener.take() {
            l.abort();
        }
    }
}

fn job_from(row: &Row, lease: &str) -> Option<Job> {
    let id = Uuid::parse_str(&row.str("id")?).ok()?;
    let payload = serde_json::from_str(&row.str("payload")?).unwrap_or(serde_json::Value::Null);
    Some(Job {
        id,
        kind: row.str("kind")?,
        payload,
        attempt: u32::try_from(row.i64("attempts")?).unwrap_or(u32::MAX),
        max_attempts: u32::try_from(row.i64("max_attempts")?).unwrap_or(DEFAULT_MAX_ATTEMPTS),
        enqueued_at: row.i64("enqueued_at")?,
        run_at: row.i64("due_at")?,
        dedupe_key: row.str("dedupe_key"),
        receipt: lease.to_string(),
    })
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::text)
}

fn opt_id(id: Option<JobId>) -> Value {
    id.map_or(Value::Null, |i| Value::text(i.to_string()))
}

#[async_trait]
impl Driver for TableDriver {
    fn name(&self) -> &'static str {
        self.name
    }

    fn durable(&self) -> bool {
        true
    }

    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let mut tx = self.db.begin().await?;
        let out = self.insert_all(&mut tx, &jobs).await?;
        tx.commit().await?;
        for j in &jobs {
            self.wake.wake(&j.kind);
        }
        Ok(out)
    }

    async fn enqueue_in(&self, tx: &mut Tx, jobs: &[NewJob]) -> Result<()> {
        self.insert_all(tx, jobs).await?;
        Ok(())
    }

    fn committed(&self) {
        self.wake.wake_all();
    }

    async fn reserve(&self, kind: &str, max: usize, visibility: Duration) -> Result<Vec<Job>> {
        let now = now_ms();
        let lease = Uuid::new_v4().to_string();
        let params = [
            Value::text(&lease),
            Value::Int(now.saturating_add(ms(visibility))),
            Value::Int(now),
            Value::text(kind),
            Value::Int(i64::try_from(max.max(1)).unwrap_or(i64::MAX)),
        ];
        // A write that returns rows: on SQLite it must run on the writer.
        let mut tx = self.db.begin().await?;
        if let Some(relaxed) = self.relaxed {
            tx.batch(relaxed).await?;
        }
        let rows = tx.query(self.reserve, &params).await?;
        tx.commit().await?;
        let mut jobs: Vec<Job> = rows.into_iter().filter_map(|r| job_from(&r, &lease)).collect();
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    async fn wait(&self, kind: &str, timeout: Duration) {
        let next = match self.db.query_opt(q::NEXT_VISIBLE, &[Value::text(kind)]).await {
            Ok(row) => row.and_then(|r| r.i64("next")),
            Err(_) => None,
        };
        let sleep = match next {
            Some(at) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)).min(timeout),
            None => timeout,
        };
        if sleep.is_zero() {
            return;
        }
        self.wake.wait(kind, sleep).await;
    }

    async fn ack(&self, job: &Job) -> Result<()> {
        self.db
            .execute(
                q::ACK,
                &[Value::text(job.id.to_string()), Value::text(&job.receipt)],
            )
            .await?;
        Ok(())
    }

    async fn ack_many(&self, jobs: &[Job]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let ids = jobs.iter().map(|j| Value::text(j.id.to_string())).collect();
        let mut leases: Vec<Value> = Vec::new();
        for j in jobs {
            let l = Value::text(&j.receipt);
            if !leases.contains(&l) {
                leases.push(l);
            }
        }
        let mut tx = self.db.begin().await?;
        if let Some(relaxed) = self.relaxed {
            tx.batch(relaxed).await?;
        }
        tx.execute(self.ack_many, &[Value::List(ids), Value::List(leases)])
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn retry(&self, job: &Job, error: &str, retry_at: i64) -> Result<()> {
        self.db
            .execute(
                q::RETRY,
                &[
                    Value::Int(retry_at),
                    Value::text(error),
                    Value::Int(now_ms()),
                    Value::text(job.id.to_string()),
                    Value::text(&job.receipt),
                ],
            )
            .await?;
        self.wake.wake(&job.kind);
        Ok(())
    }

    async fn bury(&self, job: &Job, error: &str) -> Result<()> {
        self.db
            .execute(
                q::BURY,
                &[
                    Value::text(error),
                    Value::Int(now_ms()),
                    Value::text(job.id.to_string()),
                    Value::text(&job.receipt),
                ],
            )
            .await?;
        Ok(())
    }

    async fn stats(&self) -> Result<Vec<KindStats>> {
        let rows = self.db.query(q::STATS, &[Value::Int(now_ms())]).await?;
        let n = |r: &Row, c: &str| u64::try_from(r.i64(c).unwrap_or(0)).unwrap_or(0);
        Ok(rows
            .into_iter()
            .map(|r| KindStats {
                kind: r.string("kind"),
                ready: n(&r, "ready"),
                delayed: n(&r, "delayed"),
                in_flight: n(&r, "in_flight"),
                dead: n(&r, "dead"),
            })
            .collect())
    }

    async fn dead(&self, kind: Option<&str>, limit: usize) -> Result<Vec<DeadJob>> {
        let rows = self
            .db
            .query(
                q::DEAD,
                &[
                    opt_text(kind),
                    Value::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
                ],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(DeadJob {
                    id: Uuid::parse_str(&r.str("id")?).ok()?,
                    kind: r.str("kind")?,
                    payload: serde_json::from_str(&r.str("payload")?).unwrap_or(serde_json::Value::Null),
                    attempts: u32::try_from(r.i64("attempts")?).unwrap_or(0),
                    last_error: r.str("last_error").unwrap_or_default(),
                    enqueued_at: r.i64("enqueued_at")?,
                    died_at: r.i64("updated_at")?,
                })
            })
            .collect())
    }

    async fn requeue_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        let n = self
            .db
            .execute(q::REQUEUE, &[Value::Int(now_ms()), opt_text(kind), opt_id(id)])
            .await?;
        self.wake.wake_all();
        Ok(n)
    }

    async fn delete_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        Ok(self
            .db
            .execute(q::DELETE_DEAD, &[opt_text(kind), opt_id(id)])
            .await?)
    }

    async fn close(&self) {
        if let Some(l) = &self.listener {
            l.abort();
        }
    }
}
