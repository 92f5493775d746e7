//! `Queue`: what subsystems hold. One per app, over that app's driver
//! instance; it fills in the kind's attempt limit and counts what it does.

use std::collections::HashMap;
use std::sync::Arc;

use rocket_store::Tx;

use crate::driver::{Driver, Result};
use crate::job::{DeadJob, Enqueued, JobId, KindStats, NewJob};
use crate::retry::RetryPolicy;

/// Retry policy per kind, with a default for kinds not named.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub default: RetryPolicy,
    pub kinds: HashMap<String, RetryPolicy>,
}

impl Policies {
    pub fn of(&self, kind: &str) -> &RetryPolicy {
        self.kinds.get(kind).unwrap_or(&self.default)
    }
}

#[derive(Clone)]
pub struct Queue {
    app: Arc<str>,
    driver: Arc<dyn Driver>,
    policies: Arc<Policies>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Queue({} on {})", self.app, self.driver.name())
    }
}

impl Queue {
    pub fn new(app: &str, driver: Arc<dyn Driver>, policies: Arc<Policies>) -> Queue {
        Queue {
            app: app.into(),
            driver,
            policies,
        }
    }

    pub fn app(&self) -> &str {
        &self.app
    }

    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.driver
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    fn prepare(&self, mut jobs: Vec<NewJob>) -> Vec<NewJob> {
        for j in &mut jobs {
            if j.max_attempts.is_none() {
                j.max_attempts = Some(self.policies.of(&j.kind).max_attempts.max(1));
            }
        }
        jobs
    }

    /// One counter lookup per run of same-kind jobs, not per job.
    fn count(&self, jobs: &[NewJob]) {
        for run in jobs.chunk_by(|a, b| a.kind == b.kind) {
            metrics::counter!("rocket_queue_enqueued_total", "app" => self.app.to_string(), "kind" => run[0].kind.clone())
                .increment(run.len() as u64);
        }
    }

    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let mut out = self.enqueue_many(vec![job]).await?;
        Ok(out.pop().unwrap_or(Enqueued::Duplicate(None)))
    }

    pub async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let jobs = self.prepare(jobs);
        self.count(&jobs);
        self.driver.enqueue(jobs).await
    }

    /// The outbox: the jobs exist if and only if `tx` commits. Call
    /// [`Queue::committed`] after the commit to skip the poll delay.
    pub async fn enqueue_in(&self, tx: &mut Tx, jobs: Vec<NewJob>) -> Result<()> {
        let jobs = self.prepare(jobs);
        self.driver.enqueue_in(tx, &jobs).await?;
        self.count(&jobs);
        Ok(())
    }

    pub fn committed(&self) {
        self.driver.committed();
    }

    pub async fn stats(&self) -> Result<Vec<KindStats>> {
        self.driver.stats().await
    }

    pub async fn dead(&self, kind: Option<&str>, limit: usize) -> Result<Vec<DeadJob>> {
        self.driver.dead(kind, limit).await
    }

    pub async fn requeue_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        let n = self.driver.requeue_dead(kind, id).await?;
        self.driver.committed();
        Ok(n)
    }

    pub async fn delete_dead(&self, kind: Option<&str>, id: Option<JobId>) -> Result<u64> {
        self.driver.delete_dead(kind, id).await
    }

    /// Publishes the per-kind gauges (`rocket_queue_jobs{state=...}`).
    pub async fn sample_gauges(&self) {
        let Ok(stats) = self.driver.stats().await else {
            return;
        };
        for s in stats {
            for (state, n) in [
                ("ready", s.ready),
                ("delayed", s.delayed),
                ("in_flight", s.in_flight),
                ("dead", s.dead),
            ] {
                metrics::gauge!("rocket_queue_jobs", "app" => self.app.to_string(), "kind" => s.kind.clone(), "state" => state)
                    .set(n as f64);
            }
        }
    }
}
