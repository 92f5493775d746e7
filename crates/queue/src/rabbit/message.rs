//! How a job travels: the body is a JSON envelope (the whole job, so a
//! message read back from any queue is self-describing); the properties
//! carry message_id = job id, persistence, and headers mirroring the
//! envelope for operators looking at the broker (kind, attempt, …).

use lapin::options::BasicNackOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::Acker;
use lapin::BasicProperties;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::conn::bounded;
use crate::job::{now_ms, DeadJob, NewJob, DEFAULT_MAX_ATTEMPTS};

/// `type` property of job messages and of dead letters.
pub const JOB_TYPE: &str = "rocket.job";
pub const DEAD_TYPE: &str = "rocket.dead";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Deliveries that happened before this message was published (0 when
    /// new, the failed attempt's number on a retry).
    pub attempts: u32,
    pub max_attempts: u32,
    pub enqueued_at: i64,
    pub due_at: i64,
    pub dedupe_key: Option<String>,
    pub last_error: Option<String>,
}

impl Envelope {
    pub fn fresh(job: &NewJob) -> Envelope {
        Envelope {
            id: job.id,
            kind: job.kind.clone(),
            payload: job.payload.clone(),
            attempts: 0,
            max_attempts: job.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1),
            enqueued_at: now_ms(),
            due_at: job.run_at,
            dedupe_key: job.dedupe_key.clone(),
            last_error: None,
        }
    }
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

fn props(id: Uuid, kind: &str, ty: &str, headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2) // persistent
        .with_message_id(ShortString::from(id.to_string()))
        .with_type(ShortString::from(ty))
        .with_content_type(ShortString::from("application/json"))
        .with_timestamp(u64::try_from(now_ms() / 1000).unwrap_or(0))
        .with_headers({
            let mut h = headers;
            h.insert(ShortString::from("kind"), long(kind));
            h
        })
}

pub fn job_properties(e: &Envelope) -> BasicProperties {
    let mut h = FieldTable::default();
    h.insert(
        ShortString::from("attempt"),
        AMQPValue::LongLongInt(i64::from(e.attempts)),
    );
    h.insert(
        ShortString::from("max_attempts"),
        AMQPValue::LongLongInt(i64::from(e.max_attempts)),
    );
    h.insert(
        ShortString::from("enqueued_at"),
        AMQPValue::LongLongInt(e.enqueued_at),
    );
    h.insert(ShortString::from("due_at"), AMQPValue::LongLongInt(e.due_at));
    if let Some(k) = &e.dedupe_key {
        h.insert(ShortString::from("dedupe_key"), long(k));
    }
    if let Some(err) = &e.last_error {
        h.insert(ShortString::from("last_error"), long(err));
    }
    props(e.id, &e.kind, JOB_TYPE, h)
}

pub fn dead_properties(d: &DeadJob) -> BasicProperties {
    let mut h = FieldTable::default();
    h.insert(ShortString::from("died_at"), AMQPValue::LongLongInt(d.died_at));
    props(d.id, &d.kind, DEAD_TYPE, h)
}

/// An integer header of any AMQP integer width.
pub fn int_header(p: &BasicProperties, name: &str) -> Option<i64> {
    let v = p.headers().as_ref()?.inner().get(name)?;
    match v {
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::Timestamp(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// Returns a failed delivery had on a quorum queue (`x-delivery-count`).
pub fn delivery_count(p: &BasicProperties) -> u32 {
    int_header(p, "x-delivery-count")
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// A message in the dead queue: a dead letter the driver wrote (bury), or a
/// job the broker dead-lettered itself (rejected without requeue).
pub fn read_dead(p: &BasicProperties, body: &[u8]) -> Option<DeadJob> {
    let ty = p.kind().as_ref().map(|t| t.as_str().to_string());
    if ty.as_deref() == Some(DEAD_TYPE) {
        return serde_json::from_slice(body).ok();
    }
    let e: Envelope = serde_json::from_slice(body).ok()?;
    Some(DeadJob {
        id: e.id,
        kind: e.kind,
        payload: e.payload,
        attempts: e.attempts + delivery_count(p) + 1,
        last_error: e
            .last_error
            .unwrap_or_else(|| "rejected by the broker (dead-lettered)".into()),
        enqueued_at: e.enqueued_at,
        died_at: p
            .timestamp()
            .and_then(|t| i64::try_from(t).ok())
            .map_or(e.enqueued_at, |s| s.saturating_mul(1000)),
    })
}

/// Hands a delivery back to its queue (it is delivered again); failures are
/// ignored because a closed channel requeues it anyway.
pub async fn requeue(acker: &Acker) {
    let _ = bounded(acker.nack(BasicNackOptions {
        multiple: false,
        requeue: true,
    }))
    .await;
}
