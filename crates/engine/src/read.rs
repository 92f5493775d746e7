//! Reads: list (page + count pipelined) and get, with batched includes that
//! all go out together (one query per relation, `key = ANY($1)`).

use std::collections::HashMap;
use std::sync::Arc;

use rocket_error::{Error, ErrorCode, Result};
use rocket_meta::{Access, Entity, PkKind, Registry, RelKind, Relation};
use rocket_store::{quote_ident, Db, Dialect, Rows, Value};
use serde_json::{json, Map, Value as Json};

use crate::convert::{from_json, json_string, row_to_object};
use crate::perm::{self, Caller};
use crate::query::{self, in_list, order_by, where_clause};

pub type Record = Map<String, Json>;

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
/// id does not look like a key (semantics.md §15), then by primary key.
pub async fn find(db: &Db, entity: &Entity, id: &str) -> Result<Option<Record>> {
    if let Some(sql) = crate::write::slug::lookup_sql(entity, id) {
        if let Some(r) = db.query_opt(&sql, &[Value::text(id)]).await? {
            return Ok(Some(row_to_object(entity, r.values)));
        }
    }
    let Some(key) = pk_value(entity, id) else {
        return Ok(None);
    };
    let row = db.query_opt(&entity.sql_by_pk, &[key]).await?;
    Ok(row.map(|r| row_to_object(entity, r.values)))
}

pub async fn list(
    db: &Db,
    reg: &Registry,
    entity: &Entity,
    raw_query: &str,
    caller: &Caller,
) -> Result<Json> {
    let access = perm::access(reg, &entity.name, "read", caller)?;
    let q = query::parse(entity, raw_query)?;
    let includes = resolve_includes(reg, entity, &q.includes, true)?;
    let dialect = db.dialect();
    let mut params = Vec::new();
    let mut wh = where_clause(entity, dialect, &q.filters, &mut params);
    if !matches!(access, Access::All) {
        let f = perm::sql_filter(entity, dialect, &access, caller, None, &mut params);
        wh = format!("{wh} AND {f}");
    }
    let count_sql = format!("SELECT COUNT(*) AS n FROM {} WHERE {wh}", entity.table_q);
    let mut page_params = params.clone();
    page_params.push(Value::Int(q.per_page));
    page_params.push(Value::Int((q.page - 1).saturating_mul(q.per_page)));
    let page_sql = format!(
        "SELECT {} FROM {} WHERE {wh} ORDER BY {} LIMIT ${} OFFSET ${}",
        entity.select_list,
        entity.table_q,
        order_by(entity, &q.sort),
        params.len() + 1,
        params.len() + 2
    );
    let mut res = db
        .query_many(&[
            (page_sql.as_str(), page_params.as_slice()),
            (count_sql.as_str(), params.as_slice()),
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
    let access = perm::access(reg, &entity.name, "read", caller)?;
    let mut includes_raw = Vec::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        if k == "include" {
            includes_raw = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
    }
    let includes = resolve_includes(reg, entity, &includes_raw, false)?;
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
fn key_values(records: &[Record], field: &str, entity: &Entity, dialect: Dialect) -> Vec<Value> {
    let Some(f) = entity.field(field) else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in records {
        if let Some(v) = r.get(field).filter(|v| !v.is_null()) {
            if seen.insert(json_string(v)) {
                if let Ok(val) = from_json(field, f.ty, v, dialect) {
                    out.push(val);
                }
            }
        }
    }
    out
}

fn source_key(rel: &Relation, source: &Entity) -> String {
    if rel.def.source_key.is_empty() {
        source.pk_field().name.clone()
    } else {
        rel.def.source_key.clone()
    }
}

/// One query for a many-to-many include: join rows whose `keys.0` is in `$1`,
/// joined to the live rows of `other` whose `other_col` equals `keys.1`; the
/// first column is the key the rows are grouped by.
fn link_sql(
    dialect: Dialect,
    join_table: &str,
    keys: (&str, &str),
    other: &Entity,
    alias: &str,
    other_col: &str,
    pol: &str,
) -> String {
    let live = if other.soft_delete {
        format!(" AND {alias}.\"deleted_at\" IS NULL")
    } else {
        String::new()
    };
    format!(
        "SELECT j.{key}, {cols} FROM {jt} j JOIN {ot} {alias} ON {alias}.{oc} = j.{ok} WHERE {cond}{live}{pol}",
        key = quote_ident(keys.0),
        cols = other.select_list_as(alias),
        jt = quote_ident(join_table),
        ot = other.table_q,
        oc = quote_ident(other_col),
        ok = quote_ident(keys.1),
        cond = in_list(dialect, &format!("j.{}", quote_ident(keys.0)), "$1", false),
    )
}

/// The include parameters with the key list as `$1`.
fn with_keys(params: &[Value], keys: Vec<Value>) -> Vec<Value> {
    let mut p = params.to_vec();
    p[0] = Value::List(keys);
    p
}

/// SQL, its parameters, the related entity, how to attach, and the token.
type IncludeQuery = (String, Vec<Value>, Arc<Entity>, Attach, String);

enum Attach {
    /// Children grouped by their value of `group_col` (position 0 = key when `keyed`).
    Many {
        parent_key: String,
        keyed: bool,
        group_field: Option<String>,
        first_only: bool,
    },
    One {
        parent_key: String,
        match_field: String,
    },
}

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
    let dialect = db.dialect();
    let ph = "$1";
    let mut stmts: Vec<IncludeQuery> = Vec::new();
    for inc in includes {
        let rel = &inc.rel;
        let (Some(source), Some(target)) = (reg.entity(&rel.def.source), reg.entity(&rel.def.target)) else {
            continue;
        };
        let skey = source_key(rel, source);
        // Rows of the related entity are read under its own read policy.
        let related = if inc.forward { target } else { source };
        let access = reg.policies.access(&related.name, "read", &caller.roles);
        if let Access::Denied(_) = access {
            let empty = Rows::default();
            let attach = match (rel.kind, inc.forward) {
                (RelKind::OneToMany | RelKind::OneToOne, false) => Attach::One {
                    parent_key: rel.def.target_key.clone(),
                    match_field: skey,
                },
                (_, true) if rel.kind != RelKind::ManyToMany => Attach::Many {
                    parent_key: skey,
                    keyed: false,
                    group_field: Some(rel.def.target_key.clone()),
                    first_only: rel.kind == RelKind::OneToOne,
                },
                (_, true) => Attach::Many {
                    parent_key: skey,
                    keyed: true,
                    group_field: None,
                    first_only: false,
                },
                (_, false) => Attach::Many {
                    parent_key: entity.pk_field().name.clone(),
                    keyed: true,
                    group_field: None,
                    first_only: false,
                },
            };
            attach_rows(records, related, attach, &inc.token, empty);
            continue;
        }
        // $1 is the key list; policy values follow.
        let mut params = vec![Value::Null];
        let alias = match (rel.kind, inc.forward) {
            (RelKind::ManyToMany, true) => Some("t"),
            (RelKind::ManyToMany, false) => Some("s"),
            _ => None,
        };
        let pol = if matches!(access, Access::All) {
            String::new()
        } else {
            format!(
                " AND {}",
                perm::sql_filter(related, dialect, &access, caller, alias, &mut params)
            )
        };
        match (rel.kind, inc.forward) {
            (RelKind::OneToMany | RelKind::OneToOne, true) => {
                let keys = key_values(records, &skey, entity, dialect);
                if keys.is_empty() {
                    continue;
                }
                let sql = format!(
                    "SELECT {} FROM {} WHERE {}{}{pol}",
                    target.select_list,
                    target.table_q,
                    in_list(dialect, &quote_ident(&rel.def.target_key), ph, false),
                    target.live_filter
                );
                let attach = Attach::Many {
                    parent_key: skey,
                    keyed: false,
                    group_field: Some(rel.def.target_key.clone()),
                    first_only: rel.kind == RelKind::OneToOne,
                };
                stmts.push((
                    sql,
                    with_keys(&params, keys),
                    target.clone(),
                    attach,
                    inc.token.clone(),
                ));
            }
            (RelKind::ManyToMany, true) => {
                let keys = key_values(records, &skey, entity, dialect);
                if keys.is_empty() {
                    continue;
                }
                let sql = link_sql(
                    dialect,
                    &rel.def.join_table,
                    (&rel.def.source_join_key, &rel.def.target_join_key),
                    target,
                    "t",
                    &target.pk_field().name,
                    &pol,
                );
                let attach = Attach::Many {
                    parent_key: skey,
                    keyed: true,
                    group_field: None,
                    first_only: false,
                };
                stmts.push((
                    sql,
                    with_keys(&params, keys),
                    target.clone(),
                    attach,
                    inc.token.clone(),
                ));
            }
            (RelKind::OneToMany | RelKind::OneToOne, false) => {
                let keys = key_values(records, &rel.def.target_key, entity, dialect);
                if keys.is_empty() {
                    continue;
                }
                let sql = format!(
                    "SELECT {} FROM {} WHERE {}{}{pol}",
                    source.select_list,
                    source.table_q,
                    in_list(dialect, &quote_ident(&skey), ph, false),
                    source.live_filter
                );
                let attach = Attach::One {
                    parent_key: rel.def.target_key.clone(),
                    match_field: skey,
                };
                stmts.push((
                    sql,
                    with_keys(&params, keys),
                    source.clone(),
                    attach,
                    inc.token.clone(),
                ));
            }
            (RelKind::ManyToMany, false) => {
                let pk = entity.pk_field().name.clone();
                let keys = key_values(records, &pk, entity, dialect);
                if keys.is_empty() {
                    continue;
                }
                let sql = link_sql(
                    dialect,
                    &rel.def.join_table,
                    (&rel.def.target_join_key, &rel.def.source_join_key),
                    source,
                    "s",
                    &skey,
                    &pol,
                );
                let attach = Attach::Many {
                    parent_key: pk,
                    keyed: true,
                    group_field: None,
                    first_only: false,
                };
                stmts.push((
                    sql,
                    with_keys(&params, keys),
                    source.clone(),
                    attach,
                    inc.token.clone(),
                ));
            }
        }
    }
    if stmts.is_empty() {
        return Ok(());
    }
    let batch: Vec<(&str, &[Value])> = stmts
        .iter()
        .map(|(s, p, ..)| (s.as_str(), p.as_slice()))
        .collect();
    let results: Vec<Rows> = db.query_many(&batch).await?;
    for ((_, _, related, attach, token), rows) in stmts.into_iter().zip(results) {
        attach_rows(records, &related, attach, &token, rows);
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

fn attach_rows(records: &mut [Record], related: &Entity, attach: Attach, token: &str, rows: Rows) {
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
                    json_string(&crate::convert::to_json(k, rocket_meta::FieldType::String))
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
