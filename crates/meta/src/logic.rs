//! Rules and state machines compiled into the snapshot: regexes and
//! expressions are built once per metadata change, never per request.

use std::sync::Arc;

use rocket_expr::Expr;
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
    pub actions: Vec<Json>,
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
            actions: t
                .get("actions")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default(),
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
}
