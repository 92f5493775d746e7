//! The write pipeline: plan (validate everything) → BEGIN → slug → parent
//! write → nested writes → COMMIT. Deletes apply the relations' `on_delete`
//! policies in the same transaction.

mod exec;
mod plan;
mod rules;
pub mod slug;

use std::sync::Arc;

use rocket_error::{Error, ErrorCode, Result};
use rocket_meta::{Entity, Registry, RelKind};
use rocket_store::sql::ByKey;
use rocket_store::{Db, StoreErrorKind, Tx, Value};
use serde_json::{Map, Value as Json};

pub use exec::{delete_by_key, now_for};
pub use plan::{Limits, Mode, RelPlan, RowPlan};

use crate::convert::{json_string, Record};
use crate::effects::{Action, Change, Effects};
use crate::perm::{self, Caller};
use crate::read::{find, not_found};
use exec::{exec_children, insert_row, key_of, update_row, ExecCtx};

fn pk_of(entity: &Entity, rec: &Record) -> Result<Value> {
    key_of(entity, rec, &entity.pk_field().name).ok_or_else(|| Error::internal("row without primary key"))
}

/// Slug to store on create/update when the payload gives none (None = leave
/// as is), its base cut to the indexed-length limit.
async fn slug_for(
    tx: &mut Tx,
    entity: &Entity,
    plan: &RowPlan,
    old: Option<&Record>,
    exclude: Option<&Value>,
    max_len: usize,
) -> Result<Option<(usize, String)>> {
    let Some(sc) = &entity.def.slug else {
        return Ok(None);
    };
    let Some(source) = sc.source.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let Some(idx) = entity.field_index(&sc.field) else {
        return Ok(None);
    };
    let explicit = plan
        .record
        .get(&sc.field)
        .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
    if explicit {
        return Ok(None);
    }
    let Some(src) = plan
        .record
        .get(source)
        .filter(|v| !v.is_null())
        .map(json_string)
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    if let Some(old) = old {
        let changed = old.get(source).map(json_string).as_deref() != Some(src.as_str());
        if !sc.regenerate_on_update || !changed {
            return Ok(None);
        }
    }
    let base = slug::fit(&slug::slugify(&src), max_len);
    Ok(Some((
        idx,
        slug::free_slug(tx, entity, &sc.field, &base, exclude).await?,
    )))
}

/// A unique violation on the slug column (another writer took our candidate).
fn is_slug_conflict(slug_field: &str, e: &Error) -> bool {
    e.code == ErrorCode::Conflict && e.details.iter().any(|d| d.field.as_deref() == Some(slug_field))
}

/// A bound only against a broken store. Each lost race means another writer
/// committed the candidate, so the search moves on; past `-100` candidates
/// are random (36^6) and do not collide: a writer loses ~100 times at most.
const MAX_SLUG_ATTEMPTS: usize = 1000;

/// Writes the parent row, retrying with the next free slug when a concurrent
/// writer took the one we generated (inside a savepoint, so the transaction
/// survives): a generated slug never surfaces as a 409.
async fn write_parent(
    tx: &mut Tx,
    entity: &Entity,
    plan: &mut RowPlan,
    old: Option<&Record>,
    key: Option<&Value>,
    max_len: usize,
) -> Result<Option<Record>> {
    for _ in 0..MAX_SLUG_ATTEMPTS {
        let slug = slug_for(tx, entity, plan, old, key, max_len).await?;
        let Some((idx, s)) = slug else {
            return match key {
                None => insert_row(tx, plan, None).await.map(Some),
                Some(k) => update_row(tx, plan, k).await,
            };
        };
        plan.values.retain(|(i, _)| *i != idx);
        plan.values.push((idx, Value::Text(s)));
        tx.batch("SAVEPOINT rocket_slug").await?;
        let res = match key {
            None => insert_row(tx, plan, None).await.map(Some),
            Some(k) => update_row(tx, plan, k).await,
        };
        let slug_field = entity.fields[idx].name.as_str();
        match res {
            Err(e) if is_slug_conflict(slug_field, &e) => {
                tx.batch("ROLLBACK TO SAVEPOINT rocket_slug").await?;
            }
            Err(e) => {
                let _ = tx.batch("ROLLBACK TO SAVEPOINT rocket_slug").await;
                return Err(e);
            }
            Ok(r) => {
                tx.batch("RELEASE SAVEPOINT rocket_slug").await?;
                return Ok(r);
            }
        }
    }
    Err(Error::conflict("A record with this value already exists"))
}

/// The body is parsed only after the entity, record and permission checks
/// (http-api.md §11 check order), so a malformed body never hides a 404/403.
/// A NUL anywhere in it is a 400, as in every JSON body (`convert::nul_path`).
fn parse_body(raw: &[u8]) -> Result<Json> {
    let body = serde_json::from_slice(raw).map_err(|_| Error::invalid_json())?;
    crate::convert::reject_nul(body)
}

/// Who writes and what happens around the write; the same for every write
/// of a request.
pub struct WriteCx<'a> {
    pub app: &'a str,
    pub caller: &'a Caller,
    pub limits: Limits,
    pub effects: &'a Effects,
    /// The app's job queue, for handlers that enqueue inside the write's
    /// transaction (the outbox); None where no queue is wired (unit tests).
    pub queue: Option<&'a rocket_queue::Queue>,
}

impl WriteCx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn change<'c>(
        &'c self,
        db: &'c Db,
        reg: &'c Registry,
        entity: &'c Entity,
        action: Action,
        fields: &'c Record,
        row: Option<&'c Record>,
        old: Option<&'c Record>,
    ) -> Change<'c> {
        Change {
            app: self.app,
            entity,
            action,
            fields,
            row,
            old,
            user: self.caller,
            queue: self.queue,
            db,
            logic: reg.logic(&entity.name),
        }
    }
}

pub async fn create(
    db: &Db,
    reg: &Registry,
    entity: &Arc<Entity>,
    body: &[u8],
    wcx: &WriteCx<'_>,
) -> Result<Record> {
    let (caller, limits) = (wcx.caller, wcx.limits);
    perm::access(reg, &entity.name, "create", caller)?;
    let body = parse_body(body)?;
    let mut plan = plan::plan(reg, db, entity, body, true, limits).await?;
    let cx = ExecCtx { reg, caller };
    rules::before_write(reg.logic(&entity.name), entity, &mut plan, None, caller)?;
    let mut tx = db.begin().await?;
    let row = write_parent(&mut tx, entity, &mut plan, None, None, limits.max_indexed_length)
        .await?
        .ok_or_else(|| Error::internal("insert returned no row"))?;
    exec_children(&mut tx, &plan, &row, &cx).await?;
    let change = wcx.change(db, reg, entity, Action::Create, &plan.record, Some(&row), None);
    wcx.effects.before_commit(&mut tx, &change).await?;
    tx.commit().await?;
    wcx.effects.after_commit(&change).await;
    Ok(row)
}

/// Check order (http-api.md §11): record (404) → permission on the stored row
/// (403) → body (400/422) → write. The row is checked again inside the
/// transaction, where it cannot change underneath us.
pub async fn update(
    db: &Db,
    reg: &Registry,
    entity: &Arc<Entity>,
    id: &str,
    body: &[u8],
    wcx: &WriteCx<'_>,
) -> Result<Record> {
    let (caller, limits) = (wcx.caller, wcx.limits);
    let access = perm::access(reg, &entity.name, "update", caller);
    let before = find(db, entity, id).await?.ok_or_else(|| not_found(entity, id))?;
    let access = access?;
    perm::check_row(&access, &before, caller, "update", &entity.name)?;
    let body = parse_body(body)?;
    let mut plan = plan::plan(reg, db, entity, body, false, limits).await?;
    let cx = ExecCtx { reg, caller };
    let mut tx = db.begin().await?;
    let current = find(&mut tx, entity, id)
        .await?
        .ok_or_else(|| not_found(entity, id))?;
    perm::check_row(&access, &current, caller, "update", &entity.name)?;
    rules::before_write(reg.logic(&entity.name), entity, &mut plan, Some(&current), caller)?;
    let key = pk_of(entity, &current)?;
    let row = write_parent(
        &mut tx,
        entity,
        &mut plan,
        Some(&current),
        Some(&key),
        limits.max_indexed_length,
    )
    .await?
    .ok_or_else(|| not_found(entity, id))?;
    exec_children(&mut tx, &plan, &row, &cx).await?;
    let change = wcx.change(
        db,
        reg,
        entity,
        Action::Update,
        &plan.record,
        Some(&row),
        Some(&current),
    );
    wcx.effects.before_commit(&mut tx, &change).await?;
    tx.commit().await?;
    wcx.effects.after_commit(&change).await;
    Ok(row)
}

/// Applies `on_delete` of every relation whose source is `entity`
/// (semantics.md §6): restrict → 409 naming the relation; cascade; set_null; detach.
async fn cascade(tx: &mut Tx, reg: &Registry, entity: &Entity, row: &Record) -> Result<()> {
    for rel in reg.relations.iter().filter(|r| r.def.source == entity.name) {
        let Some(target) = reg.entity(&rel.def.target) else {
            continue;
        };
        let Some(key) = key_of(entity, row, rel.source_key(entity)) else {
            continue;
        };
        let d = &rel.def;
        // The target rows that point at the deleted row.
        let children = ByKey {
            table: &target.sql,
            col: &rel.target_key_q,
            key,
        };
        match (rel.kind, d.on_delete.as_str()) {
            (RelKind::ManyToMany, "cascade" | "detach") => {
                if let Some(join) = &rel.join {
                    tx.execute(join.clear(), &[children.key]).await?;
                }
            }
            (RelKind::ManyToMany, _) => {}
            (_, "restrict") => {
                let st = children.count();
                let n = tx
                    .query_opt(&st.sql, &st.params)
                    .await?
                    .and_then(|r| r.i64("n"))
                    .unwrap_or(0);
                if n > 0 {
                    return Err(Error::conflict(format!(
                        "Cannot delete: {n} related {} records exist (relation {})",
                        target.name, d.name
                    )));
                }
            }
            (_, "cascade") => {
                let st = children.delete();
                tx.execute(&st.sql, &st.params).await?;
            }
            (_, "set_null") => {
                let st = children.set_null();
                tx.execute(&st.sql, &st.params).await.map_err(|e| {
                    if e.kind == StoreErrorKind::NotNull {
                        Error::conflict(format!(
                            "Cannot delete: {}.{} is required and cannot be set to null (relation {})",
                            target.name, d.target_key, d.name
                        ))
                    } else {
                        e.into()
                    }
                })?;
            }
            _ => {}
        }
    }
    Ok(())
}

pub async fn delete(
    db: &Db,
    reg: &Registry,
    entity: &Entity,
    id: &str,
    wcx: &WriteCx<'_>,
) -> Result<Map<String, Json>> {
    let caller = wcx.caller;
    let access = perm::access(reg, &entity.name, "delete", caller);
    let mut tx = db.begin().await?;
    let current = find(&mut tx, entity, id)
        .await?
        .ok_or_else(|| not_found(entity, id))?;
    let access = access?;
    perm::check_row(&access, &current, caller, "delete", &entity.name)?;
    rules::before_delete(reg.logic(&entity.name), &current, caller)?;
    let key = pk_of(entity, &current)?;
    cascade(&mut tx, reg, entity, &current).await?;
    if delete_by_key(&mut tx, entity, &key).await? == 0 {
        return Err(not_found(entity, id));
    }
    let change = wcx.change(db, reg, entity, Action::Delete, &current, None, None);
    wcx.effects.before_commit(&mut tx, &change).await?;
    tx.commit().await?;
    wcx.effects.after_commit(&change).await;
    let mut out = Map::new();
    out.insert("id".into(), Json::String(id.to_string()));
    Ok(out)
}
