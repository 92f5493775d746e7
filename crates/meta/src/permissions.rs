//! Whitelist permission policies, compiled into per-(entity, action) lists
//! with a memo of the decision for each role set, so a request does one hash
//! lookup instead of scanning policies.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Condition {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub value: Json,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub entity: String,
    pub action: String,
    /// Lower-cased (roles compare case-insensitively).
    pub roles: Vec<String>,
    pub conditions: Vec<Condition>,
}

/// What a caller may do for one (entity, action).
#[derive(Debug, Clone)]
pub enum Access {
    /// Admin, or a matching policy without conditions.
    All,
    /// Rows matching any of these condition sets (OR of ANDs).
    Rows(Arc<Vec<Vec<Condition>>>),
    /// 403 with this message.
    Denied(String),
}

/// (entity, action, sorted lower-cased roles).
type MemoKey = (String, String, Vec<String>);

#[derive(Debug, Default)]
pub struct Policies {
    by_key: HashMap<(String, String), Vec<Arc<Policy>>>,
    memo: RwLock<HashMap<MemoKey, Access>>,
}

impl Policies {
    pub fn new(list: Vec<Policy>) -> Policies {
        let mut by_key: HashMap<(String, String), Vec<Arc<Policy>>> = HashMap::new();
        for p in list {
            by_key
                .entry((p.entity.clone(), p.action.clone()))
                .or_default()
                .push(Arc::new(p));
        }
        Policies {
            by_key,
            memo: RwLock::new(HashMap::new()),
        }
    }

    /// The decision for `roles` (semantics.md §14; several matching policies
    /// combine with OR, conditions within one policy with AND).
    pub fn access(&self, entity: &str, action: &str, roles: &[String]) -> Access {
        if roles.iter().any(|r| r == "admin") {
            return Access::All;
        }
        let mut key_roles: Vec<String> = roles.iter().map(|r| r.to_lowercase()).collect();
        key_roles.sort();
        key_roles.dedup();
        let key = (entity.to_string(), action.to_string(), key_roles);
        if let Ok(m) = self.memo.read() {
            if let Some(a) = m.get(&key) {
                return a.clone();
            }
        }
        let decided = self.decide(entity, action, &key.2);
        if let Ok(mut m) = self.memo.write() {
            m.insert(key, decided.clone());
        }
        decided
    }

    fn decide(&self, entity: &str, action: &str, roles: &[String]) -> Access {
        let Some(policies) = self.by_key.get(&(entity.to_string(), action.to_string())) else {
            return Access::Denied(format!("No permission for {action} on {entity}"));
        };
        let mut sets = Vec::new();
        for p in policies {
            if !p.roles.iter().any(|r| roles.contains(r)) {
                continue;
            }
            if p.conditions.is_empty() {
                return Access::All;
            }
            sets.push(p.conditions.clone());
        }
        if sets.is_empty() {
            Access::Denied(format!("Permission denied for {action} on {entity}"))
        } else {
            Access::Rows(Arc::new(sets))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pol(action: &str, roles: &[&str], conds: Vec<Condition>) -> Policy {
        Policy {
            id: "x".into(),
            entity: "post".into(),
            action: action.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            conditions: conds,
        }
    }

    #[test]
    fn whitelist_decisions() {
        let c = Condition {
            field: "status".into(),
            operator: "eq".into(),
            value: "draft".into(),
        };
        let p = Policies::new(vec![
            pol("read", &["viewer"], vec![]),
            pol("update", &["editor"], vec![c.clone()]),
            pol("update", &["writer"], vec![c]),
        ]);
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches!(
            p.access("post", "read", &roles(&["Viewer"])),
            Access::All
        ));
        assert!(matches!(
            p.access("post", "read", &roles(&["admin"])),
            Access::All
        ));
        assert!(
            matches!(p.access("post", "delete", &roles(&["viewer"])), Access::Denied(m) if m == "No permission for delete on post")
        );
        assert!(
            matches!(p.access("post", "read", &roles(&["nobody"])), Access::Denied(m) if m == "Permission denied for read on post")
        );
        match p.access("post", "update", &roles(&["editor", "writer"])) {
            Access::Rows(sets) => assert_eq!(sets.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
