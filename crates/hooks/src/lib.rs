//! Webhook delivery (semantics.md §12): the contract's hooks, payload, logs
//! and retries, run on the durable job queue, with a circuit breaker per
//! target URL, a concurrency cap per host, Standard Webhooks signatures and
//! an optional guard against private targets.
//!
//! - [`effect`]: the engine's effect seam: sync hooks inside the write's
//!   transaction, async deliveries enqueued in it (the outbox).
//! - [`deliver`]: one attempt as a job: breaker, host cap, send, log,
//!   schedule the next attempt.
//! - [`client`], [`breaker`], [`guard`], [`sign`]: the HTTP side.
//! - [`logs`]: `_webhook_logs` rows, their batched writer and reads.
//! - [`admin`]: log reads, manual retry and secrets for the admin API.
//!
//! Must not: reach into the engine's write pipeline other than through
//! `EffectHandler`, or persist a resolved `{{env.NAME}}` header or a secret
//! anywhere but `_webhook_secrets`.

pub mod admin;
pub mod breaker;
pub mod client;
pub mod deliver;
pub mod effect;
pub mod guard;
pub mod logs;
pub mod payload;
pub mod sign;
mod statements;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use rocket_apps::{AppContext, AppService, JobKind, Plugins};
use rocket_config::{Config, WebhooksConfig};
use rocket_engine::effects::EffectHandler;
use rocket_queue::KindOptions;

use crate::breaker::{Breakers, HostCaps};
use crate::client::Client;
use crate::logs::LogWriter;

/// The node's webhook machinery, shared by every app.
pub struct Runtime {
    pub config: WebhooksConfig,
    pub client: Client,
    pub breakers: Breakers,
    pub caps: HostCaps,
    writers: Mutex<HashMap<String, Arc<LogWriter>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runtime {
    pub fn new(config: &WebhooksConfig) -> Result<Arc<Runtime>, String> {
        let timeout = Duration::from_secs(config.timeout_secs);
        Ok(Arc::new(Runtime {
            client: Client::new(
                timeout,
                config.response_limit_bytes,
                config.per_host_concurrency,
                config.block_private,
            )?,
            breakers: Breakers::new(
                config.breaker_failures,
                Duration::from_secs_f64(config.breaker_cooldown_secs),
                timeout + Duration::from_secs(5),
            ),
            caps: HostCaps::new(config.per_host_concurrency),
            config: config.clone(),
            writers: Mutex::new(HashMap::new()),
        }))
    }

    /// The log writer of a served app.
    pub fn writer(&self, app: &str) -> Option<Arc<LogWriter>> {
        lock(&self.writers).get(app).cloned()
    }

    fn writer_for(&self, app: &AppContext) -> Arc<LogWriter> {
        lock(&self.writers)
            .entry(app.name.clone())
            .or_insert_with(|| {
                Arc::new(LogWriter::start(
                    &app.name,
                    app.db.clone(),
                    self.config.log_buffer,
                    Duration::from_millis(self.config.log_flush_ms),
                ))
            })
            .clone()
    }
}

/// Flushes an app's log rows on a graceful stop.
struct LogService {
    rt: Arc<Runtime>,
    app: String,
}

impl AppService for LogService {
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let w = lock(&self.rt.writers).remove(&self.app);
            if let Some(w) = w {
                w.flush().await;
            }
        })
    }
}

/// What webhooks plug into a node: the effect handler, the delivery job
/// kind and the per-app log writer.
pub fn plugins(config: &Config) -> Result<(Arc<Runtime>, Plugins), String> {
    let rt = Runtime::new(&config.webhooks)?;
    let effect: Arc<dyn EffectHandler> = Arc::new(effect::WebhookEffects(rt.clone()));
    let make_service = {
        let rt = rt.clone();
        Arc::new(move |app: &Arc<AppContext>| {
            rt.writer_for(app);
            Arc::new(LogService {
                rt: rt.clone(),
                app: app.name.clone(),
            }) as Arc<dyn AppService>
        })
    };
    let make_handler = {
        let rt = rt.clone();
        Arc::new(move |app: &Arc<AppContext>| {
            Arc::new(deliver::DeliverJobs {
                rt: rt.clone(),
                app: Arc::downgrade(app),
                logs: rt.writer_for(app),
            }) as Arc<dyn rocket_queue::Handler>
        })
    };
    let job = JobKind {
        kind: deliver::KIND.to_string(),
        options: Some(KindOptions {
            concurrency: config.webhooks.concurrency,
            // Longer than any attempt (its timeout, then the log and the
            // retry's enqueue), so a slow receiver is not sent twice; not
            // much longer, as it is also how soon a crashed node's
            // in-flight deliveries go out again.
            visibility: Duration::from_secs(config.webhooks.timeout_secs + 10)
                .max(Duration::from_secs(config.queue.visibility_timeout_secs)),
            idle_poll: Duration::from_millis(config.queue.poll_interval_ms),
        }),
        retry: None,
        make: make_handler,
    };
    Ok((
        rt,
        Plugins {
            effects: rocket_engine::effects::Effects::new(vec![effect]),
            jobs: vec![job],
            services: vec![make_service],
        },
    ))
}
