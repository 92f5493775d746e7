//! Admin operations on entities and relations: validate, migrate and store
//! the document in one transaction, so a failure leaves schema and metadata
//! as they were. The caller reloads the registry afterwards.

use chrono::Utc;
use rocket_error::{Error, Result};
use rocket_meta::{parse_def, validate_entity, validate_relation, EntityDef, Registry, RelationDef};
use rocket_store::{format_timestamp, Db, Row, StoreErrorKind, Value};
use serde_json::{json, Value as Json};

use crate::migrate::{migrate_entity, migrate_relation, run_deferred};

fn object_body(body: &Json) -> Result<()> {
    if body.is_object() {
        Ok(())
    } else {
        Err(Error::invalid_payload("Invalid JSON body"))
    }
}

fn ts(r: &Row, c: &str) -> Json {
    r.timestamp(c)
        .map_or(Json::Null, |t| Json::String(format_timestamp(&t)))
}

fn entity_row(r: &Row) -> Json {
    json!({"name": r.string("name"), "table_name": r.string("table_name"), "definition": r.json("definition"),
           "created_at": ts(r, "created_at"), "updated_at": ts(r, "updated_at")})
}

fn relation_row(r: &Row) -> Json {
    json!({"name": r.string("name"), "source": r.string("source"), "target": r.string("target"),
           "definition": r.json("definition"), "created_at": ts(r, "created_at"), "updated_at": ts(r, "updated_at")})
}

fn stored(def: &impl serde::Serialize, dialect: rocket_store::Dialect) -> Result<Value> {
    let j = serde_json::to_value(def).map_err(Error::internal)?;
    Ok(match dialect {
        rocket_store::Dialect::Postgres => Value::Json(j),
        rocket_store::Dialect::Sqlite => Value::Text(j.to_string()),
    })
}

pub async fn list_entities(db: &Db) -> Result<Vec<Json>> {
    let rows = db.query("SELECT * FROM _entities ORDER BY name", &[]).await?;
    Ok(rows.into_iter().map(|r| entity_row(&r)).collect())
}

pub async fn get_entity(db: &Db, name: &str) -> Result<Json> {
    db.query_opt("SELECT * FROM _entities WHERE name = $1", &[Value::text(name)])
        .await?
        .map(|r| entity_row(&r))
        .ok_or_else(|| Error::not_found(format!("Entity not found: {name}")))
}

fn parse_entity(body: &Json) -> Result<EntityDef> {
    object_body(body)?;
    parse_def(body).map_err(|e| Error::validation(format!("invalid entity definition: {e}")))
}

pub async fn create_entity(db: &Db, reg: &Registry, body: &Json) -> Result<Json> {
    let def = parse_entity(body)?;
    if !def.name.is_empty() && reg.entity(&def.name).is_some() {
        return Err(Error::conflict(format!("Entity already exists: {}", def.name)));
    }
    validate_entity(&def, reg).map_err(Error::validation)?;
    let mut tx = db.begin().await?;
    let deferred = migrate_entity(&mut tx, &def).await?;
    let now = Value::Timestamp(Utc::now());
    let res = tx
        .execute(
            "INSERT INTO _entities (name, table_name, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            &[Value::text(&def.name), Value::text(&def.table), stored(&def, db.dialect())?, now],
        )
        .await;
    match res {
        Err(e) if e.kind == StoreErrorKind::UniqueViolation => {
            return Err(Error::conflict(format!("Entity already exists: {}", def.name)))
        }
        r => r?,
    };
    tx.commit().await?;
    run_deferred(db, deferred).await;
    serde_json::to_value(&def).map_err(Error::internal)
}

pub async fn update_entity(db: &Db, reg: &Registry, name: &str, body: &Json) -> Result<Json> {
    let mut def = parse_entity(body)?;
    if reg.entity(name).is_none() {
        return Err(Error::not_found(format!("Entity not found: {name}")));
    }
    def.name = name.to_string();
    validate_entity(&def, reg).map_err(Error::validation)?;
    let mut tx = db.begin().await?;
    let deferred = migrate_entity(&mut tx, &def).await?;
    let n = tx
        .execute(
            "UPDATE _entities SET table_name = $2, definition = $3, updated_at = $4 WHERE name = $1",
            &[
                Value::text(name),
                Value::text(&def.table),
                stored(&def, db.dialect())?,
                Value::now(),
            ],
        )
        .await?;
    if n == 0 {
        return Err(Error::not_found(format!("Entity not found: {name}")));
    }
    tx.commit().await?;
    run_deferred(db, deferred).await;
    serde_json::to_value(&def).map_err(Error::internal)
}

/// Removes the entity, its relations (and through foreign keys its rules and
/// state machines). The business table and its data are kept.
pub async fn delete_entity(db: &Db, name: &str) -> Result<()> {
    let mut tx = db.begin().await?;
    tx.execute(
        "DELETE FROM _relations WHERE source = $1 OR target = $1",
        &[Value::text(name)],
    )
    .await?;
    let n = tx
        .execute("DELETE FROM _entities WHERE name = $1", &[Value::text(name)])
        .await?;
    if n == 0 {
        return Err(Error::not_found(format!("Entity not found: {name}")));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn list_relations(db: &Db) -> Result<Vec<Json>> {
    let rows = db.query("SELECT * FROM _relations ORDER BY name", &[]).await?;
    Ok(rows.into_iter().map(|r| relation_row(&r)).collect())
}

pub async fn get_relation(db: &Db, name: &str) -> Result<Json> {
    db.query_opt("SELECT * FROM _relations WHERE name = $1", &[Value::text(name)])
        .await?
        .map(|r| relation_row(&r))
        .ok_or_else(|| Error::not_found(format!("Relation not found: {name}")))
}

fn parse_relation(body: &Json) -> Result<RelationDef> {
    object_body(body)?;
    parse_def(body).map_err(|e| Error::validation(format!("invalid relation definition: {e}")))
}

/// Fills `source_key` with the source's primary key when absent, as the
/// engine joins on it anyway.
fn normalize_relation(mut def: RelationDef, reg: &Registry) -> RelationDef {
    if def.source_key.is_empty() {
        if let Some(src) = reg.entity(&def.source) {
            def.source_key = src.def.primary_key.field.clone();
        }
    }
    def
}

async fn write_relation(db: &Db, reg: &Registry, def: &RelationDef, insert: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    let deferred = migrate_relation(&mut tx, def, reg).await?;
    let params = [
        Value::text(&def.name),
        Value::text(&def.source),
        Value::text(&def.target),
        stored(def, db.dialect())?,
        Value::now(),
    ];
    let sql = if insert {
        "INSERT INTO _relations (name, source, target, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)"
    } else {
        "UPDATE _relations SET source = $2, target = $3, definition = $4, updated_at = $5 WHERE name = $1"
    };
    match tx.execute(sql, &params).await {
        Err(e) if e.kind == StoreErrorKind::UniqueViolation => {
            return Err(Error::conflict(format!("Relation already exists: {}", def.name)))
        }
        r => r?,
    };
    tx.commit().await?;
    run_deferred(db, deferred).await;
    Ok(())
}

pub async fn create_relation(db: &Db, reg: &Registry, body: &Json) -> Result<Json> {
    let def = parse_relation(body)?;
    if !def.name.is_empty() && reg.relation(&def.name).is_some() {
        return Err(Error::conflict(format!("Relation already exists: {}", def.name)));
    }
    validate_relation(&def, reg).map_err(Error::validation)?;
    let def = normalize_relation(def, reg);
    write_relation(db, reg, &def, true).await?;
    serde_json::to_value(&def).map_err(Error::internal)
}

pub async fn update_relation(db: &Db, reg: &Registry, name: &str, body: &Json) -> Result<Json> {
    let mut def = parse_relation(body)?;
    if reg.relation(name).is_none() {
        return Err(Error::not_found(format!("Relation not found: {name}")));
    }
    def.name = name.to_string();
    validate_relation(&def, reg).map_err(Error::validation)?;
    let def = normalize_relation(def, reg);
    write_relation(db, reg, &def, false).await?;
    serde_json::to_value(&def).map_err(Error::internal)
}

pub async fn delete_relation(db: &Db, name: &str) -> Result<()> {
    let n = db
        .execute("DELETE FROM _relations WHERE name = $1", &[Value::text(name)])
        .await?;
    if n == 0 {
        return Err(Error::not_found(format!("Relation not found: {name}")));
    }
    Ok(())
}
