//! `/_admin/permissions`: whitelist policies. Every change rebuilds the
//! snapshot, so the precomputed decisions are rebuilt with it.

use chrono::Utc;
use rocket_apps::AppContext;
use rocket_error::{Error, Result};
use rocket_meta::{parse_def, Condition};
use rocket_store::{format_timestamp, Db, Row, Value};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use crate::change::{apply, Publish};

#[derive(Debug, Default, Deserialize)]
pub struct PolicyBody {
    #[serde(default)]
    pub entity: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub conditions: Option<Json>,
}

const ACTIONS: &[&str] = &["read", "create", "update", "delete"];

fn row(r: &Row) -> Json {
    let ts = |c: &str| r.timestamp(c).map(|t| format_timestamp(&t));
    let conditions = match r.json("conditions") {
        Json::Null => json!([]),
        v => v,
    };
    json!({"id": r.string("id"), "entity": r.string("entity"), "action": r.string("action"),
           "roles": r.text_list("roles"), "conditions": conditions,
           "created_at": ts("created_at"), "updated_at": ts("updated_at")})
}

fn response(id: &str, b: &PolicyBody, conditions: &[Condition]) -> Json {
    let mut out = json!({"id": id, "entity": b.entity, "action": b.action, "roles": b.roles});
    if !conditions.is_empty() {
        out["conditions"] = json!(conditions);
    }
    out
}

fn validate(b: &PolicyBody) -> Result<Vec<Condition>> {
    if b.entity.trim().is_empty() {
        return Err(Error::validation("entity is required"));
    }
    if b.action.trim().is_empty() {
        return Err(Error::validation("action is required"));
    }
    if !ACTIONS.contains(&b.action.as_str()) {
        return Err(Error::validation(
            "action must be read, create, update, or delete",
        ));
    }
    let conditions: Vec<Condition> = match &b.conditions {
        None | Some(Json::Null) => Vec::new(),
        Some(v) => parse_def(v).map_err(|e| Error::validation(format!("invalid conditions: {e}")))?,
    };
    for c in &conditions {
        rocket_meta::validate_condition(c).map_err(Error::validation)?;
    }
    Ok(conditions)
}

fn stored_conditions(c: &[Condition]) -> Value {
    Value::Document(json!(c))
}

fn nf(id: &str) -> Error {
    Error::not_found(format!("Permission not found: {id}"))
}

fn key(id: &str) -> Option<Value> {
    Uuid::parse_str(id).ok().map(|u| Value::text(u.to_string()))
}

pub async fn list(db: &Db) -> Result<Vec<Json>> {
    let rows = db
        .query(
            "SELECT * FROM _permissions ORDER BY entity, action, created_at",
            &[],
        )
        .await?;
    Ok(rows.into_iter().map(|r| row(&r)).collect())
}

pub async fn get(db: &Db, id: &str) -> Result<Json> {
    let k = key(id).ok_or_else(|| nf(id))?;
    db.query_opt("SELECT * FROM _permissions WHERE id = $1", &[k])
        .await?
        .map(|r| row(&r))
        .ok_or_else(|| nf(id))
}

pub async fn create(app: &AppContext, b: PolicyBody) -> Result<Json> {
    apply(app, Publish::OnSuccess, |_| insert(&app.db, b)).await
}

/// The parameters of both statements: key, columns, timestamp.
fn params(key: Value, b: &PolicyBody, conditions: &[Condition]) -> [Value; 6] {
    [
        key,
        Value::text(&b.entity),
        Value::text(&b.action),
        Value::TextList(b.roles.clone()),
        stored_conditions(conditions),
        Value::Timestamp(Utc::now()),
    ]
}

/// Inserts without the change sequence (import holds it already).
pub(crate) async fn insert(db: &Db, b: PolicyBody) -> Result<Json> {
    let conditions = validate(&b)?;
    let id = Uuid::new_v4().to_string();
    db.execute(
        "INSERT INTO _permissions (id, entity, action, roles, conditions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &params(Value::text(&id), &b, &conditions),
    )
    .await?;
    Ok(response(&id, &b, &conditions))
}

pub async fn update(app: &AppContext, id: &str, b: PolicyBody) -> Result<Json> {
    apply(app, Publish::OnSuccess, |_| rewrite(&app.db, id, b)).await
}

async fn rewrite(db: &Db, id: &str, b: PolicyBody) -> Result<Json> {
    let k = key(id).ok_or_else(|| nf(id))?;
    let conditions = validate(&b)?;
    let n = db
        .execute(
            "UPDATE _permissions SET entity = $2, action = $3, roles = $4, conditions = $5, updated_at = $6 WHERE id = $1",
            &params(k, &b, &conditions),
        )
        .await?;
    if n == 0 {
        return Err(nf(id));
    }
    Ok(response(id, &b, &conditions))
}

pub async fn delete(app: &AppContext, id: &str) -> Result<()> {
    apply(app, Publish::OnSuccess, |_| async move {
        let k = key(id).ok_or_else(|| nf(id))?;
        if app
            .db
            .execute("DELETE FROM _permissions WHERE id = $1", &[k])
            .await?
            == 0
        {
            return Err(nf(id));
        }
        Ok(())
    })
    .await
}
