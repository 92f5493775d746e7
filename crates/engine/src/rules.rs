//! Business logic in the write pipeline (semantics.md §9-10): field and
//! expression rules, computed fields, state-machine transitions. Everything
//! was compiled into the registry snapshot; here it is only evaluated.

use chrono::Utc;
use rocket_error::{Detail, Error, Result};
use rocket_meta::logic::{EntityLogic, RuleKind};
use rocket_meta::Entity;
use rocket_store::{format_timestamp, Dialect};
use serde_json::{json, Map, Value as Json};

use crate::convert::{from_json, json_string, to_json};
use crate::perm::Caller;
use crate::write::RowPlan;

fn num(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn field_rule_fails(op: &str, value: &Json, threshold: &Json, regex: Option<&regex::Regex>) -> bool {
    match op {
        "min" | "max" => match (num(value), num(threshold)) {
            (Some(v), Some(t)) => (op == "min" && v < t) || (op == "max" && v > t),
            _ => false,
        },
        "min_length" | "max_length" => match (value.as_str(), num(threshold)) {
            (Some(s), Some(t)) => {
                let n = s.chars().count() as f64;
                (op == "min_length" && n < t) || (op == "max_length" && n > t)
            }
            _ => false,
        },
        "pattern" => match value.as_str() {
            Some(s) => regex.is_none_or(|r| !r.is_match(s)),
            None => false,
        },
        _ => false,
    }
}

/// The variables of rule and guard expressions (semantics.md §8.2).
fn vars(
    record: &Map<String, Json>,
    old: &Map<String, Json>,
    action: &str,
    caller: &Caller,
) -> Map<String, Json> {
    let mut v = Map::new();
    v.insert("record".into(), Json::Object(record.clone()));
    v.insert("old".into(), Json::Object(old.clone()));
    v.insert("action".into(), json!(action));
    v.insert("user".into(), json!({"id": caller.id, "roles": caller.roles}));
    v.insert("now".into(), json!(format_timestamp(&Utc::now())));
    v
}

/// Field and expression rules of `hook`; all violations of the stage together.
fn check_rules(
    logic: &EntityLogic,
    hook: &str,
    vars: &Map<String, Json>,
    record: &Map<String, Json>,
) -> Vec<Detail> {
    let mut details = Vec::new();
    let rules = logic.rules.iter().filter(|r| r.hook == hook);
    for stage in [RuleKind::Field, RuleKind::Expression] {
        for r in rules.clone().filter(|r| r.kind == stage) {
            let failed = match stage {
                RuleKind::Field => {
                    let v = record.get(&r.field).unwrap_or(&Json::Null);
                    if v.is_null() || !field_rule_fails(&r.operator, v, &r.value, r.regex.as_ref()) {
                        None
                    } else {
                        Some(Detail::new(
                            &r.field,
                            &r.operator,
                            r.message.clone().unwrap_or_else(|| {
                                format!("field {} failed {} validation", r.field, r.operator)
                            }),
                        ))
                    }
                }
                _ => match r.expr.as_ref().map(|e| e.eval_bool(vars)) {
                    Some(Ok(false)) | None => None,
                    Some(Ok(true)) => Some(Detail {
                        field: None,
                        rule: Some("expression".into()),
                        message: r
                            .message
                            .clone()
                            .unwrap_or_else(|| "Expression rule violated".into()),
                    }),
                    Some(Err(e)) => Some(Detail {
                        field: None,
                        rule: Some("expression".into()),
                        message: format!("rule evaluation error: {e}"),
                    }),
                },
            };
            if let Some(d) = failed {
                details.push(d);
                if r.stop_on_fail {
                    return details;
                }
            }
        }
    }
    details
}

/// Runs rules, computed fields and state machines on a top-level write and
/// folds the resulting values back into the plan.
pub fn before_write(
    logic: Option<&EntityLogic>,
    entity: &Entity,
    plan: &mut RowPlan,
    old: Option<&Map<String, Json>>,
    caller: &Caller,
    dialect: Dialect,
) -> Result<()> {
    let Some(logic) = logic else { return Ok(()) };
    if logic.rules.is_empty() && logic.machines.is_empty() {
        return Ok(());
    }
    let empty = Map::new();
    let old_map = old.unwrap_or(&empty);
    let action = if old.is_some() { "update" } else { "create" };
    // `record` holds the payload's fields, typed (semantics.md §4.2).
    let mut record: Map<String, Json> = plan
        .values
        .iter()
        .map(|(i, v)| {
            (
                entity.fields[*i].name.clone(),
                to_json(v.clone(), entity.fields[*i].ty),
            )
        })
        .collect();
    let mut touched: Vec<String> = Vec::new();

    let details = check_rules(
        logic,
        "before_write",
        &vars(&record, old_map, action, caller),
        &record,
    );
    if !details.is_empty() {
        return Err(Error::validation_details(details));
    }
    let mut details = Vec::new();
    for r in logic
        .rules
        .iter()
        .filter(|r| r.hook == "before_write" && r.kind == RuleKind::Computed)
    {
        let Some(e) = &r.expr else { continue };
        match e.eval(&vars(&record, old_map, action, caller)) {
            Ok(v) => {
                record.insert(r.field.clone(), v);
                touched.push(r.field.clone());
            }
            Err(err) => details.push(Detail::new(&r.field, "computed", err.to_string())),
        }
    }
    if !details.is_empty() {
        return Err(Error::validation_details(details));
    }

    for m in &logic.machines {
        let Some(to_v) = record.get(&m.field).cloned() else {
            continue;
        };
        let to = json_string(&to_v);
        if old.is_none() {
            if !m.initial.is_empty() && to != m.initial {
                details.push(Detail::new(
                    &m.field,
                    "state_machine",
                    format!("Initial state must be '{}', got '{to}'", m.initial),
                ));
            }
            continue;
        }
        let from = old_map.get(&m.field).map(json_string).unwrap_or_default();
        if from == to {
            continue;
        }
        let Some(t) = m
            .transitions
            .iter()
            .find(|t| t.to == to && t.from.contains(&from))
        else {
            details.push(Detail::new(
                &m.field,
                "state_machine",
                format!("Invalid transition from '{from}' to '{to}'"),
            ));
            continue;
        };
        if !t.roles.is_empty()
            && !caller.is_admin()
            && !t
                .roles
                .iter()
                .any(|r| caller.roles.iter().any(|c| c.eq_ignore_ascii_case(r)))
        {
            return Err(Error::forbidden(format!(
                "Transition from '{from}' to '{to}' requires one of the roles: {}",
                t.roles.join(", ")
            )));
        }
        match &t.guard {
            None => {}
            Some(Err(e)) => {
                details.push(Detail::new(
                    &m.field,
                    "state_machine",
                    format!("Guard evaluation error: {e}"),
                ));
                continue;
            }
            Some(Ok(g)) => match g.eval_bool(&vars(&record, old_map, "update", caller)) {
                Ok(true) => {}
                Ok(false) => {
                    details.push(Detail::new(
                        &m.field,
                        "state_machine",
                        format!("Transition from '{from}' to '{to}' blocked by guard"),
                    ));
                    continue;
                }
                Err(e) => {
                    details.push(Detail::new(
                        &m.field,
                        "state_machine",
                        format!("Guard evaluation error: {e}"),
                    ));
                    continue;
                }
            },
        }
        for a in &t.actions {
            if a.get("type").and_then(Json::as_str) == Some("set_field") {
                let Some(f) = a.get("field").and_then(Json::as_str) else {
                    continue;
                };
                let v = match a.get("value") {
                    Some(Json::String(s)) if s == "now" => json!(format_timestamp(&Utc::now())),
                    Some(v) => v.clone(),
                    None => Json::Null,
                };
                record.insert(f.to_string(), v);
                touched.push(f.to_string());
            } else {
                // webhook / create_record / send_event run with the queue work.
                tracing::debug!(action = ?a.get("type"), "transition action recorded, not executed");
            }
        }
    }
    if !details.is_empty() {
        return Err(Error::validation_details(details));
    }

    for name in touched {
        let (Some(i), Some(v)) = (entity.field_index(&name), record.get(&name)) else {
            continue;
        };
        let f = &entity.fields[i];
        let val = from_json(&f.name, f.ty, v, dialect).map_err(|d| Error::validation_details(vec![d]))?;
        plan.values.retain(|(j, _)| *j != i);
        plan.values.push((i, val));
        plan.record.insert(name, v.clone());
    }
    Ok(())
}

/// `before_delete` rules (the reference never runs them; we do), with
/// `record` = the stored row.
pub fn before_delete(logic: Option<&EntityLogic>, row: &Map<String, Json>, caller: &Caller) -> Result<()> {
    let Some(logic) = logic else { return Ok(()) };
    let details = check_rules(
        logic,
        "before_delete",
        &vars(row, &Map::new(), "delete", caller),
        row,
    );
    if details.is_empty() {
        Ok(())
    } else {
        Err(Error::validation_details(details))
    }
}
