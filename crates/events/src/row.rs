//! One `_events` row (system-tables.md): a span of a request's trace or a
//! business event, and its place in the bulk table the write buffer fills.

use chrono::{DateTime, Utc};
use rocket_store::bulk::{BulkTable, ColumnType as C};
use rocket_store::Value;
use serde_json::{Map, Value as Json};
use uuid::Uuid;

pub static EVENTS: BulkTable = BulkTable {
    name: "_events",
    columns: &[
        ("id", C::Uuid),
        ("trace_id", C::Uuid),
        ("span_id", C::Uuid),
        ("parent_span_id", C::Uuid),
        ("event_type", C::Text),
        ("source", C::Text),
        ("component", C::Text),
        ("action", C::Text),
        ("entity", C::Text),
        ("record_id", C::Text),
        ("user_id", C::Uuid),
        ("duration_ms", C::Float8),
        ("status", C::Text),
        ("metadata", C::Jsonb),
        ("created_at", C::Timestamptz),
    ],
};

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub trace_id: Uuid,
    pub span_id: Uuid,
    pub parent_span_id: Option<Uuid>,
    /// `system` (spans) or `business`.
    pub event_type: &'static str,
    pub source: String,
    pub component: String,
    pub action: String,
    pub entity: Option<String>,
    pub record_id: Option<String>,
    pub user_id: Option<Uuid>,
    pub duration_ms: Option<f64>,
    /// `ok` / `error`, none for business events.
    pub status: Option<&'static str>,
    pub metadata: Option<Map<String, Json>>,
    /// Span start (business events: when received).
    pub created_at: DateTime<Utc>,
}

fn opt_text(v: Option<String>) -> Value {
    v.map_or(Value::Null, Value::Text)
}

impl Event {
    /// The row in [`EVENTS`]' column order.
    pub fn into_row(self) -> Vec<Value> {
        vec![
            Value::Uuid(Uuid::new_v4()),
            Value::Uuid(self.trace_id),
            Value::Uuid(self.span_id),
            self.parent_span_id.map_or(Value::Null, Value::Uuid),
            Value::text(self.event_type),
            Value::Text(self.source),
            Value::Text(self.component),
            Value::Text(self.action),
            opt_text(self.entity),
            opt_text(self.record_id),
            self.user_id.map_or(Value::Null, Value::Uuid),
            self.duration_ms.map_or(Value::Null, Value::Float),
            self.status.map_or(Value::Null, Value::text),
            self.metadata
                .map_or(Value::Null, |m| Value::Document(Json::Object(m))),
            Value::Timestamp(self.created_at),
        ]
    }
}
