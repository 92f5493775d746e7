//! Business logic in the write pipeline (semantics.md §9-10): field and
//! expression rules, computed fields, state-machine transitions. Everything
//! was compiled into the registry snapshot; here it is only evaluated.

use chrono::Utc;
use rocket_error::{Detail, Error, Result};
use rocket_meta::actions::{Action, SetValue};
use rocket_meta::logic::{EntityLogic, Machine, RuleKind, Transition};
use rocket_meta::Entity;
use rocket_store::format_timestamp;
use serde_json::{json, Map, Value as Json};

use super::plan::RowPlan;
use crate::convert::{json_string, to_json, to_value};
use crate::perm::Caller;

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
/// folds the resulting values back into the plan (semantics.md §4.1 steps 5-6).
pub fn before_write(
    logic: Option<&EntityLogic>,
    entity: &Entity,
    plan: &mut RowPlan,
    old: Option<&Map<String, Json>>,
    caller: &Caller,
) -> Result<()> {
    let Some(logic) = logic else { return Ok(()) };
    if logic.rules.is_empty() && logic.machines.is_empty() {
        return Ok(());
    }
    let empty = Map::new();
    let cx = Cx {
        old,
        old_map: old.unwrap_or(&empty),
        action: if old.is_some() { "update" } else { "create" },
        caller,
    };
    let mut record = payload_record(entity, plan);
    let mut touched: Vec<String> = Vec::new();
    let details = check_rules(logic, "before_write", &cx.vars(&record), &record);
    if !details.is_empty() {
        return Err(Error::validation_details(details));
    }
    computed_fields(logic, &cx, &mut record, &mut touched)?;
    let mut details = Vec::new();
    for m in &logic.machines {
        if let Some(t) = accepted_transition(m, &cx, &record, &mut details)? {
            apply_actions(&t.actions, &mut record, &mut touched);
        }
    }
    if !details.is_empty() {
        return Err(Error::validation_details(details));
    }
    fold_back(entity, plan, &record, touched)
}

/// What every stage of `before_write` evaluates against.
struct Cx<'a> {
    old: Option<&'a Map<String, Json>>,
    old_map: &'a Map<String, Json>,
    action: &'a str,
    caller: &'a Caller,
}

impl Cx<'_> {
    fn vars(&self, record: &Map<String, Json>) -> Map<String, Json> {
        vars(record, self.old_map, self.action, self.caller)
    }
}

/// `record` holds the payload's fields, typed (semantics.md §4.2).
fn payload_record(entity: &Entity, plan: &RowPlan) -> Map<String, Json> {
    plan.values
        .iter()
        .map(|(i, v)| {
            (
                entity.fields[*i].name.clone(),
                to_json(v.clone(), entity.fields[*i].ty),
            )
        })
        .collect()
}

fn computed_fields(
    logic: &EntityLogic,
    cx: &Cx<'_>,
    record: &mut Map<String, Json>,
    touched: &mut Vec<String>,
) -> Result<()> {
    let mut details = Vec::new();
    for r in logic
        .rules
        .iter()
        .filter(|r| r.hook == "before_write" && r.kind == RuleKind::Computed)
    {
        let Some(e) = &r.expr else { continue };
        match e.eval(&cx.vars(record)) {
            Ok(v) => {
                record.insert(r.field.clone(), v);
                touched.push(r.field.clone());
            }
            Err(err) => details.push(Detail::new(&r.field, "computed", err.to_string())),
        }
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(Error::validation_details(details))
    }
}

/// The transition of machine `m` this write makes, if it makes one and it is
/// allowed; violations go to `details`, a missing role is a 403 at once.
fn accepted_transition<'m>(
    m: &'m Machine,
    cx: &Cx<'_>,
    record: &Map<String, Json>,
    details: &mut Vec<Detail>,
) -> Result<Option<&'m Transition>> {
    let Some(to_v) = record.get(&m.field) else {
        return Ok(None);
    };
    let to = json_string(to_v);
    if cx.old.is_none() {
        if !m.initial.is_empty() && to != m.initial {
            details.push(Detail::new(
                &m.field,
                "state_machine",
                format!("Initial state must be '{}', got '{to}'", m.initial),
            ));
        }
        return Ok(None);
    }
    let from = cx.old_map.get(&m.field).map(json_string).unwrap_or_default();
    if from == to {
        return Ok(None);
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
        return Ok(None);
    };
    let caller = cx.caller;
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
    let guard = match &t.guard {
        None => Ok(true),
        Some(Err(e)) => Err(e.clone()),
        Some(Ok(g)) => g
            .eval_bool(&vars(record, cx.old_map, "update", caller))
            .map_err(|e| e.to_string()),
    };
    match guard {
        Ok(true) => Ok(Some(t)),
        Ok(false) => {
            details.push(Detail::new(
                &m.field,
                "state_machine",
                format!("Transition from '{from}' to '{to}' blocked by guard"),
            ));
            Ok(None)
        }
        Err(e) => {
            details.push(Detail::new(
                &m.field,
                "state_machine",
                format!("Guard evaluation error: {e}"),
            ));
            Ok(None)
        }
    }
}

/// Runs a transition's in-record actions; the others (webhook,
/// create_record, send_event) belong to runtimes behind the effect seam.
fn apply_actions(actions: &[Action], record: &mut Map<String, Json>, touched: &mut Vec<String>) {
    for a in actions {
        match a {
            Action::SetField { field, value, .. } => {
                if field.is_empty() {
                    continue;
                }
                let v = match value {
                    SetValue::Now => json!(format_timestamp(&Utc::now())),
                    SetValue::Value(v) => v.clone(),
                };
                record.insert(field.clone(), v);
                touched.push(field.clone());
            }
            other => tracing::debug!(action = ?other, "transition action not executed in the write"),
        }
    }
}

/// Writes the values that rules and actions set back into the plan.
fn fold_back(
    entity: &Entity,
    plan: &mut RowPlan,
    record: &Map<String, Json>,
    touched: Vec<String>,
) -> Result<()> {
    for name in touched {
        let (Some(i), Some(v)) = (entity.field_index(&name), record.get(&name)) else {
            continue;
        };
        let f = &entity.fields[i];
        let val = to_value(&f.name, f.ty, v).map_err(|d| Error::validation_details(vec![d]))?;
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
