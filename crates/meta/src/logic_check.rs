//! Validation of rule, state-machine and workflow documents, and expression
//! compilation shared by the admin API and the registry.

use crate::Entity;
use serde_json::{json, Value as Json};

pub use rocket_expr::{Expr, ExprError};

/// Compiles an expression once; the message carries the source position.
pub fn compile(src: &str) -> Result<Expr, String> {
    Expr::compile(src).map_err(|e| e.to_string())
}

pub fn validate_rule(ty: &str, def: &Json, entity: Option<&Entity>) -> Result<(), String> {
    let field = def.get("field").and_then(Json::as_str).unwrap_or("");
    match ty {
        "field" => {
            if field.is_empty() {
                return Err("definition.field is required for field rules".into());
            }
            // Unknown operators are accepted and never fail (semantics.md §9).
            let op = def.get("operator").and_then(Json::as_str).unwrap_or("");
            if op == "pattern" {
                let p = def.get("value").and_then(Json::as_str).unwrap_or("");
                regex::Regex::new(p).map_err(|e| format!("invalid pattern: {e}"))?;
            }
        }
        "expression" | "computed" => {
            let src = def.get("expression").and_then(Json::as_str).unwrap_or("");
            if src.trim().is_empty() {
                return Err("definition.expression is required".into());
            }
            compile(src).map_err(|e| format!("invalid expression: {e}"))?;
            if ty == "computed" && field.is_empty() {
                return Err("definition.field is required for computed rules".into());
            }
        }
        _ => {}
    }
    if let (Some(e), false) = (entity, field.is_empty()) {
        if e.field(field).is_none() {
            return Err(format!("field {field} not found in entity {}", e.name));
        }
    }
    Ok(())
}

fn from_list(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

pub fn validate_machine(def: &Json) -> Result<(), String> {
    for t in def
        .get("transitions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if t.get("to").and_then(Json::as_str).unwrap_or("").is_empty() {
            return Err("every transition needs a \"to\" state".into());
        }
        if from_list(t.get("from").unwrap_or(&Json::Null)).is_empty() {
            return Err("every transition needs a \"from\" state or list".into());
        }
        if let Some(g) = t
            .get("guard")
            .and_then(Json::as_str)
            .filter(|g| !g.trim().is_empty())
        {
            compile(g).map_err(|e| format!("invalid guard: {e}"))?;
        }
    }
    Ok(())
}

/// One-element `from` arrays are stored (and returned) as a plain string.
pub fn normalize_machine(mut def: Json) -> Json {
    if let Some(ts) = def.get_mut("transitions").and_then(Json::as_array_mut) {
        for t in ts {
            if let Some(from) = t.get("from").cloned() {
                let list = from_list(&from);
                if list.len() == 1 {
                    t["from"] = json!(list[0]);
                }
            }
        }
    }
    def
}

fn goto_target(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::String(s) => Some(s.clone()),
        Json::Object(o) => o.get("goto").and_then(Json::as_str).map(String::from),
        _ => None,
    }
}

pub fn validate_steps(steps: &Json) -> Result<(), String> {
    let list = steps.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return Err("at least one step is required".into());
    }
    let mut ids = std::collections::HashSet::new();
    for s in &list {
        let id = s.get("id").and_then(Json::as_str).unwrap_or("");
        if id.is_empty() {
            return Err("step id is required".into());
        }
        if !ids.insert(id.to_string()) {
            return Err(format!("duplicate step id: {id}"));
        }
        let ty = s.get("type").and_then(Json::as_str).unwrap_or("");
        if !["action", "condition", "approval"].contains(&ty) {
            return Err(format!(
                "invalid step type: {ty} (must be action, condition, or approval)"
            ));
        }
        if ty == "condition" {
            let e = s.get("expression").and_then(Json::as_str).unwrap_or("");
            compile(e).map_err(|e| format!("step {id}: invalid expression: {e}"))?;
        }
    }
    for s in &list {
        for k in [
            "then",
            "on_true",
            "on_false",
            "on_approve",
            "on_reject",
            "on_timeout",
        ] {
            if let Some(t) = goto_target(s.get(k)) {
                if t != "end" && !ids.contains(&t) {
                    return Err(format!("goto target not found: {t}"));
                }
            }
        }
    }
    Ok(())
}
