//! Applying permission decisions: 403 for denied actions, SQL predicates for
//! row-level reads, and condition checks against stored rows for writes.

use rocket_error::{Error, Result};
use rocket_meta::{Access, Condition, Entity, Registry};
use rocket_store::{Dialect, Value};
use serde_json::Value as Json;

use crate::convert::json_string;
use crate::query::{coerce, in_list};
use crate::read::Record;

/// The authenticated caller of an app route.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub roles: Vec<String>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

/// The decision for (entity, action); `Denied` becomes 403 FORBIDDEN.
pub fn access(reg: &Registry, entity: &str, action: &str, caller: &Caller) -> Result<Access> {
    match reg.policies.access(entity, action, &caller.roles) {
        Access::Denied(m) => Err(Error::forbidden(m)),
        a => Ok(a),
    }
}

/// A condition value, with `$user.id` standing for the caller's id.
fn resolve<'a>(v: &'a Json, caller: &Caller) -> std::borrow::Cow<'a, Json> {
    match v.as_str() {
        Some("$user.id") => std::borrow::Cow::Owned(Json::String(caller.id.clone())),
        _ => std::borrow::Cow::Borrowed(v),
    }
}

/// Whether `row` satisfies one condition (semantics.md §14 row semantics).
fn holds(c: &Condition, row: &Record, caller: &Caller) -> bool {
    let Some(actual) = row.get(&c.field) else {
        return false;
    };
    let want = resolve(&c.value, caller);
    let num = |v: &Json| json_string(v).trim().parse::<f64>().unwrap_or(0.0);
    let members = |v: &Json| -> Vec<String> {
        match v {
            Json::Array(a) => a.iter().map(json_string).collect(),
            other => vec![json_string(other)],
        }
    };
    match c.operator.as_str() {
        "eq" => json_string(actual) == json_string(&want),
        "neq" => json_string(actual) != json_string(&want),
        "in" => members(&want).contains(&json_string(actual)),
        "not_in" => !members(&want).contains(&json_string(actual)),
        "gt" => num(actual) > num(&want),
        "gte" => num(actual) >= num(&want),
        "lt" => num(actual) < num(&want),
        "lte" => num(actual) <= num(&want),
        _ => false,
    }
}

/// Whether a stored row passes the decision (any condition set fully holds).
pub fn row_allowed(access: &Access, row: &Record, caller: &Caller) -> bool {
    match access {
        Access::All => true,
        Access::Denied(_) => false,
        Access::Rows(sets) => sets.iter().any(|set| set.iter().all(|c| holds(c, row, caller))),
    }
}

/// Checks a write against the stored row: 403 "Permission denied" when no set holds.
pub fn check_row(access: &Access, row: &Record, caller: &Caller, action: &str, entity: &str) -> Result<()> {
    if row_allowed(access, row, caller) {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "Permission denied for {action} on {entity}"
        )))
    }
}

/// SQL predicate for a read decision (`TRUE` for `All`), columns prefixed with
/// `alias.` when given; values are appended to `params`.
pub fn sql_filter(
    entity: &Entity,
    dialect: Dialect,
    access: &Access,
    caller: &Caller,
    alias: Option<&str>,
    params: &mut Vec<Value>,
) -> String {
    let sets = match access {
        Access::All => return "TRUE".into(),
        Access::Denied(_) => return "FALSE".into(),
        Access::Rows(sets) => sets,
    };
    let mut ors = Vec::with_capacity(sets.len());
    for set in sets.iter() {
        let mut ands = Vec::with_capacity(set.len());
        for c in set {
            ands.push(
                condition_sql(entity, dialect, c, caller, alias, params).unwrap_or_else(|| "FALSE".into()),
            );
        }
        ors.push(format!("({})", ands.join(" AND ")));
    }
    format!("({})", ors.join(" OR "))
}

fn condition_sql(
    entity: &Entity,
    dialect: Dialect,
    c: &Condition,
    caller: &Caller,
    alias: Option<&str>,
    params: &mut Vec<Value>,
) -> Option<String> {
    let idx = entity.field_index(&c.field)?;
    let col = match alias {
        Some(a) => format!("{a}.{}", entity.fields[idx].quoted),
        None => entity.fields[idx].quoted.clone(),
    };
    let want = resolve(&c.value, caller);
    let op = match c.operator.as_str() {
        "eq" => "=",
        "neq" => "!=",
        "gt" => ">",
        "gte" => ">=",
        "lt" => "<",
        "lte" => "<=",
        "in" | "not_in" => {
            let items: Vec<Json> = match want.as_ref() {
                Json::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            let list = items
                .iter()
                .map(|v| coerce(entity, idx, &json_string(v)).ok())
                .collect::<Option<Vec<_>>>()?;
            params.push(Value::List(list));
            return Some(in_list(
                dialect,
                &col,
                &format!("${}", params.len()),
                c.operator == "not_in",
            ));
        }
        _ => return None,
    };
    let v = coerce(entity, idx, &json_string(&want)).ok()?;
    params.push(v);
    Some(format!("{col} {op} ${}", params.len()))
}
