//! Applying permission decisions: 403 for denied actions, the read decision
//! as a condition of the SQL plan, and condition checks against stored rows
//! for writes. Operators arrive compiled (`RowCondition::op`); nothing here
//! looks at operator names.

use std::borrow::Cow;

use rocket_error::{Error, Result};
use rocket_meta::{Access, Entity, Registry, RowCondition};
use rocket_query::{coerce, Op};
use rocket_store::sql::Cond;
use rocket_store::Value;
use serde_json::Value as Json;

use crate::convert::{json_string, Record};

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
fn resolve<'a>(v: &'a Json, caller: &Caller) -> Cow<'a, Json> {
    match v.as_str() {
        Some("$user.id") => Cow::Owned(Json::String(caller.id.clone())),
        _ => Cow::Borrowed(v),
    }
}

/// The members of an `in`/`not_in` value: an array, or one value.
fn members(v: &Json) -> &[Json] {
    match v {
        Json::Array(a) => a,
        other => std::slice::from_ref(other),
    }
}

/// Whether `row` satisfies one condition (semantics.md §14 row semantics).
fn holds(c: &RowCondition, row: &Record, caller: &Caller) -> bool {
    let (Some(actual), Some(op)) = (row.get(&c.field), c.op) else {
        return false;
    };
    let want = resolve(&c.value, caller);
    let num = |v: &Json| json_string(v).trim().parse::<f64>().unwrap_or(0.0);
    let is_member = || {
        let actual = json_string(actual);
        members(&want).iter().any(|m| json_string(m) == actual)
    };
    match op {
        Op::Eq => json_string(actual) == json_string(&want),
        Op::Neq => json_string(actual) != json_string(&want),
        Op::In => is_member(),
        Op::NotIn => !is_member(),
        Op::Gt => num(actual) > num(&want),
        Op::Gte => num(actual) >= num(&want),
        Op::Lt => num(actual) < num(&want),
        Op::Lte => num(actual) <= num(&want),
        Op::Like => false,
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

/// The read decision as one condition on `entity`'s rows (None for `All`),
/// with the filter semantics of §2.1; a condition that cannot apply (unknown
/// field, value of the wrong type) is FALSE.
pub fn read_filter<'e>(entity: &'e Entity, access: &Access, caller: &Caller) -> Option<Cond<'e>> {
    let sets = match access {
        Access::All => return None,
        Access::Denied(_) => return Some(Cond::False),
        Access::Rows(sets) => sets,
    };
    let set = |set: &Vec<RowCondition>| {
        set.iter()
            .map(|c| condition(entity, c, caller).unwrap_or(Cond::False))
            .collect()
    };
    Some(Cond::AnyOf(sets.iter().map(set).collect()))
}

fn condition<'e>(entity: &'e Entity, c: &RowCondition, caller: &Caller) -> Option<Cond<'e>> {
    let idx = entity.field_index(&c.field)?;
    let field = entity.fields.get(idx)?;
    let want = resolve(&c.value, caller);
    let coerced = |v: &Json| coerce(entity, idx, &json_string(v)).ok();
    let op = c.op?;
    let value = match op {
        Op::In | Op::NotIn => Value::List(members(&want).iter().map(coerced).collect::<Option<_>>()?),
        Op::Like => return None,
        _ => coerced(&want)?,
    };
    Some(Cond::Cmp {
        col: &field.quoted,
        op,
        text: field.ty.is_textual(),
        value,
    })
}
