//! Reads: list (page + count pipelined) and get, with batched includes that
//! all go out together (one query per relation, the parents' keys bound as
//! one list). This module builds plan values; the store renders their SQL.

use std::collections::HashMap;
use std::sync::Arc;

use rocket_error::{Error, ErrorCode, Result};
use rocket_meta::{Access, Entity, PkKind, Registry, RelKind, Relation};
use rocket_query::Filter;
use rocket_store::sql::{self, Cond, List, Sort, Statement, Via};
use rocket_store::{Db, Executor, Rows, Value};
use serde_json::{json, Value as Json};

pub use crate::convert::Record;
use crate::convert::{json_string, row_to_object, to_json, to_value};
use crate::perm::{self, Caller};

/// The bind value of a URL id for the entity's key, or None when the id
/// cannot be a key of that type (so the answer is 404, not a database error).
pub fn pk_value(entity: &Entity, id: &str) -> Option<Value> {
    match entity.pk_kind {
        PkKind::Uuid => uuid::Uuid::parse_str(id).ok().map(|u| Value::Text(u.to_string())),
        PkKind::Int => id.parse::<i64>().ok().map(Value::Int),
        PkKind::String => Some(Value::text(id)),
    }
}

pub fn not_found(entity: &Entity, id: &str) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("{} with id {id} not found", entity.name),
    )
}

/// The live row a URL id names: by slug first when the entity has one and the
/// id does not look like a key (semantics.md §15), then by primary key. Runs
/// on the pool (`db`) or inside a write transaction (`&mut tx`).
pub async fn find(mut ex: impl Executor, entity: &Entity, id: &str) -> Result<Option<Record>> {
    if let Some(sql) = crate::write::slug::lookup_sql(entity, id) {
        if let Some(r) = ex.query_opt(sql, &[Value::text(id)]).await? {
            return Ok(Some(row_to_object(entity, r.values)));
        }
    }
    let Some(key) = pk_value(entity, id) else {
        return Ok(None);
    };
    let row = ex.query_opt(entity.sql.by_pk(), &[key]).await?;
    Ok(row.map(|r| row_to_object(entity, r.values)))
}

/// A parsed filter as a condition on the entity's column.
fn filter_cond(entity: &Entity, f: Filter) -> Cond<'_> {
    match entity.fields.get(f.field) {
        Some(field) => Cond::Cmp {
            col: &field.quoted,
            op: f.op,
            text: field.ty.is_textual(),
            value: f.value,
        },
        None => Cond::False,
    }
}

pub async fn list(
    db: &Db,
    reg: &Registry,
    entity: &Entity,
    raw_query: &str,
    caller: &Caller,
) -> Result<Json> {
    let access = perm::access(reg, &entity.name, "read", caller)?;
    let q = rocket_query::parse(entity, raw_query)?;
    let includes = resolve_includes(reg, entity, &q.includes, true)?;
    let mut filter: Vec<Cond> = q.filters.into_iter().map(|f| filter_cond(entity, f)).collect();
    filter.extend(perm::read_filter(entity, &access, caller));
    let sort = q
        .sort
        .iter()
        .filter_map(|&(i, desc)| entity.fields.get(i).map(|f| Sort { col: &f.quoted, desc }))
        .collect();
    let plan = List {
        table: &entity.sql,
        filter,
        sort,
        limit: q.per_page,
        offset: (q.page - 1).saturating_mul(q.per_page),
    };
    let (page, count) = plan.render(db.dialect());
    let mut res = db
        .query_many(&[
            (page.sql.as_str(), page.params.as_slice()),
            (count.sql.as_str(), count.params.as_slice()),
        ])
        .await?
        .into_iter();
    let page = res.next().unwrap_or_default();
    let total = res
        .next()
        .and_then(|r| r.into_iter().next())
        .and_then(|r| r.i64("n"))
        .unwrap_or(0);
    let mut records: Vec<Record> = page.rows.into_iter().map(|v| row_to_object(entity, v)).collect();
    load_includes(db, reg, entity, &includes, &mut records, caller).await?;
    Ok(json!({
        "data": records,
        "meta": {"page": q.page, "per_page": q.per_page, "total": total},
    }))
}

pub async fn get(
    db: &Db,
    reg: &Registry,
    entity: &Entity,
    id: &str,
    raw_query: &str,
    caller: &Caller,
) -> Result<Json> {
    // Unresolvable tokens are ignored on get, so this cannot fail before the 403.
    let includes = resolve_includes(reg, entity, &rocket_query::includes(raw_query), false)?;
    let access = perm::access(reg, &entity.name, "read", caller)?;
    // A row the caller may not read does not exist for them.
    let record = find(db, entity, id)
        .await?
        .filter(|r| perm::row_allowed(&access, r, caller))
        .ok_or_else(|| not_found(entity, id))?;
    let mut records = vec![record];
    load_includes(db, reg, entity, &includes, &mut records, caller).await?;
    Ok(json!({"data": records.pop()}))
}

/// How one include token loads.
struct Include {
    token: String,
    rel: Arc<Relation>,
    /// The entity is the relation's source (else: reverse include).
    forward: bool,
}

fn resolve_includes(
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
async fn load_includes(
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
