//! The `memory` driver: bounded and explicitly not durable (a restart loses
//! every job). For tests and throwaway runs; when full, enqueue answers
//! [`QueueError::Full`], which the HTTP layer turns into 503 + Retry-After.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rocket_store::Tx;
use uuid::Uuid;

use crate::driver::{Driver, QueueError, Result};
use crate::job::{now_ms, DeadJob, Enqueued, Job, JobId, KindStats, NewJob, DEFAULT_MAX_ATTEMPTS};
use crate::wake::Wakers;

struct Entry {
    job: NewJob,
    attempts: u32,
    enqueued_at: i64,
    /// Due time: run_at while waiting, the visibility deadline while held.
    due: i64,
    /// Some while reserved.
    lease: Option<String>,
}

#[derive(Default)]
struct State {
    jobs: HashMap<JobId, Entry>,
    /// (kind, due, id): the next due job of a kind is the first in range.
    by_due: BTreeSet<(String, i64, JobId)>,
    dedupe: HashMap<(String, String), JobId>,
    dead: Vec<DeadJob>,
}

pub struct MemoryDriver {
    capacity: usize,
    state: Mutex<State>,
    wake: Wakers,
}

impl MemoryDriver {
    pub fn new(capacity: usize) -> MemoryDriver {
        MemoryDriver {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
            wake: Wakers::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated
        // in a way later calls would misread, so a poisoned lock is reused.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn settle(&self, job: &Job) -> Option<Entry> {
        let mut st = self.lock();
        let held = st
            .jobs
            .get(&job.id)
            .is_some_and(|e| e.lease.as_deref() == Some(job.receipt.as_str()));
        if !held {
            return None; // the lease expired and someone else holds it now
        }
        let e = st.jobs.remove(&job.id)?;
        st.by_due.remove(&(e.job.kind.clone(), e.due, job.id));
        if let Some(k) = &e.job.dedupe_key {
            st.dedupe.remove(&(e.job.kind.clone(), k.clone()));
        }
        Some(e)
    }
}

#[async_trait]
impl Driver for MemoryDriver {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn durable(&self) -> bool {
        false
    }

    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let mut out = Vec::with_capacity(jobs.len());
        let mut kinds = Vec::new();
        {
            let mut st = self.lock();
            if st.jobs.len() + jobs.len() > self.capacity {
                return Err(QueueError::Full(self.capacity));
            }
            for job in jobs {
                if let Some(k) = &job.dedupe_key {
                    if let Some(id) = st.dedupe.get(&(job.kind.clone(), k.clone())) {
                        out.push(Enqueued::Duplicate(Some(*id)));
                        continue;
                    }
                    st.dedupe.insert((job.kind.clone(), k.clone()), job.id);
                }
                st.by_due.insert((job.kind.clone(), job.run_at, job.id));
                kinds.push(job.kind.clone());
                out.push(Enqueued::New(job.id));
                st.jobs.insert(
                    job.id,
                    Entry {
                        due: job.run_at,
                        attempts: 0,
                        enqueued_at: now_ms(),
                        lease: None,
                        job,
                    },
                );
            }
        }
        for k in kinds {
            self.wake.wake(&k);
        }
        Ok(out)
    }

    async fn enqueue_in(&self, _tx: &mut Tx, _jobs: &[NewJob]) -> Result<()> {
        Err(QueueError::Unsupported(
            "the memory queue has no outbox: use a durable driver (sqlite, postgres, redis, rabbitmq)".into(),
        ))
    }

    async fn reserve(&self, kind: &str, max: usize, visibility: Duration) -> Result<Vec<Job>> {
        let now = now_ms();
        let deadline = now.saturating_add(i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX));
        let mut st = self.lock();
        let due: Vec<(String, i64, JobId)> = st
            .by_due
            .range((kind.to_string(), i64::MIN, Uuid::nil())..=(kind.to_string(), now, Uuid::max()))
            .take(max)
            .cloned()
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for key in due {
            st.by_due.remove(&key);
            let id = key.2;
            let Some(e) = st.jobs.get_mut(&id) else { continue };
            let receipt = Uuid::new_v4().to_string();
            e.attempts += 1;
            e.due = deadline;
            e.lease = Some(receipt.clone());
            let job = Job {
                id,
                kind: e.job.kind.clone(),
                payload: e.job.payload.clone(),
                attempt: e.attempts,
                max_attempts: e.job.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS),
                enqueued_at: e.enqueued_at,
                run_at: e.job.run_at,
                dedupe_key: e.job.dedupe_key.clone(),
                receipt,
            };
            st.by_due.insert((kind.to_string(), deadline, id));
            out.push(job);
        }
        Ok(out)
    }

    async fn wait(&self, kind: &str, timeout: Duration) {
        let next = {
            let st = self.lock();
            st.by_due
                .range((kind.to_string(), i64::MIN, Uuid::nil())..=(kind.to_string(), i64::MAX, Uuid::max()))
                .next()
                .map(|k| k.1)
        };
        let until_due = next.map(|due| Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)));
        let sleep = until_due.map_or(timeout, |d| d.min(timeout));
        if sleep.is_zero() {
            return;
        }
        self.wake.wait(kind, sleep).await;
    }

    async fn ack(&self, job: &Job) -> Result<()> {
        self.settle(job);
        Ok(())
    }

    async fn retry(&self, job: &Job, error: &str, retry_at: i64) -> Result<()> {
        let mut st = self.lock();
        let Some(e) = st.jobs.get_mut(&job.id) else {
            return Ok(());
        };
        if e.lease.as_deref() != Some(job.receipt.as_str()) {
            return Ok(());
        }
        let old = e.due;
        e.due = retry_at;
        e.lease = None;
        tracing::debug!(job = %job.id, error, "memory queue: retry scheduled");
        let kind = e.job.kind.clone();
        st.by_due.remove(&(kind.clone(), old, job.id));
        st.by_due.insert((kind, retry_at, job.id));
        drop(st);
        self.wake.wake(&job.kind);
        Ok(())
    }

    async fn bury(&self, job: &Job, error: &str) -> Result<()> {
        if let Some(e) = self.settle(job) {
            let mut st = self.lock();
            st.dead.push(DeadJob {
                id: job.id,
                kind: e.job.kind,
                payload: e.job.payload,
                attempts: e.attempts,
                last_error: error.to_string(),
                enqueued_at: e.enqueued_at,
                died_at: now_ms(),
            });
        }
        Ok(())
    }

    async fn stats(&self) -> Result<Vec<KindStats>> {
        let now = now_ms();
        let st = self.lock();
        let mut by: HashMap<&str, KindStats> = HashMap::new();
        for e in st.jobs.values() {
            let s = by.entry(e.job.kind.as_str()).or_default();
            if e.lease.is_some() {
                s.in_flight += 1;
            } else if e.due > now {
                s.delayed += 1;
            } else {
                s.ready += 1;
            }
        }
        for d in &st.dead {
            by.entry(d.kind.as_str()).or_default().dead += 1;
        }
        let mut out: Vec<KindStats> = by
            .into_iter()
            .map(|(k, mut s)| {
                s.kind = k.to_string();
                s
            })
            .collect();
        out.sort_by(|a, b| a.kind.cmp(&b.kind));
        Ok(out)
    }

    async fn dead(&self, kind: Option<&str>, limit: usize) -> Result<Vec<DeadJob>> {
        let st = self.lock();
        Ok(st
            .dead
            .iter()
            .rev()
            .filter(|d| kind.is_none_or(|k| d.kind == k))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn requeue_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        let picked: Vec<DeadJob> = {
            let mut st = self.lock();
            let (take, keep): (Vec<DeadJob>, Vec<DeadJob>) = std::mem::take(&mut st.dead)
                .into_iter()
                .partition(|d| kind.is_none_or(|k| d.kind == k) && id.is_none_or(|i| d.id == i));
            st.dead = keep;
            take
        };
        let n = picked.len() as u64;
        let jobs = picked
            .into_iter()
            .map(|d| NewJob {
                id: d.id,
                kind: d.kind,
                payload: d.payload,
                run_at: now_ms(),
                dedupe_key: None,
                max_attempts: None,
            })
            .collect();
        self.enqueue(jobs).await?;
        Ok(n)
    }

    async fn delete_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        let mut st = self.lock();
        let before = st.dead.len();
        st.dead
            .retain(|d| !(kind.is_none_or(|k| d.kind == k) && id.is_none_or(|i| d.id == i)));
        Ok((before - st.dead.len()) as u64)
    }
}
