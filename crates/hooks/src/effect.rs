//! Where webhooks meet the write pipeline (semantics.md §12.1), through the
//! engine's effect seam:
//! - `before_write` / `before_delete` (sync): sent one after another inside
//!   the write's transaction; a non-2xx answer is 422 VALIDATION_FAILED, a
//!   network error, timeout or open circuit 502 WEBHOOK_FAILED, and the
//!   write rolls back. Logged outside the transaction.
//! - `after_write` / `after_delete` (async): one delivery job per matched
//!   webhook, enqueued in the write's own transaction (the outbox): the
//!   deliveries exist exactly when the write commits.

use std::sync::Arc;

use chrono::Utc;
use futures_util::future::BoxFuture;
use rocket_engine::effects::{Action, Change, EffectHandler};
use rocket_error::{Detail, Error, ErrorCode, Result};
use rocket_meta::webhooks::{Hook, Webhook};
use rocket_store::Tx;
use serde_json::{Map, Value as Json};

use crate::breaker::Gate;
use crate::client::Outcome;
use crate::deliver::{backoff_is_linear, outcome_row, retry_delay, Delivery};
use crate::payload::{idempotency_key, Event};
use crate::Runtime;

pub struct WebhookEffects(pub Arc<Runtime>);

fn hooks_of(change: &Change<'_>) -> (Hook, Hook) {
    match change.action {
        Action::Delete => (Hook::BeforeDelete, Hook::AfterDelete),
        _ => (Hook::BeforeWrite, Hook::AfterWrite),
    }
}

fn matching<'a>(change: &'a Change<'_>, hook: Hook) -> impl Iterator<Item = &'a Arc<Webhook>> + 'a {
    change
        .logic
        .into_iter()
        .flat_map(|l| l.webhooks.iter())
        .filter(move |w| w.fires_on(hook))
}

fn delivery(w: &Webhook, event: &Event<'_>, body: Json) -> Delivery {
    Delivery {
        log_id: uuid::Uuid::new_v4(),
        webhook_id: w.id.clone(),
        entity: w.entity.clone(),
        hook: w.hook.as_str().to_string(),
        url: w.url.clone(),
        method: w.method.clone(),
        headers: w
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect::<Map<_, _>>(),
        body,
        key: event.key.to_string(),
        attempt: 1,
        max_attempts: w.retry.max_attempts.max(1),
        linear: backoff_is_linear(w.retry.backoff),
        created_at: Utc::now(),
    }
}

impl WebhookEffects {
    async fn sync(&self, change: &Change<'_>, hook: Hook) -> Result<()> {
        let record = change.fields;
        let key = idempotency_key();
        let event = Event {
            hook,
            entity: &change.entity.name,
            action: change.action,
            record,
            old: change.old,
            user: change.user,
            key: &key,
        };
        let mut payload = None;
        for w in matching(change, hook) {
            if let Some(cond) = &w.condition {
                match cond.eval_bool(&event.vars()) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        return Err(Error::validation_details(vec![Detail {
                            field: None,
                            rule: Some("webhook".into()),
                            message: format!("Webhook condition could not be evaluated: {e}"),
                        }]))
                    }
                }
            }
            let body = payload.get_or_insert_with(|| event.payload()).clone();
            let d = delivery(w, &event, body);
            let outcome = match self.0.breakers.check(&d.url) {
                Gate::Open { .. } => {
                    metrics::counter!("rocket_webhook_fast_failed_total").increment(1);
                    Outcome::failed(format!("circuit open for {}; not sent", d.url))
                }
                Gate::Pass | Gate::Probe => {
                    let now = Utc::now();
                    let secrets = w.secrets.signing(now);
                    self.0.attempt(&d, &secrets).await
                }
            };
            self.log_sync(change, &d, &outcome).await;
            if outcome.ok() {
                continue;
            }
            return Err(match outcome.status {
                Some(code) => Error::validation_details(vec![Detail {
                    field: None,
                    rule: Some("webhook".into()),
                    message: format!("Webhook rejected the write (HTTP {code})"),
                }]),
                None => Error::new(
                    ErrorCode::WebhookFailed,
                    format!("Webhook failed: {}", outcome.error),
                ),
            });
        }
        Ok(())
    }

    /// The sync attempt's log row, outside the transaction; a failure with
    /// attempts left is retried on the queue as the contract schedules it.
    /// Both run after the request lets go of its transaction (a spawned
    /// task): enqueueing here would take a second pool connection while the
    /// transaction holds one, and under load every request would wait for
    /// the pool's checkout timeout.
    async fn log_sync(&self, change: &Change<'_>, d: &Delivery, o: &Outcome) {
        let retry = (!o.ok() && d.max_attempts > 1).then(|| {
            let at = Utc::now()
                + chrono::Duration::from_std(retry_delay(1, d.linear, self.0.retry_base()))
                    .unwrap_or(chrono::Duration::MAX);
            let mut again = d.clone();
            again.attempt = 2;
            (again, at)
        });
        let queue = change.queue.cloned();
        let (rt, app, db) = (self.0.clone(), change.app.to_string(), change.db.clone());
        let (d, o) = (d.clone(), o.clone());
        tokio::spawn(async move {
            let mut next = None;
            if let (Some((again, at)), Some(q)) = (retry, queue) {
                next = q.enqueue(again.job(Some(at))).await.is_ok().then_some(at);
            }
            let row = outcome_row(&d, 1, &o, next);
            match rt.writer(&app) {
                Some(w) => w.push(row),
                None => {
                    if let Err(e) = crate::logs::write(&db, &[row]).await {
                        tracing::warn!(error = %e, "webhook log not written");
                    }
                }
            }
        });
    }

    async fn enqueue_async(&self, tx: &mut Tx, change: &Change<'_>, hook: Hook) -> Result<()> {
        let mut hooks = matching(change, hook).peekable();
        if hooks.peek().is_none() {
            return Ok(());
        }
        let Some(queue) = change.queue else {
            tracing::warn!(app = change.app, "no job queue wired; async webhooks skipped");
            return Ok(());
        };
        // after_write sends the stored row; after_delete the row it removed.
        let record = change.row.unwrap_or(change.fields);
        let key = idempotency_key();
        let event = Event {
            hook,
            entity: &change.entity.name,
            action: change.action,
            record,
            old: change.old,
            user: change.user,
            key: &key,
        };
        let mut payload = None;
        let mut jobs = Vec::new();
        for w in hooks {
            if let Some(cond) = &w.condition {
                match cond.eval_bool(&event.vars()) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(webhook = %w.id, error = %e, "webhook condition failed; skipped");
                        continue;
                    }
                }
            }
            let body = payload.get_or_insert_with(|| event.payload()).clone();
            jobs.push(delivery(w, &event, body).job(None));
        }
        if jobs.is_empty() {
            return Ok(());
        }
        let queued = if queue.driver().durable() {
            queue.enqueue_in(tx, jobs).await
        } else {
            // The memory driver has no outbox: queued just before commit (a
            // commit that then fails can still send; it is not durable anyway).
            queue.enqueue_many(jobs).await.map(|_| ())
        };
        queued.map_err(|e| match e {
            rocket_queue::QueueError::Full(_) | rocket_queue::QueueError::Unavailable { .. } => {
                Error::overloaded(format!("webhook deliveries cannot be queued: {e}"))
            }
            other => Error::internal(format!("webhook deliveries: {other}")),
        })
    }
}

impl EffectHandler for WebhookEffects {
    fn before_commit<'a>(&'a self, tx: &'a mut Tx, change: &'a Change<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (before, after) = hooks_of(change);
            self.sync(change, before).await?;
            self.enqueue_async(tx, change, after).await
        })
    }

    fn after_commit<'a>(&'a self, change: &'a Change<'a>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let (_, after) = hooks_of(change);
            if matching(change, after).next().is_some() {
                if let Some(q) = change.queue {
                    q.committed();
                }
            }
        })
    }
}
