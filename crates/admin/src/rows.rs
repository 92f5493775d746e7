//! The metadata rows of entities and relations: written here only, by the
//! admin routes and by import alike.

use rocket_error::{Error, Result};
use rocket_meta::{EntityDef, RelationDef};
use rocket_store::{format_timestamp, Row, StoreErrorKind, Tx, Value};
use serde_json::{json, Value as Json};

fn document(def: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(def)
        .map(Value::Document)
        .map_err(Error::internal)
}

fn ts(r: &Row, c: &str) -> Json {
    r.timestamp(c)
        .map_or(Json::Null, |t| Json::String(format_timestamp(&t)))
}

pub fn entity_json(r: &Row) -> Json {
    json!({"name": r.string("name"), "table_name": r.string("table_name"), "definition": r.json("definition"),
           "created_at": ts(r, "created_at"), "updated_at": ts(r, "updated_at")})
}

pub fn relation_json(r: &Row) -> Json {
    json!({"name": r.string("name"), "source": r.string("source"), "target": r.string("target"),
           "definition": r.json("definition"), "created_at": ts(r, "created_at"), "updated_at": ts(r, "updated_at")})
}

fn conflict(what: &str, name: &str, e: rocket_store::StoreError) -> Error {
    if e.kind == StoreErrorKind::UniqueViolation {
        Error::conflict(format!("{what} already exists: {name}"))
    } else {
        e.into()
    }
}

pub async fn insert_entity(tx: &mut Tx, def: &EntityDef) -> Result<()> {
    tx.execute(
        "INSERT INTO _entities (name, table_name, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        &[Value::text(&def.name), Value::text(&def.table), document(def)?, Value::now()],
    )
    .await
    .map_err(|e| conflict("Entity", &def.name, e))?;
    Ok(())
}

/// Rewrites the row of `def.name`; false when there is none.
pub async fn update_entity(tx: &mut Tx, def: &EntityDef) -> Result<bool> {
    let n = tx
        .execute(
            "UPDATE _entities SET table_name = $2, definition = $3, updated_at = $4 WHERE name = $1",
            &[
                Value::text(&def.name),
                Value::text(&def.table),
                document(def)?,
                Value::now(),
            ],
        )
        .await?;
    Ok(n > 0)
}

/// Removes the entity and its relations (its rules and state machines go by
/// foreign key); false when there is no such entity.
pub async fn delete_entity(tx: &mut Tx, name: &str) -> Result<bool> {
    tx.execute(
        "DELETE FROM _relations WHERE source = $1 OR target = $1",
        &[Value::text(name)],
    )
    .await?;
    let n = tx
        .execute("DELETE FROM _entities WHERE name = $1", &[Value::text(name)])
        .await?;
    Ok(n > 0)
}

/// Inserts (`insert`) or rewrites the row of `def.name`.
pub async fn write_relation(tx: &mut Tx, def: &RelationDef, insert: bool) -> Result<()> {
    let params = [
        Value::text(&def.name),
        Value::text(&def.source),
        Value::text(&def.target),
        document(def)?,
        Value::now(),
    ];
    let sql = if insert {
        "INSERT INTO _relations (name, source, target, definition, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)"
    } else {
        "UPDATE _relations SET source = $2, target = $3, definition = $4, updated_at = $5 WHERE name = $1"
    };
    tx.execute(sql, &params)
        .await
        .map_err(|e| conflict("Relation", &def.name, e))?;
    Ok(())
}
