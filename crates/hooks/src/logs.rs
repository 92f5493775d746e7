//! `_webhook_logs`: the row of one delivery (one per matched webhook and
//! invocation, updated by each retry), its batched writer, and the reads of
//! the admin API.
//!
//! First attempts (async and sync) go through [`LogWriter`]: a bounded
//! buffer per app flushed as one statement per batch (a JSON array expanded
//! by `jsonb_to_recordset` / `json_each`), never one INSERT per attempt on
//! the request path. A row whose webhook was deleted meanwhile is skipped by
//! the statement itself, so one such row cannot fail its batch. Retries are
//! rare and write their row directly, after claiming the attempt with a
//! compare-and-set (see `deliver`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use rocket_store::buffer::{BufferOptions, Sink, WriteBuffer};
use rocket_store::{format_timestamp, Db, Row, Value};
use serde_json::{json, Map, Value as Json};
use uuid::Uuid;

use crate::statements as q;

/// One log row as written.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub id: Uuid,
    pub webhook_id: String,
    pub entity: String,
    pub hook: String,
    pub url: String,
    pub method: String,
    /// Header templates as configured (secrets are never resolved into a log).
    pub request_headers: Json,
    pub request_body: Json,
    pub response_status: Option<u16>,
    pub response_body: String,
    pub status: &'static str,
    pub attempt: u32,
    pub max_attempts: u32,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub error: String,
    pub idempotency_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// PostgreSQL text and JSONB cannot hold NUL; a receiver's body may.
fn clean(s: &str) -> String {
    s.replace('\0', "")
}

impl LogRow {
    fn to_json(&self) -> Json {
        json!({
            "id": self.id.to_string(),
            "webhook_id": self.webhook_id,
            "entity": self.entity,
            "hook": self.hook,
            "url": self.url,
            "method": self.method,
            "request_headers": self.request_headers,
            "request_body": self.request_body,
            "response_status": self.response_status,
            "response_body": clean(&self.response_body),
            "status": self.status,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "next_retry_at": self.next_retry_at.as_ref().map(format_timestamp),
            "error": clean(&self.error),
            "idempotency_key": self.idempotency_key,
            "created_at": format_timestamp(&self.created_at),
            "updated_at": format_timestamp(&self.updated_at),
        })
    }
}

/// Writes `rows` as one statement (later rows of the same id win).
pub async fn write(db: &Db, rows: &[LogRow]) -> rocket_store::Result<u64> {
    let mut seen = std::collections::HashSet::new();
    let mut batch: Vec<Json> = Vec::with_capacity(rows.len());
    for r in rows.iter().rev() {
        if seen.insert(r.id) {
            batch.push(r.to_json());
        }
    }
    batch.reverse();
    db.execute(q::upsert(db), &[Value::Document(Json::Array(batch))])
        .await
}

/// `_webhook_logs` as a sink of the store's write buffer: its own upsert
/// statement, since a retry updates the row its first attempt wrote.
struct LogSink;

impl Sink for LogSink {
    type Row = LogRow;
    fn table(&self) -> &'static str {
        "_webhook_logs"
    }
    fn write<'a>(&'a self, db: &'a Db, rows: &'a [LogRow]) -> BoxFuture<'a, rocket_store::Result<u64>> {
        Box::pin(write(db, rows))
    }
}

/// The bounded, batching writer of one app's log rows (the store's write
/// buffer: drops and flush errors are on `/metrics` with
/// `table="_webhook_logs"`).
pub struct LogWriter {
    buffer: WriteBuffer<LogRow>,
}

/// Rows per statement.
const MAX_BATCH: usize = 500;

impl LogWriter {
    pub fn start(app: &str, db: Db, capacity: usize, every: Duration) -> LogWriter {
        let opts = BufferOptions {
            capacity,
            flush_every: every,
            batch: MAX_BATCH,
        };
        LogWriter {
            buffer: WriteBuffer::start(app, db, LogSink, opts),
        }
    }

    /// Queues a row; a full buffer drops it (counted) rather than block a
    /// request or grow without bound.
    pub fn push(&self, row: LogRow) {
        self.buffer.push(row);
    }

    /// Returns once every row queued before the call is written.
    pub async fn flush(&self) {
        self.buffer.flush().await
    }
}

/// The API's JSON of a stored row (http-api.md §9.10).
pub fn render(r: &Row) -> Json {
    let ts = |c: &str| r.timestamp(c).map_or(Json::Null, |t| json!(format_timestamp(&t)));
    let mut o = Map::new();
    for c in ["id", "webhook_id", "entity", "hook", "url", "method"] {
        o.insert(c.into(), json!(r.string(c)));
    }
    o.insert("request_headers".into(), r.json("request_headers"));
    o.insert("request_body".into(), r.json("request_body"));
    o.insert(
        "response_status".into(),
        r.i64("response_status").map_or(Json::Null, |s| json!(s)),
    );
    o.insert("response_body".into(), json!(r.string("response_body")));
    o.insert("status".into(), json!(r.string("status")));
    o.insert("attempt".into(), json!(r.i64("attempt").unwrap_or(0)));
    o.insert("max_attempts".into(), json!(r.i64("max_attempts").unwrap_or(0)));
    o.insert("next_retry_at".into(), ts("next_retry_at"));
    o.insert("error".into(), json!(r.string("error")));
    o.insert("idempotency_key".into(), json!(r.string("idempotency_key")));
    o.insert("created_at".into(), ts("created_at"));
    o.insert("updated_at".into(), ts("updated_at"));
    Json::Object(o)
}

/// Newest first, at most 200, filtered by webhook, status and entity
/// (empty = any).
pub async fn list(db: &Db, webhook_id: &str, status: &str, entity: &str) -> rocket_store::Result<Vec<Json>> {
    let rows = db
        .query(
            q::LIST,
            &[Value::text(webhook_id), Value::text(status), Value::text(entity)],
        )
        .await?;
    Ok(rows.into_iter().map(|r| render(&r)).collect())
}

pub async fn get(db: &Db, id: &str) -> rocket_store::Result<Option<Row>> {
    let Ok(id) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    db.query_opt(q::GET, &[Value::Uuid(id)]).await
}
