//! One delivery attempt of a webhook, as a job on the app's queue.
//!
//! The job carries everything the attempt sends (method, URL, header
//! templates, body, idempotency key) and which attempt it is. Outcomes:
//! delivered; failed with attempts left -> the next attempt is enqueued as
//! a delayed job (30 s, then 30 s x 2^attempt, or x attempt when linear)
//! and the log says `retrying`; failed for good -> `failed`. An open
//! circuit or a saturated host does not spend an attempt: the job is put
//! back for later. Retries (attempt > 1) first claim their attempt on the
//! log row, so a scheduled and a manual retry never both send.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rocket_apps::AppContext;
use rocket_meta::webhooks::Backoff;
use rocket_queue::{Handler, Job, NewJob, Queue};
use rocket_store::{Db, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::breaker::Gate;
use crate::client::{resolve_env, Outcome, Request};
use crate::logs::{LogRow, LogWriter};
use crate::statements as q;
use crate::{sign, Runtime};

pub const KIND: &str = "webhook.deliver";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub log_id: Uuid,
    pub webhook_id: String,
    pub entity: String,
    pub hook: String,
    pub url: String,
    pub method: String,
    /// Header templates (`{{env.NAME}}` unresolved).
    pub headers: Map<String, Json>,
    pub body: Json,
    pub key: String,
    pub attempt: u32,
    pub max_attempts: u32,
    #[serde(default)]
    pub linear: bool,
    pub created_at: DateTime<Utc>,
}

impl Delivery {
    pub fn job(&self, run_at: Option<DateTime<Utc>>) -> NewJob {
        let payload = serde_json::to_value(self).unwrap_or(Json::Null);
        let mut job = NewJob::new(KIND, payload);
        // The queue's own retries are for failures around the attempt (the
        // log database away); the webhook's schedule is ours.
        job.max_attempts = Some(5);
        if let Some(at) = run_at {
            job.run_at = at.timestamp_millis();
        }
        job
    }
}

/// The wait before attempt `attempt + 1` after `attempt` failed.
pub fn retry_delay(attempt: u32, linear: bool, base: Duration) -> Duration {
    let a = attempt.max(1);
    if linear {
        base.saturating_mul(a)
    } else if a == 1 {
        base
    } else {
        base.saturating_mul(1u32 << a.min(20))
    }
}

pub fn backoff_is_linear(b: Backoff) -> bool {
    b == Backoff::Linear
}

/// The log row of an attempt's outcome.
pub fn outcome_row(d: &Delivery, attempt: u32, o: &Outcome, next: Option<DateTime<Utc>>) -> LogRow {
    let now = Utc::now();
    LogRow {
        id: d.log_id,
        webhook_id: d.webhook_id.clone(),
        entity: d.entity.clone(),
        hook: d.hook.clone(),
        url: d.url.clone(),
        method: d.method.clone(),
        request_headers: Json::Object(d.headers.clone()),
        request_body: d.body.clone(),
        response_status: o.status,
        response_body: o.body.clone(),
        status: if o.ok() {
            "delivered"
        } else if next.is_some() {
            "retrying"
        } else {
            "failed"
        },
        attempt,
        max_attempts: d.max_attempts,
        next_retry_at: if o.ok() { None } else { next },
        error: o.error.clone(),
        idempotency_key: d.key.clone(),
        created_at: d.created_at,
        updated_at: now,
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Runtime {
    /// Sends one attempt: the resolved headers, the signature headers when
    /// the webhook has a secret, the body.
    pub async fn attempt(&self, d: &Delivery, secrets: &[&str]) -> Outcome {
        let body = match serde_json::to_vec(&d.body) {
            Ok(b) => bytes::Bytes::from(b),
            Err(e) => return Outcome::failed(format!("payload: {e}")),
        };
        let mut headers: Vec<(String, String)> = d
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), resolve_env(v.as_str().unwrap_or_default())))
            .collect();
        let ts = Utc::now().timestamp();
        if let Some(sig) = sign::header(secrets, &d.key, ts, &body) {
            headers.push(("webhook-id".into(), d.key.clone()));
            headers.push(("webhook-timestamp".into(), ts.to_string()));
            headers.push(("webhook-signature".into(), sig));
        }
        let started = Instant::now();
        let o = self
            .client
            .send(Request {
                method: &d.method,
                url: &d.url,
                headers,
                body,
            })
            .await;
        metrics::histogram!("rocket_webhook_attempt_seconds").record(started.elapsed().as_secs_f64());
        let result = if o.ok() { "delivered" } else { "failed" };
        metrics::counter!("rocket_webhook_attempts_total", "result" => result).increment(1);
        if o.ok() {
            self.breakers.success(&d.url);
        } else if self.breakers.failure(&d.url) {
            tracing::warn!(url = %d.url, "webhook: circuit opened after repeated failures");
        }
        metrics::gauge!("rocket_webhook_circuits_open").set(self.breakers.open_count() as f64);
        o
    }

    pub fn retry_base(&self) -> Duration {
        Duration::from_secs_f64(self.config.retry_base_secs)
    }
}

/// The per-app consumer of [`KIND`].
pub struct DeliverJobs {
    pub rt: Arc<Runtime>,
    pub app: Weak<AppContext>,
    pub logs: Arc<LogWriter>,
}

enum Claim {
    Mine,
    Taken,
}

async fn claim(db: &Db, d: &Delivery) -> rocket_store::Result<Claim> {
    let now = Value::Timestamp(Utc::now());
    let n = db
        .execute(
            q::CLAIM,
            &[Value::Uuid(d.log_id), Value::Int(i64::from(d.attempt)), now],
        )
        .await?;
    if n == 1 {
        return Ok(Claim::Mine);
    }
    // No row at all: the first attempt's buffered row never made it (a
    // crash); the retry goes out and writes the row itself.
    let exists = db.query_opt(q::EXISTS, &[Value::Uuid(d.log_id)]).await?.is_some();
    Ok(if exists { Claim::Taken } else { Claim::Mine })
}

#[async_trait]
impl Handler for DeliverJobs {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        let Some(app) = self.app.upgrade() else {
            return Err("app closed".into());
        };
        let d: Delivery =
            serde_json::from_value(job.payload.clone()).map_err(|e| format!("bad delivery job: {e}"))?;
        let reg = app.registry();
        let hook = reg
            .logic(&d.entity)
            .and_then(|l| l.webhooks.iter().find(|w| w.id == d.webhook_id).cloned());
        let now = Utc::now();
        let secrets: Vec<String> = hook
            .as_ref()
            .map(|w| w.secrets.signing(now).into_iter().map(String::from).collect())
            .unwrap_or_default();
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let direct = d.attempt > 1;

        // An open circuit: no network call; logged, put back for its probe.
        if let Gate::Open { retry_at } = self.rt.breakers.check(&d.url) {
            metrics::counter!("rocket_webhook_fast_failed_total").increment(1);
            let wait = retry_at.saturating_duration_since(Instant::now()) + jitter(250);
            let at = now + to_chrono(wait);
            let o = Outcome::failed(format!("circuit open for {}; not sent", d.url));
            let mut row = outcome_row(&d, d.attempt.saturating_sub(1), &o, Some(at));
            row.status = "retrying";
            self.requeue(&app.queue, &d, at).await?;
            self.log(&app.db, row, direct).await;
            return Ok(());
        }
        let host = url::Url::parse(&d.url)
            .ok()
            .and_then(|u| u.host_str().map(String::from))
            .unwrap_or_default();
        let Some(_slot) = self.rt.caps.acquire(&host, Duration::from_millis(50)).await else {
            // The host has its share of workers busy: wait on the queue.
            let at = now + to_chrono(Duration::from_millis(200) + jitter(300));
            self.requeue(&app.queue, &d, at).await?;
            return Ok(());
        };
        if direct {
            match claim(&app.db, &d).await.map_err(|e| e.to_string())? {
                Claim::Mine => {}
                Claim::Taken => return Ok(()), // another job made this attempt
            }
        }
        let o = self.rt.attempt(&d, &secret_refs).await;
        let next = (!o.ok() && d.attempt < d.max_attempts)
            .then(|| Utc::now() + to_chrono(retry_delay(d.attempt, d.linear, self.rt.retry_base())));
        if let Some(at) = next {
            let mut again = d.clone();
            again.attempt += 1;
            app.queue
                .enqueue(again.job(Some(at)))
                .await
                .map_err(|e| format!("could not schedule the retry: {e}"))?;
        }
        self.log(&app.db, outcome_row(&d, d.attempt, &o, next), direct)
            .await;
        Ok(())
    }
}

fn jitter(max_ms: u64) -> Duration {
    Duration::from_millis(rand::random_range(0..=max_ms))
}

impl DeliverJobs {
    async fn requeue(&self, queue: &Queue, d: &Delivery, at: DateTime<Utc>) -> Result<(), String> {
        queue
            .enqueue(d.job(Some(at)))
            .await
            .map(|_| ())
            .map_err(|e| format!("could not reschedule: {e}"))
    }

    /// Retries write directly (rare, and the next claim reads the row);
    /// first attempts go through the batching writer.
    async fn log(&self, db: &Db, row: LogRow, direct: bool) {
        if direct {
            if let Err(e) = crate::logs::write(db, std::slice::from_ref(&row)).await {
                tracing::warn!(log = %row.id, error = %e, "webhook log not written");
            }
        } else {
            self.logs.push(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_schedule() {
        let b = Duration::from_secs(30);
        assert_eq!(retry_delay(1, false, b), Duration::from_secs(30));
        assert_eq!(retry_delay(2, false, b), Duration::from_secs(120));
        assert_eq!(retry_delay(3, false, b), Duration::from_secs(240));
        assert_eq!(retry_delay(4, false, b), Duration::from_secs(480));
        assert_eq!(retry_delay(1, true, b), Duration::from_secs(30));
        assert_eq!(retry_delay(3, true, b), Duration::from_secs(90));
    }
}
