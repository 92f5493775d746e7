//! Identity and labels of imported items: what makes two rules, machines,
//! workflows or webhooks "the same" (semantics.md §16), and how errors name them.

use serde_json::{json, Value as Json};

use super::norm;
use crate::logic::Kind;

pub(super) fn s(v: &Json, k: &str) -> String {
    v.get(k).and_then(Json::as_str).unwrap_or("").to_string()
}

/// JSON text with object keys sorted: PostgreSQL's JSONB reorders keys, so
/// identity comparisons must not depend on key order.
pub(super) fn canonical(v: &Json) -> String {
    match v {
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", json!(k), canonical(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Json::Array(a) => format!("[{}]", a.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

pub(super) fn identity(kind: Kind, v: &Json) -> String {
    let hook = match s(v, "hook") {
        h if h.is_empty() => "after_write".to_string(),
        h => h,
    };
    match kind {
        Kind::Rule => {
            format!(
                "{}|{}|{}|{}",
                s(v, "entity"),
                s(v, "hook"),
                s(v, "type"),
                canonical(&norm(v["definition"].clone()))
            )
        }
        Kind::StateMachine => format!("{}|{}", s(v, "entity"), s(v, "field")),
        Kind::Workflow => s(v, "name"),
        Kind::Webhook => format!("{}|{}|{}", s(v, "entity"), hook, s(v, "url")),
    }
}

pub(super) fn label(kind: Kind, v: &Json) -> String {
    match kind {
        Kind::Rule => format!("Rule ({}/{})", s(v, "entity"), s(v, "hook")),
        Kind::StateMachine => format!("State machine ({}/{})", s(v, "entity"), s(v, "field")),
        Kind::Workflow => format!("Workflow {}", s(v, "name")),
        Kind::Webhook => format!("Webhook ({}/{}/{})", s(v, "entity"), s(v, "hook"), s(v, "url")),
    }
}
