//! Hand-out: one AMQP consumer per kind (manual ack, bounded prefetch)
//! fills a local buffer; `reserve` takes from it without a round trip. A
//! reserved delivery moves to the in-flight table under a receipt; a reaper
//! nacks (requeue) deliveries held past their visibility, which is how the
//! visibility timeout is honoured while the channel stays open.
//!
//! Attempt counting: `attempt = envelope.attempts + returns + 1`, where
//! `envelope.attempts` is carried across retries (republished copies) and
//! `returns` is the quorum queue's `x-delivery-count`, or, on a classic
//! queue, this process's own count of the requeues it made (best effort: a
//! return caused by a lost connection is then not counted).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use lapin::Acker;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use super::conn::bounded;
use super::core::Core;
use super::message::{delivery_count, requeue, Envelope};
use super::topology::bucket_for;
use crate::job::{now_ms, Job};

/// Unacked deliveries the broker pushes per kind before we settle some: a
/// bound on memory and on what a crash of this node hands back.
pub const PREFETCH: u16 = 256;

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Ready {
    pub env: Envelope,
    pub attempt: u32,
    pub acker: Acker,
}

pub struct InFlight {
    pub env: Envelope,
    pub acker: Acker,
    pub deadline: Instant,
}

/// The local side of one kind.
pub struct KindState {
    pub kind: String,
    pub buffer: Mutex<VecDeque<Ready>>,
    pub notify: Notify,
    /// Deliveries held in memory for the last few ms before their due time.
    pub held: AtomicU64,
    started: AtomicBool,
}

/// In-flight deliveries of every kind and the local requeue counts.
#[derive(Default)]
pub struct Flight {
    pub table: Mutex<HashMap<u64, InFlight>>,
    pub requeues: Mutex<HashMap<Uuid, u32>>,
    next: AtomicU64,
}

impl Flight {
    pub fn take(&self, receipt: &str) -> Option<InFlight> {
        let id: u64 = receipt.parse().ok()?;
        lock(&self.table).remove(&id)
    }

    pub fn forget(&self, id: Uuid) {
        lock(&self.requeues).remove(&id);
    }

    pub fn count_of(&self, kind: &str) -> u64 {
        lock(&self.table).values().filter(|f| f.env.kind == kind).count() as u64
    }
}

pub struct Kinds {
    core: Arc<Core>,
    flight: Arc<Flight>,
    map: Mutex<HashMap<String, Arc<KindState>>>,
    stop: watch::Receiver<bool>,
}

impl Kinds {
    pub fn new(core: Arc<Core>, flight: Arc<Flight>, stop: watch::Receiver<bool>) -> Arc<Kinds> {
        let k = Arc::new(Kinds {
            core,
            flight,
            map: Mutex::new(HashMap::new()),
            stop,
        });
        tokio::spawn(reap(Arc::downgrade(&k.flight), k.stop.clone()));
        k
    }

    pub fn known(&self) -> Vec<String> {
        lock(&self.map).keys().cloned().collect()
    }

    pub fn get(&self, kind: &str) -> Option<Arc<KindState>> {
        lock(&self.map).get(kind).cloned()
    }

    /// The kind's state, starting its consumer on first use.
    pub fn consume(self: &Arc<Self>, kind: &str) -> Arc<KindState> {
        let ks = {
            let mut map = lock(&self.map);
            map.entry(kind.to_string())
                .or_insert_with(|| {
                    Arc::new(KindState {
                        kind: kind.to_string(),
                        buffer: Mutex::new(VecDeque::new()),
                        notify: Notify::new(),
                        held: AtomicU64::new(0),
                        started: AtomicBool::new(false),
                    })
                })
                .clone()
        };
        if !ks.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(run(self.clone(), ks.clone()));
        }
        ks
    }

    pub fn reserve(self: &Arc<Self>, kind: &str, max: usize, visibility: Duration) -> Vec<Job> {
        let ks = self.consume(kind);
        let mut out = Vec::new();
        let deadline = Instant::now() + visibility;
        let mut buf = lock(&ks.buffer);
        let mut table = lock(&self.flight.table);
        while out.len() < max {
            let Some(r) = buf.pop_front() else { break };
            if !r.acker.usable() {
                continue; // its channel died: the broker hands it out again
            }
            let receipt = self.flight.next.fetch_add(1, Ordering::Relaxed);
            out.push(Job {
                id: r.env.id,
                kind: r.env.kind.clone(),
                payload: r.env.payload.clone(),
                attempt: r.attempt,
                max_attempts: r.env.max_attempts,
                enqueued_at: r.env.enqueued_at,
                run_at: r.env.due_at,
                dedupe_key: r.env.dedupe_key.clone(),
                receipt: receipt.to_string(),
            });
            table.insert(
                receipt,
                InFlight {
                    env: r.env,
                    acker: r.acker,
                    deadline,
                },
            );
        }
        out
    }

    pub async fn wait(self: &Arc<Self>, kind: &str, timeout: Duration) {
        let ks = self.consume(kind);
        if !lock(&ks.buffer).is_empty() {
            return;
        }
        let _ = tokio::time::timeout(timeout, ks.notify.notified()).await;
    }

    fn push(&self, ks: &KindState, r: Ready) {
        lock(&ks.buffer).push_back(r);
        ks.notify.notify_one();
    }

    fn on_delivery(self: &Arc<Self>, ks: &Arc<KindState>, d: Delivery) {
        let env: Envelope = match serde_json::from_slice(&d.data) {
            Ok(e) => e,
            Err(e) => {
                // Unreadable: reject without requeue, so the work queue's
                // dead-letter exchange keeps it in the dead queue.
                tracing::error!(kind = %ks.kind, error = %e, "rabbitmq: unreadable message dead-lettered");
                tokio::spawn(async move {
                    let _ = bounded(d.acker.reject(BasicRejectOptions { requeue: false })).await;
                });
                return;
            }
        };
        let early = env.due_at - now_ms();
        if early > 0 {
            if bucket_for(early).is_some() {
                tokio::spawn(repark(self.core.clone(), env, d.acker));
            } else {
                // Below the smallest bucket: hold it here until due.
                ks.held.fetch_add(1, Ordering::Relaxed);
                let (me, ks) = (self.clone(), ks.clone());
                let returns = self.returns(&env, &d);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(u64::try_from(early).unwrap_or(0))).await;
                    ks.held.fetch_sub(1, Ordering::Relaxed);
                    let attempt = env.attempts + returns + 1;
                    me.push(
                        &ks,
                        Ready {
                            env,
                            attempt,
                            acker: d.acker,
                        },
                    );
                });
            }
            return;
        }
        let attempt = env.attempts + self.returns(&env, &d) + 1;
        self.push(
            ks,
            Ready {
                env,
                attempt,
                acker: d.acker,
            },
        );
    }

    fn returns(&self, env: &Envelope, d: &Delivery) -> u32 {
        let local = lock(&self.flight.requeues).get(&env.id).copied().unwrap_or(0);
        delivery_count(&d.properties).max(local)
    }
}

/// Re-parks an early message into the bucket for its remaining wait; the
/// original is acked only once the copy is confirmed (a crash in between
/// leaves both: at-least-once, same job id).
async fn repark(core: Arc<Core>, env: Envelope, acker: Acker) {
    let r = async {
        let msg = core.outgoing(&env).await?;
        core.publish_all(vec![msg]).await
    }
    .await;
    match r {
        Ok(()) => {
            let _ = bounded(acker.ack(BasicAckOptions::default())).await;
        }
        Err(e) => {
            tracing::warn!(job = %env.id, error = %e, "rabbitmq: could not re-park a delayed job; it comes back");
            tokio::time::sleep(Duration::from_millis(200)).await;
            requeue(&acker).await;
        }
    }
}

/// The kind's consumer: (re)subscribes on every new connection until the
/// driver closes.
async fn run(kinds: Arc<Kinds>, ks: Arc<KindState>) {
    let mut stop = kinds.stop.clone();
    let core = kinds.core.clone();
    let queue = core.names.work(&ks.kind);
    loop {
        if *stop.borrow() {
            return;
        }
        let sub = async {
            core.ensure_work(&ks.kind).await?;
            let link = core.link().await?;
            let ch = bounded(link.conn.create_channel())
                .await
                .map_err(|e| core.err(e))?;
            bounded(ch.basic_qos(PREFETCH, BasicQosOptions::default()))
                .await
                .map_err(|e| core.err(e))?;
            let consumer = bounded(ch.basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ))
            .await
            .map_err(|e| core.err(e))?;
            Ok::<_, crate::QueueError>((ch, consumer))
        }
        .await;
        let (ch, mut consumer) = match sub {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(kind = %ks.kind, error = %e, "rabbitmq: subscribe failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stop.changed() => return,
                }
                continue;
            }
        };
        loop {
            tokio::select! {
                d = consumer.next() => match d {
                    Some(Ok(d)) => kinds.on_delivery(&ks, d),
                    Some(Err(e)) => {
                        tracing::warn!(kind = %ks.kind, error = %e, "rabbitmq: consumer lost; resubscribing");
                        break;
                    }
                    None => break,
                },
                _ = stop.changed() => {
                    // Closing the channel returns its unacked deliveries.
                    let _ = bounded(ch.close(200, "driver closed".into())).await;
                    return;
                }
            }
        }
        // What the dead channel delivered comes back from the broker.
        lock(&ks.buffer).clear();
        let _ = bounded(ch.close(200, "resubscribing".into())).await;
    }
}

/// Nacks (requeue) deliveries held past their visibility, and drops
/// in-flight entries whose channel died (the broker already requeued them).
async fn reap(flight: Weak<Flight>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stop.changed() => return,
        }
        let Some(flight) = flight.upgrade() else { return };
        let now = Instant::now();
        let expired: Vec<InFlight> = {
            let mut table = lock(&flight.table);
            let ids: Vec<u64> = table
                .iter()
                .filter(|(_, f)| f.deadline <= now || !f.acker.usable())
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| table.remove(&id)).collect()
        };
        for f in expired {
            if !f.acker.usable() {
                continue;
            }
            *lock(&flight.requeues).entry(f.env.id).or_insert(0) += 1;
            requeue(&f.acker).await;
        }
    }
}
