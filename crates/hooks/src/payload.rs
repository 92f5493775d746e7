//! The payload of semantics.md §12.2 and the variables a condition sees.

use chrono::{SecondsFormat, Utc};
use rocket_engine::effects::Action;
use rocket_engine::perm::Caller;
use rocket_meta::webhooks::Hook;
use serde_json::{json, Map, Value as Json};

/// `wh_` + a UUID: one per hook invocation, shared by its webhooks and
/// kept across retries.
pub fn idempotency_key() -> String {
    format!("wh_{}", uuid::Uuid::new_v4())
}

/// A value's "string form" for change detection: strings as they are,
/// everything else as JSON text.
fn string_form(v: &Json) -> std::borrow::Cow<'_, str> {
    match v {
        Json::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

/// Every key of `record` whose string form differs from `old` (or is
/// missing there), as `{old, new}`.
pub fn changes(record: &Map<String, Json>, old: Option<&Map<String, Json>>) -> Map<String, Json> {
    let mut out = Map::new();
    for (k, new) in record {
        let before = old.and_then(|o| o.get(k));
        if before.is_none_or(|b| string_form(b) != string_form(new)) {
            out.insert(
                k.clone(),
                json!({"old": before.cloned().unwrap_or(Json::Null), "new": new}),
            );
        }
    }
    out
}

pub struct Event<'a> {
    pub hook: Hook,
    pub entity: &'a str,
    pub action: Action,
    pub record: &'a Map<String, Json>,
    /// The stored row before a write (None on create and on deletes).
    pub old: Option<&'a Map<String, Json>>,
    pub user: &'a Caller,
    pub key: &'a str,
}

impl Event<'_> {
    pub fn payload(&self) -> Json {
        let mut p = Map::new();
        p.insert("event".into(), json!(self.hook.as_str()));
        p.insert("entity".into(), json!(self.entity));
        p.insert("action".into(), json!(self.action.as_str()));
        p.insert("record".into(), Json::Object(self.record.clone()));
        if self.action != Action::Delete {
            if let Some(old) = self.old.filter(|o| !o.is_empty()) {
                p.insert("old".into(), Json::Object(old.clone()));
            }
            let ch = changes(self.record, self.old);
            if !ch.is_empty() {
                p.insert("changes".into(), Json::Object(ch));
            }
        }
        if !self.user.id.is_empty() {
            p.insert(
                "user".into(),
                json!({"id": self.user.id, "roles": self.user.roles}),
            );
        }
        p.insert(
            "timestamp".into(),
            json!(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        p.insert("idempotency_key".into(), json!(self.key));
        Json::Object(p)
    }

    /// What a webhook condition evaluates against: record, old, action,
    /// user, event, entity.
    pub fn vars(&self) -> Map<String, Json> {
        let mut v = Map::new();
        v.insert("record".into(), Json::Object(self.record.clone()));
        v.insert("old".into(), Json::Object(self.old.cloned().unwrap_or_default()));
        v.insert("action".into(), json!(self.action.as_str()));
        v.insert("event".into(), json!(self.hook.as_str()));
        v.insert("entity".into(), json!(self.entity));
        v.insert(
            "user".into(),
            json!({"id": self.user.id, "roles": self.user.roles}),
        );
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn changes_compare_string_forms() {
        let new = obj(json!({"id": "1", "status": "shipped", "total": 10, "note": null}));
        let old = obj(json!({"id": "1", "status": "placed", "total": "10", "note": null}));
        let ch = changes(&new, Some(&old));
        assert_eq!(ch.len(), 1, "{ch:?}");
        assert_eq!(ch["status"], json!({"old": "placed", "new": "shipped"}));
        let all = changes(&new, None);
        assert_eq!(all.len(), 4);
        assert_eq!(all["id"], json!({"old": null, "new": "1"}));
    }

    #[test]
    fn payload_shape_per_action() {
        let user = Caller {
            id: "u1".into(),
            roles: vec!["admin".into()],
        };
        let rec = obj(json!({"id": "1", "a": 2}));
        let create = Event {
            hook: Hook::AfterWrite,
            entity: "order",
            action: Action::Create,
            record: &rec,
            old: None,
            user: &user,
            key: "wh_k",
        }
        .payload();
        assert_eq!(create["event"], "after_write");
        assert!(create.get("old").is_none(), "no old on create");
        assert_eq!(create["changes"]["a"], json!({"old": null, "new": 2}));
        assert_eq!(create["user"], json!({"id": "u1", "roles": ["admin"]}));
        assert_eq!(create["idempotency_key"], "wh_k");
        let ts = create["timestamp"].as_str().unwrap_or("");
        assert!(ts.ends_with('Z') && ts.len() == 20, "{ts}");
        let del = Event {
            hook: Hook::AfterDelete,
            entity: "order",
            action: Action::Delete,
            record: &rec,
            old: Some(&rec),
            user: &user,
            key: "wh_k",
        }
        .payload();
        assert!(del.get("old").is_none() && del.get("changes").is_none());
        assert!(idempotency_key().starts_with("wh_"));
    }
}
