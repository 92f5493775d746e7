//! UI configs (http-api.md §9.12, §10.1): opaque JSON per (entity, scope).
//! Not used by the engine, so changes do not reload the registry.

use chrono::Utc;
use rocket_error::{Error, Result};
use rocket_meta::Registry;
use rocket_store::{format_timestamp, Db, Row, StoreErrorKind, Value};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
pub struct UiConfigBody {
    #[serde(default)]
    pub entity: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub config: Option<Json>,
}

fn row(r: &Row) -> Json {
    let ts = |c: &str| r.timestamp(c).map(|t| format_timestamp(&t));
    json!({"id": r.string("id"), "entity": r.string("entity"), "scope": r.string("scope"),
           "config": r.json("config"), "created_at": ts("created_at"), "updated_at": ts("updated_at")})
}

fn stored(v: &Json) -> Value {
    Value::Document(v.clone())
}

fn nf(id: &str) -> Error {
    Error::not_found(format!("UI config not found: {id}"))
}

fn key(id: &str) -> Option<Value> {
    Uuid::parse_str(id).ok().map(|u| Value::text(u.to_string()))
}

/// Configs given as JSON-encoded strings are stored as JSON.
fn config_of(b: &UiConfigBody) -> Json {
    match &b.config {
        None | Some(Json::Null) => json!({}),
        Some(Json::String(s)) => serde_json::from_str(s).unwrap_or(Json::String(s.clone())),
        Some(v) => v.clone(),
    }
}

fn scope_of(b: &UiConfigBody) -> String {
    b.scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string()
}

pub async fn list(db: &Db) -> Result<Vec<Json>> {
    let rows = db
        .query("SELECT * FROM _ui_configs ORDER BY entity, scope", &[])
        .await?;
    Ok(rows.into_iter().map(|r| row(&r)).collect())
}

/// Non-admin read: scope `default` only, sorted by entity.
pub async fn list_default(db: &Db) -> Result<Vec<Json>> {
    let rows = db
        .query(
            "SELECT * FROM _ui_configs WHERE scope = 'default' ORDER BY entity",
            &[],
        )
        .await?;
    Ok(rows.into_iter().map(|r| row(&r)).collect())
}

/// Non-admin read of one entity's default config, or null.
pub async fn for_entity(db: &Db, entity: &str) -> Result<Json> {
    Ok(db
        .query_opt(
            "SELECT * FROM _ui_configs WHERE entity = $1 AND scope = 'default'",
            &[Value::text(entity)],
        )
        .await?
        .map_or(Json::Null, |r| row(&r)))
}

pub async fn get(db: &Db, id: &str) -> Result<Json> {
    let k = key(id).ok_or_else(|| nf(id))?;
    db.query_opt("SELECT * FROM _ui_configs WHERE id = $1", &[k])
        .await?
        .map(|r| row(&r))
        .ok_or_else(|| nf(id))
}

pub async fn create(db: &Db, reg: &Registry, b: UiConfigBody) -> Result<Json> {
    let entity = b.entity.trim().to_string();
    if entity.is_empty() {
        return Err(Error::validation("entity is required"));
    }
    if !entity.starts_with('_') && reg.entity(&entity).is_none() {
        return Err(Error::validation(format!("entity not found: {entity}")));
    }
    let scope = scope_of(&b);
    let id = Uuid::new_v4().to_string();
    let res = db
        .query_opt(
            "INSERT INTO _ui_configs (id, entity, scope, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING *",
            &[Value::text(&id), Value::text(&entity), Value::text(&scope), stored(&config_of(&b)), Value::Timestamp(Utc::now())],
        )
        .await;
    match res {
        Err(e) if e.kind == StoreErrorKind::UniqueViolation => Err(Error::conflict(format!(
            "UI config already exists for entity {entity} scope {scope}"
        ))),
        Err(e) => Err(e.into()),
        Ok(r) => r
            .map(|r| row(&r))
            .ok_or_else(|| Error::internal("insert returned no row")),
    }
}

pub async fn update(db: &Db, id: &str, b: UiConfigBody) -> Result<Json> {
    let k = key(id).ok_or_else(|| nf(id))?;
    let entity = b.entity.trim().to_string();
    if entity.is_empty() {
        return Err(Error::validation("entity is required"));
    }
    let scope = scope_of(&b);
    let res = db
        .query_opt(
            "UPDATE _ui_configs SET entity = $2, scope = $3, config = $4, updated_at = $5 WHERE id = $1 RETURNING *",
            &[k, Value::text(&entity), Value::text(&scope), stored(&config_of(&b)), Value::Timestamp(Utc::now())],
        )
        .await;
    match res {
        Err(e) if e.kind == StoreErrorKind::UniqueViolation => Err(Error::conflict(format!(
            "UI config already exists for entity {entity} scope {scope}"
        ))),
        Err(e) => Err(e.into()),
        Ok(r) => r.map(|r| row(&r)).ok_or_else(|| nf(id)),
    }
}

/// Insert or replace by (entity, scope); used by import.
pub async fn upsert(db: &Db, entity: &str, scope: &str, config: &Json) -> Result<()> {
    let now = Value::Timestamp(Utc::now());
    let n = db
        .execute(
            "UPDATE _ui_configs SET config = $3, updated_at = $4 WHERE entity = $1 AND scope = $2",
            &[
                Value::text(entity),
                Value::text(scope),
                stored(config),
                now.clone(),
            ],
        )
        .await?;
    if n == 0 {
        db.execute(
            "INSERT INTO _ui_configs (id, entity, scope, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
            &[Value::text(Uuid::new_v4().to_string()), Value::text(entity), Value::text(scope), stored(config), now],
        )
        .await?;
    }
    Ok(())
}

pub async fn delete(db: &Db, id: &str) -> Result<()> {
    let k = key(id).ok_or_else(|| nf(id))?;
    if db.execute("DELETE FROM _ui_configs WHERE id = $1", &[k]).await? == 0 {
        return Err(nf(id));
    }
    Ok(())
}
