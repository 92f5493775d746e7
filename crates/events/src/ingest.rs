//! Business events in: the contract's emit body (semantics.md §18.3) and the
//! batch endpoint's JSON array or NDJSON stream of the same bodies.

use chrono::Utc;
use rocket_error::{Error, Result};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::row::Event;

/// Where the event came from: the request's trace and caller.
pub struct Origin {
    pub trace_id: Uuid,
    /// The request's root span, when the request is traced.
    pub parent: Option<Uuid>,
    pub user: Option<Uuid>,
}

fn text(body: &Map<String, Json>, k: &str) -> Option<String> {
    match body.get(k) {
        Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// One emit body as an event; 422 "action is required" without an action.
pub fn event(body: &Json, origin: &Origin) -> Result<Event> {
    let Json::Object(b) = body else {
        return Err(Error::invalid_payload("Invalid JSON body"));
    };
    let action = text(b, "action").ok_or_else(|| Error::validation("action is required"))?;
    let metadata = match b.get("metadata") {
        Some(Json::Object(m)) => Some(m.clone()),
        _ => None,
    };
    Ok(Event {
        trace_id: origin.trace_id,
        span_id: Uuid::new_v4(),
        parent_span_id: origin.parent,
        event_type: "business",
        source: "business".into(),
        component: "api".into(),
        action,
        entity: text(b, "entity"),
        record_id: text(b, "record_id"),
        user_id: origin.user,
        duration_ms: None,
        status: None,
        metadata,
        created_at: Utc::now(),
    })
}

/// A batch: a JSON array of emit bodies, or NDJSON (one body per line).
/// At most `max` events (413 beyond); an invalid item names its index.
pub fn batch(body: &[u8], ndjson: bool, max: usize, origin: &Origin) -> Result<Vec<Event>> {
    let items: Vec<Json> = if ndjson {
        let mut out = Vec::new();
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if out.len() >= max {
                return Err(too_many(max));
            }
            out.push(
                serde_json::from_slice(line)
                    .map_err(|_| Error::invalid_payload(format!("Invalid JSON on line {}", i + 1)))?,
            );
        }
        out
    } else {
        match serde_json::from_slice(body) {
            Ok(Json::Array(a)) => a,
            _ => {
                return Err(Error::invalid_payload(
                    "Invalid JSON body: expected an array of events",
                ))
            }
        }
    };
    if items.len() > max {
        return Err(too_many(max));
    }
    if items.is_empty() {
        return Err(Error::validation("events are required"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            event(item, origin).map_err(|e| Error::validation(format!("event {i}: {}", e.message)))
        })
        .collect()
}

fn too_many(max: usize) -> Error {
    Error::new(
        rocket_error::ErrorCode::PayloadTooLarge,
        format!("A batch carries at most {max} events"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin() -> Origin {
        Origin {
            trace_id: Uuid::new_v4(),
            parent: None,
            user: None,
        }
    }

    #[test]
    fn emit_bodies() {
        let e = event(
            &json!({"action": "order.shipped", "entity": "order", "record_id": 7, "metadata": {"a": 1}}),
            &origin(),
        )
        .expect("valid");
        assert_eq!(
            (e.event_type, e.source.as_str(), e.component.as_str()),
            ("business", "business", "api")
        );
        assert_eq!(e.record_id.as_deref(), Some("7"));
        assert!(e.duration_ms.is_none() && e.status.is_none());
        assert_eq!(
            event(&json!({"entity": "x"}), &origin())
                .map_err(|e| e.message)
                .err()
                .as_deref(),
            Some("action is required")
        );
    }

    #[test]
    fn batches_as_array_or_ndjson() {
        let o = origin();
        assert_eq!(
            batch(br#"[{"action":"a"},{"action":"b"}]"#, false, 10, &o)
                .map(|v| v.len())
                .ok(),
            Some(2)
        );
        assert_eq!(
            batch(b"{\"action\":\"a\"}\n\n{\"action\":\"b\"}\n", true, 10, &o)
                .map(|v| v.len())
                .ok(),
            Some(2)
        );
        assert!(batch(br#"[{"action":"a"},{"action":"b"}]"#, false, 1, &o).is_err());
        let bad = batch(br#"[{"action":"a"},{"x":1}]"#, false, 10, &o)
            .err()
            .map(|e| e.message);
        assert_eq!(bad.as_deref(), Some("event 1: action is required"));
        assert!(batch(b"{\"action\":\"a\"}\nnot json", true, 10, &o).is_err());
    }
}
