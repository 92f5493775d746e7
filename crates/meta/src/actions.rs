//! Typed actions of state-machine transitions and workflow action steps
//! (metadata.md §5-6), compiled once per snapshot so runtimes match enums,
//! never JSON keys, per request.

use serde_json::{Map, Value as Json};

/// The value a `set_field` action writes.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// `"now"`: the current UTC time when the action runs.
    Now,
    Value(Json),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// On a transition: a field of the record being written. In a workflow:
    /// `entity` and `record_id` (a dot path into the instance) name the row.
    SetField {
        entity: Option<String>,
        record_id: Option<String>,
        field: String,
        value: SetValue,
    },
    /// An HTTP call; `method` defaults to POST ([Rec]).
    Webhook { url: String, method: String },
    /// A record created through the full write pipeline.
    CreateRecord { entity: String, data: Map<String, Json> },
    /// A business event with that action name.
    SendEvent { event: String, data: Json },
    /// An action type this version does not know: skipped, never an error
    /// (semantics.md §11.2).
    Unknown { kind: String },
}

fn text(a: &Json, k: &str) -> String {
    a.get(k).and_then(Json::as_str).unwrap_or("").trim().to_string()
}

fn opt_text(a: &Json, k: &str) -> Option<String> {
    Some(text(a, k)).filter(|s| !s.is_empty())
}

impl Action {
    pub fn compile(a: &Json) -> Action {
        match a.get("type").and_then(Json::as_str).unwrap_or("") {
            "set_field" => Action::SetField {
                entity: opt_text(a, "entity"),
                record_id: opt_text(a, "record_id"),
                field: text(a, "field"),
                value: match a.get("value") {
                    Some(Json::String(s)) if s == "now" => SetValue::Now,
                    Some(v) => SetValue::Value(v.clone()),
                    None => SetValue::Value(Json::Null),
                },
            },
            "webhook" => Action::Webhook {
                url: text(a, "url"),
                method: opt_text(a, "method")
                    .map(|m| m.to_uppercase())
                    .unwrap_or_else(|| "POST".into()),
            },
            "create_record" => Action::CreateRecord {
                entity: text(a, "entity"),
                data: match a.get("data") {
                    Some(Json::Object(m)) => m.clone(),
                    _ => a
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .filter(|(k, _)| *k != "type" && *k != "entity")
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            },
            "send_event" => Action::SendEvent {
                event: text(a, "event"),
                data: a.get("data").cloned().unwrap_or(Json::Null),
            },
            other => Action::Unknown {
                kind: other.to_string(),
            },
        }
    }

    /// Every action of a JSON array (anything else compiles to none).
    pub fn compile_list(v: Option<&Json>) -> Vec<Action> {
        v.and_then(Json::as_array)
            .map(|l| l.iter().map(Action::compile).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compiles_each_kind() {
        let l = Action::compile_list(Some(&json!([
            {"type": "set_field", "field": "placed_at", "value": "now"},
            {"type": "set_field", "entity": "order", "record_id": "context.record_id", "field": "status", "value": "refunded"},
            {"type": "webhook", "url": "https://x.test/h"},
            {"type": "create_record", "entity": "log", "data": {"msg": "hi"}},
            {"type": "send_event", "event": "order.shipped"},
            {"type": "teleport"}
        ])));
        assert_eq!(
            l[0],
            Action::SetField {
                entity: None,
                record_id: None,
                field: "placed_at".into(),
                value: SetValue::Now
            }
        );
        assert!(
            matches!(&l[1], Action::SetField { entity: Some(e), value: SetValue::Value(v), .. } if e == "order" && v == "refunded")
        );
        assert_eq!(
            l[2],
            Action::Webhook {
                url: "https://x.test/h".into(),
                method: "POST".into()
            }
        );
        assert!(
            matches!(&l[3], Action::CreateRecord { entity, data } if entity == "log" && data["msg"] == "hi")
        );
        assert!(matches!(&l[4], Action::SendEvent { event, .. } if event == "order.shipped"));
        assert_eq!(
            l[5],
            Action::Unknown {
                kind: "teleport".into()
            }
        );
        assert!(Action::compile_list(Some(&json!({"type": "x"}))).is_empty());
    }
}
