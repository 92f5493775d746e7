//! What every part of one app's driver shares: the broker link, the names,
//! lazily declared topology, and confirmed publishing (also the outbox
//! relay's target).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation, ExchangeKind};

use super::conn::{bounded, unavailable, within, Broker, Link, OpError};
use super::message::{job_properties, Envelope};
use super::topology::{self as topo, Names};
use crate::driver::{QueueError, Result};
use crate::job::{now_ms, NewJob};
use crate::outbox::Publish;

/// How long a publish waits for a lost connection to come back before it
/// answers Unavailable (the caller, or the outbox relay, retries).
const PUBLISH_WAIT: Duration = Duration::from_secs(2);

/// How long a published batch waits for its confirms before it counts as
/// not published (the caller retries; the broker may then hold a copy:
/// at-least-once, same job id).
const CONFIRM_WAIT: Duration = Duration::from_secs(10);

pub struct Core {
    pub broker: Arc<Broker>,
    pub names: Names,
    /// Queues (and the dead exchange) declared by this process. Durable, so
    /// they outlive reconnects; only a first use per name costs a round trip.
    declared: Mutex<HashSet<String>>,
    declaring: tokio::sync::Mutex<()>,
    /// Cleared after a quorum declare fails (a server without quorum
    /// queues): later work queues are classic durable.
    quorum: std::sync::atomic::AtomicBool,
}

/// One message to publish on the default exchange.
pub struct Outgoing {
    pub queue: String,
    pub body: Vec<u8>,
    pub props: BasicProperties,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Core {
    pub fn new(broker: Arc<Broker>, app: &str) -> Core {
        Core {
            broker,
            names: Names::new(app),
            declared: Mutex::new(HashSet::new()),
            declaring: tokio::sync::Mutex::new(()),
            quorum: std::sync::atomic::AtomicBool::new(true),
        }
    }

    pub fn err(&self, e: impl std::fmt::Display) -> QueueError {
        unavailable(&self.broker.host, e)
    }

    pub async fn link(&self) -> Result<Arc<Link>> {
        self.broker.link(PUBLISH_WAIT).await
    }

    pub fn declared_names(&self) -> Vec<String> {
        lock(&self.declared).iter().cloned().collect()
    }

    pub fn is_declared(&self, name: &str) -> bool {
        lock(&self.declared).contains(name)
    }

    /// Declares on a throwaway channel: a failed declare closes its channel,
    /// and that must not be the publishing or a consuming one.
    async fn declare(&self, link: &Link, name: &str, args: FieldTable) -> std::result::Result<(), OpError> {
        let ch = bounded(link.conn.create_channel()).await?;
        let r = bounded(ch.queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        ))
        .await;
        let _ = bounded(ch.close(200, "declared".into())).await;
        r.map(|_| ())
    }

    async fn ensure<F>(&self, name: &str, f: F) -> Result<()>
    where
        F: std::future::Future<Output = Result<()>>,
    {
        if self.is_declared(name) {
            return Ok(());
        }
        let _g = self.declaring.lock().await;
        if self.is_declared(name) {
            return Ok(());
        }
        f.await?;
        lock(&self.declared).insert(name.to_string());
        Ok(())
    }

    /// The dead queue and the fanout exchange work queues dead-letter into.
    pub async fn ensure_dead(&self) -> Result<()> {
        let dead = self.names.dead();
        self.ensure(&dead, async {
            let link = self.link().await?;
            let ch = bounded(link.conn.create_channel())
                .await
                .map_err(|e| self.err(e))?;
            let r = bounded(async {
                ch.exchange_declare(
                    dead.as_str().into(),
                    ExchangeKind::Fanout,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?;
                // Classic, not quorum: the admin scan reads it with basic.get
                // and returns every message, and quorum queues count those
                // returns toward a delivery limit.
                ch.queue_declare(
                    dead.as_str().into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await?;
                ch.queue_bind(
                    dead.as_str().into(),
                    dead.as_str().into(),
                    "".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
            })
            .await;
            let _ = bounded(ch.close(200, "declared".into())).await;
            r.map_err(|e| self.err(e))
        })
        .await
    }

    /// The kind's work queue: quorum when the server has them.
    pub async fn ensure_work(&self, kind: &str) -> Result<()> {
        self.ensure_dead().await?;
        let name = self.names.work(kind);
        let dead = self.names.dead();
        self.ensure(&name, async {
            use std::sync::atomic::Ordering;
            let link = self.link().await?;
            if self.quorum.load(Ordering::Relaxed) {
                match self.declare(&link, &name, topo::work_args_quorum(&dead)).await {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        tracing::warn!(queue = %name, error = %e, "rabbitmq: quorum queue refused; using a classic durable queue");
                    }
                }
            }
            let r = self.declare(&link, &name, topo::work_args_classic(&dead)).await;
            if r.is_ok() {
                self.quorum.store(false, Ordering::Relaxed);
            }
            r.map_err(|e| self.err(e))
        })
        .await
    }

    pub async fn ensure_bucket(&self, kind: &str, ms: i64) -> Result<()> {
        let name = self.names.bucket(kind, ms);
        let work = self.names.work(kind);
        self.ensure(&name, async {
            let link = self.link().await?;
            self.declare(&link, &name, topo::bucket_args(ms, &work))
                .await
                .map_err(|e| self.err(e))
        })
        .await
    }

    /// Where a job goes now: its delay bucket, or the work queue when due
    /// (or due within the smallest bucket; the consumer holds those).
    pub async fn route(&self, e: &Envelope) -> Result<String> {
        self.ensure_work(&e.kind).await?;
        match topo::bucket_for(e.due_at - now_ms()) {
            Some(ms) => {
                self.ensure_bucket(&e.kind, ms).await?;
                Ok(self.names.bucket(&e.kind, ms))
            }
            None => Ok(self.names.work(&e.kind)),
        }
    }

    pub async fn outgoing(&self, e: &Envelope) -> Result<Outgoing> {
        Ok(Outgoing {
            queue: self.route(e).await?,
            body: serde_json::to_vec(e).map_err(|x| QueueError::Other(x.to_string()))?,
            props: job_properties(e),
        })
    }

    /// Publishes every message (persistent, mandatory) and returns once the
    /// broker confirmed all of them; pipelined, so a batch costs about one
    /// round trip and one fsync.
    pub async fn publish_all(&self, msgs: Vec<Outgoing>) -> Result<()> {
        if msgs.is_empty() {
            return Ok(());
        }
        let link = self.link().await?;
        let ch = link.publisher().await.map_err(|e| self.err(e))?;
        let mut confirms = Vec::with_capacity(msgs.len());
        for m in msgs {
            let c = bounded(ch.basic_publish(
                "".into(),
                m.queue.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &m.body,
                m.props,
            ))
            .await
            .map_err(|e| self.err(e))?;
            confirms.push(c);
        }
        // One deadline for the whole batch's confirms, not one per message.
        let end = tokio::time::Instant::now() + CONFIRM_WAIT;
        let mut failure = None;
        for c in confirms {
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            match within(left, c).await.map_err(|e| self.err(e)) {
                Ok(Confirmation::Ack(None)) => {}
                Ok(Confirmation::Ack(Some(_))) => {
                    failure.get_or_insert(QueueError::Other(
                        "rabbitmq: message unroutable (queue missing)".into(),
                    ));
                }
                Ok(Confirmation::Nack(_)) => {
                    failure.get_or_insert(self.err("broker refused the message (nack)"));
                }
                Ok(Confirmation::NotRequested) => {
                    failure.get_or_insert(QueueError::Other("rabbitmq: publisher confirms are off".into()));
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(()), Err)
    }

    pub async fn publish_jobs(&self, envs: &[Envelope]) -> Result<()> {
        let mut msgs = Vec::with_capacity(envs.len());
        // Due jobs of one kind (the common batch) share one route lookup.
        let mut last: Option<(&str, String)> = None;
        for e in envs {
            let due = topo::bucket_for(e.due_at - now_ms()).is_none();
            let queue = match &last {
                Some((kind, q)) if due && *kind == e.kind.as_str() => q.clone(),
                _ => {
                    let q = self.route(e).await?;
                    if due {
                        last = Some((e.kind.as_str(), q.clone()));
                    }
                    q
                }
            };
            msgs.push(Outgoing {
                queue,
                body: serde_json::to_vec(e).map_err(|x| QueueError::Other(x.to_string()))?,
                props: job_properties(e),
            });
        }
        self.publish_all(msgs).await
    }
}

/// The outbox relay's target: claimed rows become fresh jobs (their dedupe
/// keys were taken in the business transaction).
pub struct Relay(pub Arc<Core>);

#[async_trait]
impl Publish for Relay {
    async fn publish(&self, jobs: Vec<NewJob>) -> Result<()> {
        let envs: Vec<Envelope> = jobs.iter().map(Envelope::fresh).collect();
        self.0.publish_jobs(&envs).await
    }
}
