//! Whitelist permission policies, compiled into per-(entity, action) lists
//! with a memo of the decision for each role set, so a request does one hash
//! lookup instead of scanning policies. Condition operators are resolved
//! here, once, through the query language's operator table.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rocket_query::{condition_op, condition_op_names, Op};
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

/// Checks a condition as the admin API accepts it (the message is the 422's).
pub fn validate_condition(c: &Condition) -> Result<(), String> {
    if c.field.is_empty() {
        return Err("condition field is required".into());
    }
    if condition_op(&c.operator).is_none() {
        let names: Vec<&str> = condition_op_names().collect();
        return Err(format!(
            "invalid condition operator: {} (must be one of {})",
            c.operator,
            names.join(", ")
        ));
    }
    Ok(())
}

/// A condition with its operator resolved at registry build.
#[derive(Debug, Clone, PartialEq)]
pub struct RowCondition {
    pub field: String,
    /// None: not a condition operator, so the condition never holds (§14).
    pub op: Option<Op>,
    /// `"$user.id"` stands for the caller's id.
    pub value: Json,
}

impl From<&Condition> for RowCondition {
    fn from(c: &Condition) -> Self {
        RowCondition {
            field: c.field.clone(),
            op: condition_op(&c.operator),
            value: c.value.clone(),
        }
    }
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
    Rows(Arc<Vec<Vec<RowCondition>>>),
    /// 403 with this message.
    Denied(String),
}

/// (entity, action, sorted lower-cased roles).
type MemoKey = (String, String, Vec<String>);

/// A policy as decisions use it.
#[derive(Debug)]
struct Compiled {
    roles: Vec<String>,
    conditions: Vec<RowCondition>,
}

#[derive(Debug, Default)]
pub struct Policies {
    by_key: HashMap<(String, String), Vec<Compiled>>,
    memo: RwLock<HashMap<MemoKey, Access>>,
}

impl Policies {
    pub fn new(list: Vec<Policy>) -> Policies {
        let mut by_key: HashMap<(String, String), Vec<Compiled>> = HashMap::new();
        for p in list {
            let conditions = p.conditions.iter().map(RowCondition::from).collect();
            by_key.entry((p.entity, p.action)).or_default().push(Compiled {
                roles: p.roles,
                conditions,
            });
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
            Access::Rows(sets) => {
                assert_eq!(sets.len(), 2);
                assert_eq!(sets[0][0].op, Some(Op::Eq));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn condition_operators_compile_through_the_query_table() {
        let c = |op: &str| Condition {
            field: "n".into(),
            operator: op.into(),
            value: Json::Null,
        };
        assert_eq!(RowCondition::from(&c("not_in")).op, Some(Op::NotIn));
        assert_eq!(RowCondition::from(&c("like")).op, None);
        assert_eq!(RowCondition::from(&c("bogus")).op, None);
        assert!(validate_condition(&c("gte")).is_ok());
        assert_eq!(
            validate_condition(&c("like")).err().as_deref(),
            Some("invalid condition operator: like (must be one of eq, neq, gt, gte, lt, lte, in, not_in)")
        );
        let mut no_field = c("eq");
        no_field.field.clear();
        assert_eq!(
            validate_condition(&no_field).err().as_deref(),
            Some("condition field is required")
        );
    }
}
