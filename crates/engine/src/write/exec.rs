//! Executes a write plan inside one transaction, propagating each generated
//! parent key to its children.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use chrono::Utc;
use rocket_error::{Detail, Error, Result};
use rocket_meta::{Access, Entity, FieldType, Registry, RelKind};
use rocket_store::sql::{ByKey, Insert, Update};
use rocket_store::{StoreError, StoreErrorKind, Tx, Value};

use super::plan::{Mode, RelPlan, RowPlan};
use crate::convert::{json_string, row_to_object, to_json, to_value, Record};
use crate::perm::{self, Caller};

pub fn now_for(ty: FieldType) -> Value {
    let now = Utc::now();
    if ty == FieldType::Date {
        Value::Date(now.date_naive())
    } else {
        Value::Timestamp(now)
    }
}

/// Maps write failures: unique → 409, NOT NULL and bad values → 422 naming the
/// field (with the row's path for nested rows).
pub fn write_error(entity: &Entity, path: &str, e: StoreError) -> Error {
    let field = e.constraint.as_deref().map(|c| {
        let c = c.rsplit('.').next().unwrap_or(c);
        let name = entity
            .fields
            .iter()
            .filter(|f| c == f.name || c.ends_with(&format!("_{}", f.name)))
            .max_by_key(|f| f.name.len())
            .map(|f| f.name.clone())
            .unwrap_or_else(|| c.to_string());
        if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        }
    });
    match e.kind {
        StoreErrorKind::NotNull => Error::validation_details(vec![Detail {
            message: format!("{} is required", field.clone().unwrap_or_default()),
            field,
            rule: Some("required".into()),
        }]),
        StoreErrorKind::InvalidValue => Error::validation_details(vec![Detail {
            field,
            rule: Some("type".into()),
            message: e.message,
        }]),
        StoreErrorKind::UniqueViolation => Error::conflict("A record with this value already exists")
            .with_details(vec![Detail {
                message: format!("{} must be unique", field.clone().unwrap_or_default()),
                field,
                rule: Some("unique".into()),
            }]),
        _ => e.into(),
    }
}

/// INSERT of one row: payload values, defaults, auto timestamps, a generated
/// UUID key, and the forced foreign key. Returns the stored row.
pub async fn insert_row(tx: &mut Tx, plan: &RowPlan, fk: Option<(usize, Value)>) -> Result<Record> {
    let entity = &plan.entity;
    let mut values: Vec<(&str, Value)> = Vec::new();
    for (i, f) in entity.fields.iter().enumerate() {
        let given = plan.values.iter().find(|(j, _)| *j == i).map(|(_, v)| v.clone());
        let value = if fk.as_ref().is_some_and(|(j, _)| *j == i) {
            fk.as_ref().map(|(_, v)| v.clone())
        } else if i == entity.pk && entity.pk_generated {
            match entity.pk_kind {
                rocket_meta::PkKind::Uuid => Some(Value::Text(uuid::Uuid::new_v4().to_string())),
                _ => None, // database identity / rowid
            }
        } else if f.is_auto() {
            Some(now_for(f.ty))
        } else if given.is_some() {
            given
        } else {
            f.def
                .default
                .as_ref()
                .and_then(|d| to_value(&f.name, f.ty, d).ok())
        };
        if let Some(v) = value {
            values.push((&f.quoted, v));
        }
    }
    let st = Insert {
        table: &entity.sql,
        values,
    }
    .render();
    let row = tx
        .query_opt(&st.sql, &st.params)
        .await
        .map_err(|e| write_error(entity, &plan.path, e))?
        .ok_or_else(|| Error::internal("insert returned no row"))?;
    Ok(row_to_object(entity, row.values))
}

/// UPDATE of the payload fields (plus `auto: update` stamps) of the live row
/// with `key`. None when no such live row exists.
pub async fn update_row(tx: &mut Tx, plan: &RowPlan, key: &Value) -> Result<Option<Record>> {
    let entity = &plan.entity;
    let mut sets: Vec<(&str, Value)> = Vec::new();
    for (i, v) in &plan.values {
        match entity.fields.get(*i) {
            Some(f) if *i != entity.pk && !f.is_auto() => sets.push((&f.quoted, v.clone())),
            _ => {}
        }
    }
    // Stamps only when something changes; with nothing to set the row is read.
    if !sets.is_empty() {
        for f in entity
            .fields
            .iter()
            .filter(|f| f.def.auto.as_deref() == Some("update"))
        {
            sets.push((&f.quoted, now_for(f.ty)));
        }
    }
    let st = Update {
        table: &entity.sql,
        key: key.clone(),
        sets,
    }
    .render();
    let row = tx
        .query_opt(&st.sql, &st.params)
        .await
        .map_err(|e| write_error(entity, &plan.path, e))?;
    Ok(row.map(|r| row_to_object(entity, r.values)))
}

/// Soft delete when the entity has it, else hard delete. Returns rows affected.
pub async fn delete_by_key(tx: &mut Tx, entity: &Entity, key: &Value) -> Result<u64> {
    let st = ByKey {
        table: &entity.sql,
        col: &entity.pk_field().quoted,
        key: key.clone(),
    }
    .delete();
    Ok(tx.execute(&st.sql, &st.params).await?)
}

/// Value of `field` in a stored record as a bind parameter.
pub fn key_of(entity: &Entity, record: &Record, field: &str) -> Option<Value> {
    let f = entity.field(field)?;
    let v = record.get(field).filter(|v| !v.is_null())?;
    to_value(field, f.ty, v).ok()
}

type Fut<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Who writes, under which policies: nested rows are permission-checked on
/// their own entity (create/update/delete, with row conditions).
pub struct ExecCtx<'a> {
    pub reg: &'a Registry,
    pub caller: &'a Caller,
}

impl ExecCtx<'_> {
    /// Denied → 403; row conditions are checked against the stored row.
    async fn allow(&self, tx: &mut Tx, entity: &Entity, action: &str, key: Option<&Value>) -> Result<()> {
        let access = perm::access(self.reg, &entity.name, action, self.caller)?;
        if let (Access::Rows(_), Some(k)) = (&access, key) {
            let row = tx.query_opt(entity.sql.by_pk(), std::slice::from_ref(k)).await?;
            let rec = row.map(|r| row_to_object(entity, r.values)).unwrap_or_default();
            perm::check_row(&access, &rec, self.caller, action, &entity.name)?;
        }
        Ok(())
    }
}

/// Runs the nested writes under a stored parent row.
pub fn exec_children<'a>(
    tx: &'a mut Tx,
    plan: &'a RowPlan,
    parent: &'a Record,
    cx: &'a ExecCtx<'a>,
) -> Fut<'a> {
    Box::pin(async move {
        for rp in &plan.relations {
            let skey = rp.rel.source_key(&plan.entity);
            let Some(p) = key_of(&plan.entity, parent, skey) else {
                continue;
            };
            match rp.rel.kind {
                RelKind::ManyToMany => exec_links(tx, rp, &p).await?,
                RelKind::OneToMany | RelKind::OneToOne => exec_owned(tx, rp, &p, cx).await?,
            }
        }
        Ok(())
    })
}

async fn exec_owned(tx: &mut Tx, rp: &RelPlan, p: &Value, cx: &ExecCtx<'_>) -> Result<()> {
    let target = &rp.target;
    let Some(fk_idx) = target.field_index(&rp.rel.def.target_key) else {
        return Ok(());
    };
    let fk_col = &target.fields[fk_idx].quoted;
    // Current children by the string form of their key (how rows are matched).
    let current: HashMap<String, Value> = if rp.mode == Mode::Append {
        HashMap::new()
    } else {
        let st = ByKey {
            table: &target.sql,
            col: fk_col,
            key: p.clone(),
        }
        .keys();
        tx.query(&st.sql, &st.params)
            .await?
            .rows
            .into_iter()
            .filter_map(|mut r| r.pop())
            .map(|v| (json_string(&to_json(v.clone(), target.pk_field().ty)), v))
            .collect()
    };
    let mut mentioned = HashSet::new();
    for row in &rp.rows {
        match &row.given_pk {
            None => {
                if row.delete {
                    continue;
                }
                cx.allow(tx, target, "create", None).await?;
                let stored = insert_row(tx, row, Some((fk_idx, p.clone()))).await?;
                exec_children(tx, row, &stored, cx).await?;
            }
            Some(key) => {
                let k = json_string(&to_json(key.clone(), target.pk_field().ty));
                if !current.contains_key(&k) || rp.mode == Mode::Append {
                    continue; // not a current child of this parent: ignored
                }
                mentioned.insert(k);
                if row.delete && rp.mode == Mode::Diff {
                    cx.allow(tx, target, "delete", Some(key)).await?;
                    delete_by_key(tx, target, key).await?;
                } else {
                    cx.allow(tx, target, "update", Some(key)).await?;
                    if let Some(stored) = update_row(tx, row, key).await? {
                        exec_children(tx, row, &stored, cx).await?;
                    }
                }
            }
        }
    }
    if rp.mode == Mode::Replace {
        for (k, key) in &current {
            if !mentioned.contains(k) {
                cx.allow(tx, target, "delete", Some(key)).await?;
                delete_by_key(tx, target, key).await?;
            }
        }
    }
    Ok(())
}

async fn exec_links(tx: &mut Tx, rp: &RelPlan, p: &Value) -> Result<()> {
    let Some(join) = &rp.rel.join else {
        return Ok(());
    };
    if rp.mode == Mode::Replace {
        tx.execute(join.clear(), std::slice::from_ref(p)).await?;
    }
    for row in &rp.rows {
        let Some(t) = &row.given_pk else {
            continue; // rows without a target id are skipped
        };
        let params = [p.clone(), t.clone()];
        if row.delete && rp.mode == Mode::Diff {
            tx.execute(join.unlink(), &params).await?;
        } else {
            tx.execute(join.link(), &params)
                .await
                .map_err(|e| write_error(&rp.target, &row.path, e))?;
        }
    }
    Ok(())
}
