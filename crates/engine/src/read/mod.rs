//! Reads: list (page + count pipelined) and get, with batched includes
//! (`include.rs`). This module builds plan values; the store renders their SQL.

use rocket_error::{Error, ErrorCode, Result};
use rocket_meta::{Entity, PkKind, Registry};
use rocket_query::Filter;
use rocket_store::sql::{Cond, List, Sort};
use rocket_store::{Db, Executor, Value};
use serde_json::{json, Value as Json};

mod include;

use crate::convert::row_to_object;
pub use crate::convert::Record;
use crate::perm::{self, Caller};
use include::{load_includes, resolve_includes};

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
