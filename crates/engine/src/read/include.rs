//! Includes (semantics.md §3): each token resolved against its relation's
//! kind and direction, one query per include, all sent in one batch, the
//! rows attached to their parents.

use std::collections::HashMap;
use std::sync::Arc;

use rocket_error::{Error, Result};
use rocket_meta::{Access, Entity, Registry, RelKind, Relation};
use rocket_store::sql::{self, Statement, Via};
use rocket_store::{Db, Rows, Value};
use serde_json::Value as Json;

use crate::convert::{json_string, row_to_object, to_json, to_value, Record};
use crate::perm::{self, Caller};

/// How one include token loads.
pub(super) struct Include {
    token: String,
    rel: Arc<Relation>,
    /// The entity is the relation's source (else: reverse include).
    forward: bool,
}

pub(super) fn resolve_includes(
    reg: &Registry,
    entity: &Entity,
    tokens: &[String],
    strict: bool,
) -> Result<Vec<Include>> {
    let mut out = Vec::new();
    for t in tokens {
        match reg.resolve_relation(&entity.name, t) {
            Some(rel) => out.push(Include {
                token: t.clone(),
                forward: rel.def.source == entity.name,
                rel: rel.clone(),
            }),
            None if strict => return Err(Error::unknown_field(format!("Unknown include: {t}"))),
            None => {}
        }
    }
    Ok(out)
}

/// Distinct non-null values of `field` across records, as bind values.
fn key_values(records: &[Record], field: &str, entity: &Entity) -> Vec<Value> {
    let Some(f) = entity.field(field) else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in records {
        if let Some(v) = r.get(field).filter(|v| !v.is_null()) {
            if seen.insert(json_string(v)) {
                if let Ok(val) = to_value(field, f.ty, v) {
                    out.push(val);
                }
            }
        }
    }
    out
}

/// How loaded rows attach to the parent records.
enum Attach {
    /// Children grouped by their `group_field`, or (`keyed`) by the join key
    /// in their first column; 1:1 takes the first child.
    Many {
        parent_key: String,
        keyed: bool,
        group_field: Option<String>,
        first_only: bool,
    },
    /// The related row whose `match_field` equals the parent's `parent_key`.
    One { parent_key: String, match_field: String },
}

impl Attach {
    /// The parents' field whose values are the key list.
    fn parent_key(&self) -> &str {
        match self {
            Attach::Many { parent_key, .. } | Attach::One { parent_key, .. } => parent_key,
        }
    }
}

/// One include resolved against its relation's kind and direction.
struct IncludePlan<'r> {
    token: &'r str,
    related: &'r Entity,
    via: Via<'r>,
    attach: Attach,
}

fn plan_include<'r>(reg: &'r Registry, entity: &'r Entity, inc: &'r Include) -> Option<IncludePlan<'r>> {
    let rel = &inc.rel;
    let (source, target) = (reg.entity(&rel.def.source)?, reg.entity(&rel.def.target)?);
    let skey = rel.source_key(source).to_string();
    let (related, via, attach) = match (rel.kind, inc.forward) {
        (RelKind::ManyToMany, forward) => {
            let join = rel.join.as_ref()?;
            let (related, on, parent_key) = if forward {
                (target, target.pk_field().quoted.as_str(), skey)
            } else {
                (source, rel.source_key_q(source), entity.pk_field().name.clone())
            };
            let attach = Attach::Many {
                parent_key,
                keyed: true,
                group_field: None,
                first_only: false,
            };
            let via = Via::Join {
                join,
                reverse: !forward,
                on,
            };
            (related, via, attach)
        }
        (_, true) => {
            let attach = Attach::Many {
                parent_key: skey,
                keyed: false,
                group_field: Some(rel.def.target_key.clone()),
                first_only: rel.kind == RelKind::OneToOne,
            };
            (target, Via::Column(&rel.target_key_q), attach)
        }
        (_, false) => {
            let attach = Attach::One {
                parent_key: rel.def.target_key.clone(),
                match_field: skey,
            };
            (source, Via::Column(rel.source_key_q(source)), attach)
        }
    };
    Some(IncludePlan {
        token: &inc.token,
        related,
        via,
        attach,
    })
}

/// Loads every include in one batch. An include whose rows the caller may
/// not read attaches as empty; one without parent keys is left out.
pub(super) async fn load_includes(
    db: &Db,
    reg: &Registry,
    entity: &Entity,
    includes: &[Include],
    records: &mut [Record],
    caller: &Caller,
) -> Result<()> {
    if includes.is_empty() || records.is_empty() {
        return Ok(());
    }
    let mut pending: Vec<(Statement, IncludePlan)> = Vec::new();
    for inc in includes {
        let Some(plan) = plan_include(reg, entity, inc) else {
            continue;
        };
        // Rows of the related entity are read under its own read policy.
        let access = reg.policies.access(&plan.related.name, "read", &caller.roles);
        if let Access::Denied(_) = access {
            attach_rows(records, plan, Rows::default());
            continue;
        }
        let keys = key_values(records, plan.attach.parent_key(), entity);
        if keys.is_empty() {
            continue;
        }
        let query = sql::Include {
            table: &plan.related.sql,
            via: plan.via,
            keys,
            filter: perm::read_filter(plan.related, &access, caller)
                .into_iter()
                .collect(),
        };
        pending.push((query.render(db.dialect()), plan));
    }
    if pending.is_empty() {
        return Ok(());
    }
    let batch: Vec<(&str, &[Value])> = pending
        .iter()
        .map(|(st, _)| (st.sql.as_str(), st.params.as_slice()))
        .collect();
    let results: Vec<Rows> = db.query_many(&batch).await?;
    for ((_, plan), rows) in pending.into_iter().zip(results) {
        attach_rows(records, plan, rows);
    }
    Ok(())
}

/// An included row: declared fields only (no implicit `deleted_at`).
fn included(related: &Entity, values: Vec<Value>) -> Record {
    let mut obj = row_to_object(related, values);
    if related.implicit_deleted_at {
        obj.shift_remove("deleted_at");
    }
    obj
}

fn attach_rows(records: &mut [Record], plan: IncludePlan<'_>, rows: Rows) {
    let IncludePlan {
        token,
        related,
        attach,
        ..
    } = plan;
    match attach {
        Attach::Many {
            parent_key,
            keyed,
            group_field,
            first_only,
        } => {
            let mut groups: HashMap<String, Vec<Json>> = HashMap::new();
            for mut values in rows.rows {
                let key = if keyed {
                    let k = values.remove(0);
                    json_string(&to_json(k, rocket_meta::FieldType::String))
                } else {
                    String::new()
                };
                let obj = included(related, values);
                let key = match &group_field {
                    Some(g) => obj.get(g).map(json_string).unwrap_or_default(),
                    None => key,
                };
                groups.entry(key).or_default().push(Json::Object(obj));
            }
            for r in records.iter_mut() {
                let k = r.get(&parent_key).map(json_string).unwrap_or_default();
                let children = groups.get(&k).cloned().unwrap_or_default();
                let v = if first_only {
                    children.into_iter().next().unwrap_or(Json::Null)
                } else {
                    Json::Array(children)
                };
                r.insert(token.to_string(), v);
            }
        }
        Attach::One {
            parent_key,
            match_field,
        } => {
            let mut by_key: HashMap<String, Json> = HashMap::new();
            for values in rows.rows {
                let obj = included(related, values);
                let k = obj.get(&match_field).map(json_string).unwrap_or_default();
                by_key.entry(k).or_insert(Json::Object(obj));
            }
            for r in records.iter_mut() {
                let v = r
                    .get(&parent_key)
                    .filter(|v| !v.is_null())
                    .and_then(|k| by_key.get(&json_string(k)).cloned())
                    .unwrap_or(Json::Null);
                r.insert(token.to_string(), v);
            }
        }
    }
}
