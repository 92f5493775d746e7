//! Rules and state machines compiled into the snapshot: regexes and
//! expressions are built once per metadata change, never per request.

use std::sync::Arc;

use rocket_expr::Expr;

use crate::actions::Action;
use crate::webhooks::Webhook;
use crate::workflows::Workflow;
use serde_json::Value as Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Field,
    Expression,
    Computed,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub entity: String,
    /// `before_write` or `before_delete`.
    pub hook: String,
    pub kind: RuleKind,
    pub priority: i64,
    pub field: String,
    pub operator: String,
    pub value: Json,
    pub regex: Option<regex::Regex>,
    pub expr: Option<Expr>,
    pub message: Option<String>,
    pub stop_on_fail: bool,
}

#[derive(Debug)]
pub struct Transition {
    pub from: Vec<String>,
    pub to: String,
    pub roles: Vec<String>,
    /// A stored guard that no longer compiles blocks the transition.
    pub guard: Option<Result<Expr, String>>,
    pub actions: Vec<Action>,
}

#[derive(Debug)]
pub struct Machine {
    pub id: String,
    pub entity: String,
    pub field: String,
    pub initial: String,
    pub transitions: Vec<Transition>,
}

fn from_list(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

/// Compiles one stored rule; None (logged) when it no longer compiles.
pub fn compile_rule(
    id: String,
    entity: String,
    hook: String,
    ty: &str,
    priority: i64,
    def: &Json,
) -> Option<Rule> {
    let kind = match ty {
        "field" => RuleKind::Field,
        "expression" => RuleKind::Expression,
        "computed" => RuleKind::Computed,
        _ => return None,
    };
    let s = |k: &str| def.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let operator = s("operator");
    let value = def.get("value").cloned().unwrap_or(Json::Null);
    let regex = if kind == RuleKind::Field && operator == "pattern" {
        value.as_str().and_then(|p| regex::Regex::new(p).ok())
    } else {
        None
    };
    let expr = match kind {
        RuleKind::Field => None,
        _ => match Expr::compile(&s("expression")) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(rule = %id, error = %e, "stored rule expression does not compile; skipped");
                return None;
            }
        },
    };
    Some(Rule {
        id,
        entity,
        hook,
        kind,
        priority,
        field: s("field"),
        operator,
        value,
        regex,
        expr,
        message: def
            .get("message")
            .and_then(Json::as_str)
            .filter(|m| !m.is_empty())
            .map(String::from),
        stop_on_fail: def.get("stop_on_fail").and_then(Json::as_bool).unwrap_or(false),
    })
}

pub fn compile_machine(id: String, entity: String, field: String, def: &Json) -> Machine {
    let transitions = def
        .get("transitions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|t| Transition {
            from: from_list(t.get("from").unwrap_or(&Json::Null)),
            to: t.get("to").and_then(Json::as_str).unwrap_or("").to_string(),
            roles: from_list(t.get("roles").unwrap_or(&Json::Null)),
            guard: t
                .get("guard")
                .and_then(Json::as_str)
                .filter(|g| !g.trim().is_empty())
                .map(|g| Expr::compile(g).map_err(|e| e.to_string())),
            actions: Action::compile_list(t.get("actions")),
        })
        .collect();
    Machine {
        id,
        entity,
        initial: def
            .get("initial")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
        field,
        transitions,
    }
}

/// Per-entity logic of a snapshot.
#[derive(Debug, Default)]
pub struct EntityLogic {
    /// Active rules by priority (field, expression and computed together).
    pub rules: Vec<Arc<Rule>>,
    pub machines: Vec<Arc<Machine>>,
    /// Active webhooks on this entity.
    pub webhooks: Vec<Arc<Webhook>>,
    /// Active workflows whose trigger names this entity.
    pub workflows: Vec<Arc<Workflow>>,
}

/// Everything compiled from an app's logic tables.
#[derive(Debug, Default)]
pub struct Compiled {
    pub rules: Vec<Rule>,
    pub machines: Vec<Machine>,
    pub webhooks: Vec<Webhook>,
    pub workflows: Vec<Workflow>,
}

impl Compiled {
    /// Groups by entity; rules by priority.
    pub fn by_entity(self) -> std::collections::HashMap<String, EntityLogic> {
        let mut out: std::collections::HashMap<String, EntityLogic> = Default::default();
        for r in self.rules {
            out.entry(r.entity.clone()).or_default().rules.push(Arc::new(r));
        }
        for m in self.machines {
            out.entry(m.entity.clone())
                .or_default()
                .machines
                .push(Arc::new(m));
        }
        for w in self.webhooks {
            out.entry(w.entity.clone())
                .or_default()
                .webhooks
                .push(Arc::new(w));
        }
        for w in self.workflows {
            out.entry(w.trigger.entity.clone())
                .or_default()
                .workflows
                .push(Arc::new(w));
        }
        for l in out.values_mut() {
            l.rules.sort_by_key(|r| r.priority);
        }
        out
    }
}
