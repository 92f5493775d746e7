//! Entities and relations (http-api.md §9.1-9.2): validate, migrate and store
//! the document in one transaction, so a failure leaves schema and metadata
//! as they were; then the snapshot is rebuilt (change sequence).

use rocket_apps::AppContext;
use rocket_engine::migrate::{migrate_entity, migrate_relation, run_deferred};
use rocket_error::{Error, Result};
use rocket_meta::{parse_def, validate_entity, validate_relation, EntityDef, Registry, RelationDef};
use rocket_store::{Db, Value};
use serde_json::Value as Json;

use crate::change::{apply, Publish};
use crate::rows;

fn object_body(body: &Json) -> Result<()> {
    if body.is_object() {
        Ok(())
    } else {
        Err(Error::invalid_payload("Invalid JSON body"))
    }
}

fn to_json(def: &impl serde::Serialize) -> Result<Json> {
    serde_json::to_value(def).map_err(Error::internal)
}

pub async fn list_entities(db: &Db) -> Result<Vec<Json>> {
    let found = db.query("SELECT * FROM _entities ORDER BY name", &[]).await?;
    Ok(found.into_iter().map(|r| rows::entity_json(&r)).collect())
}

pub async fn get_entity(db: &Db, name: &str) -> Result<Json> {
    db.query_opt("SELECT * FROM _entities WHERE name = $1", &[Value::text(name)])
        .await?
        .map(|r| rows::entity_json(&r))
        .ok_or_else(|| Error::not_found(format!("Entity not found: {name}")))
}

fn parse_entity(body: &Json) -> Result<EntityDef> {
    object_body(body)?;
    parse_def(body).map_err(|e| Error::validation(format!("invalid entity definition: {e}")))
}

/// Migrates and writes one entity in a transaction, then builds deferred
/// indexes; `insert` = create, else update.
async fn store_entity(db: &Db, def: &EntityDef, insert: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    let deferred = migrate_entity(&mut tx, def).await?;
    if insert {
        rows::insert_entity(&mut tx, def).await?;
    } else if !rows::update_entity(&mut tx, def).await? {
        return Err(Error::not_found(format!("Entity not found: {}", def.name)));
    }
    tx.commit().await?;
    run_deferred(db, deferred).await;
    Ok(())
}

pub async fn create_entity(app: &AppContext, body: &Json) -> Result<Json> {
    apply(app, Publish::OnSuccess, |reg| async move {
        let def = parse_entity(body)?;
        if !def.name.is_empty() && reg.entity(&def.name).is_some() {
            return Err(Error::conflict(format!("Entity already exists: {}", def.name)));
        }
        validate_entity(&def, &reg).map_err(Error::validation)?;
        store_entity(&app.db, &def, true).await?;
        to_json(&def)
    })
    .await
}

pub async fn update_entity(app: &AppContext, name: &str, body: &Json) -> Result<Json> {
    apply(app, Publish::OnSuccess, |reg| async move {
        let mut def = parse_entity(body)?;
        if reg.entity(name).is_none() {
            return Err(Error::not_found(format!("Entity not found: {name}")));
        }
        def.name = name.to_string();
        validate_entity(&def, &reg).map_err(Error::validation)?;
        store_entity(&app.db, &def, false).await?;
        to_json(&def)
    })
    .await
}

/// Removes the entity, its relations (and through foreign keys its rules and
/// state machines). The business table and its data are kept.
pub async fn delete_entity(app: &AppContext, name: &str) -> Result<()> {
    apply(app, Publish::OnSuccess, |_| async move {
        let mut tx = app.db.begin().await?;
        if !rows::delete_entity(&mut tx, name).await? {
            return Err(Error::not_found(format!("Entity not found: {name}")));
        }
        tx.commit().await?;
        Ok(())
    })
    .await
}

pub async fn list_relations(db: &Db) -> Result<Vec<Json>> {
    let found = db.query("SELECT * FROM _relations ORDER BY name", &[]).await?;
    Ok(found.into_iter().map(|r| rows::relation_json(&r)).collect())
}

pub async fn get_relation(db: &Db, name: &str) -> Result<Json> {
    db.query_opt("SELECT * FROM _relations WHERE name = $1", &[Value::text(name)])
        .await?
        .map(|r| rows::relation_json(&r))
        .ok_or_else(|| Error::not_found(format!("Relation not found: {name}")))
}

fn parse_relation(body: &Json) -> Result<RelationDef> {
    object_body(body)?;
    parse_def(body).map_err(|e| Error::validation(format!("invalid relation definition: {e}")))
}

/// Fills `source_key` with the source's primary key when absent, as the
/// engine joins on it anyway.
pub(crate) fn normalize_relation(mut def: RelationDef, reg: &Registry) -> RelationDef {
    if def.source_key.is_empty() {
        if let Some(src) = reg.entity(&def.source) {
            def.source_key = src.def.primary_key.field.clone();
        }
    }
    def
}

async fn store_relation(db: &Db, reg: &Registry, def: &RelationDef, insert: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    let deferred = migrate_relation(&mut tx, def, reg).await?;
    rows::write_relation(&mut tx, def, insert).await?;
    tx.commit().await?;
    run_deferred(db, deferred).await;
    Ok(())
}

pub async fn create_relation(app: &AppContext, body: &Json) -> Result<Json> {
    apply(app, Publish::OnSuccess, |reg| async move {
        let def = parse_relation(body)?;
        if !def.name.is_empty() && reg.relation(&def.name).is_some() {
            return Err(Error::conflict(format!("Relation already exists: {}", def.name)));
        }
        validate_relation(&def, &reg).map_err(Error::validation)?;
        let def = normalize_relation(def, &reg);
        store_relation(&app.db, &reg, &def, true).await?;
        to_json(&def)
    })
    .await
}

pub async fn update_relation(app: &AppContext, name: &str, body: &Json) -> Result<Json> {
    apply(app, Publish::OnSuccess, |reg| async move {
        let mut def = parse_relation(body)?;
        if reg.relation(name).is_none() {
            return Err(Error::not_found(format!("Relation not found: {name}")));
        }
        def.name = name.to_string();
        validate_relation(&def, &reg).map_err(Error::validation)?;
        let def = normalize_relation(def, &reg);
        store_relation(&app.db, &reg, &def, false).await?;
        to_json(&def)
    })
    .await
}

pub async fn delete_relation(app: &AppContext, name: &str) -> Result<()> {
    apply(app, Publish::OnSuccess, |_| async move {
        let n = app
            .db
            .execute("DELETE FROM _relations WHERE name = $1", &[Value::text(name)])
            .await?;
        if n == 0 {
            return Err(Error::not_found(format!("Relation not found: {name}")));
        }
        Ok(())
    })
    .await
}
