//! `/_admin/users`: app accounts. `password_hash` never leaves this module.

use chrono::Utc;
use rocket_error::{Error, Result};
use rocket_store::{format_timestamp, Db, Row, StoreErrorKind, Value};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use crate::accounts::hash;

#[derive(Debug, Default, Deserialize)]
pub struct UserBody {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub active: Option<bool>,
}

fn user_row(r: &Row) -> Json {
    let ts = |c: &str| r.timestamp(c).map(|t| format_timestamp(&t));
    json!({"id": r.string("id"), "email": r.string("email"), "roles": r.text_list("roles"),
           "active": r.bool("active").unwrap_or(false), "created_at": ts("created_at"), "updated_at": ts("updated_at")})
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("User not found: {id}"))
}

fn conflict_on_email(e: rocket_store::StoreError) -> Error {
    if e.kind == StoreErrorKind::UniqueViolation {
        Error::conflict("A user with this email already exists")
    } else {
        e.into()
    }
}

fn parse_id(id: &str) -> Option<Value> {
    Uuid::parse_str(id).ok().map(|u| Value::text(u.to_string()))
}

pub async fn list(db: &Db) -> Result<Vec<Json>> {
    let rows = db
        .query(
            "SELECT id, email, roles, active, created_at, updated_at FROM _users ORDER BY created_at, email",
            &[],
        )
        .await?;
    Ok(rows.into_iter().map(|r| user_row(&r)).collect())
}

pub async fn get(db: &Db, id: &str) -> Result<Json> {
    let key = parse_id(id).ok_or_else(|| not_found(id))?;
    db.query_opt(
        "SELECT id, email, roles, active, created_at, updated_at FROM _users WHERE id = $1",
        &[key],
    )
    .await?
    .map(|r| user_row(&r))
    .ok_or_else(|| not_found(id))
}

pub async fn create(db: &Db, b: UserBody) -> Result<Json> {
    let email = b.email.trim().to_string();
    if email.is_empty() {
        return Err(Error::validation("email is required"));
    }
    let password = b
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::validation("password is required"))?;
    let id = Uuid::new_v4().to_string();
    let now = Value::Timestamp(Utc::now());
    db.execute(
        "INSERT INTO _users (id, email, password_hash, roles, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &[
            Value::text(&id),
            Value::text(&email),
            Value::Text(hash(password).await?),
            Value::TextList(b.roles.unwrap_or_default()),
            Value::Bool(b.active.unwrap_or(true)),
            now,
        ],
    )
    .await
    .map_err(conflict_on_email)?;
    get(db, &id).await
}

/// Full replacement except: empty/absent password keeps the hash, absent
/// `active` keeps the stored flag (the reference would write NULL = disabled).
pub async fn update(db: &Db, id: &str, b: UserBody) -> Result<Json> {
    let key = parse_id(id).ok_or_else(|| not_found(id))?;
    let email = b.email.trim().to_string();
    if email.is_empty() {
        return Err(Error::validation("email is required"));
    }
    let active = b.active.map_or(Value::Null, Value::Bool);
    let password = match b.password.filter(|p| !p.is_empty()) {
        Some(p) => Value::Text(hash(p).await?),
        None => Value::Null,
    };
    // An absent flag or password binds NULL and COALESCE keeps the stored one.
    let n = db
        .execute(
            "UPDATE _users SET email = $2, roles = $3, updated_at = $4, active = COALESCE($5, active), password_hash = COALESCE($6, password_hash) WHERE id = $1",
            &[
                key,
                Value::text(&email),
                Value::TextList(b.roles.unwrap_or_default()),
                Value::Timestamp(Utc::now()),
                active,
                password,
            ],
        )
        .await
        .map_err(conflict_on_email)?;
    if n == 0 {
        return Err(not_found(id));
    }
    if b.active == Some(false) {
        // A disabled account's sessions end at their next refresh; drop them now.
        db.execute(
            "DELETE FROM _refresh_tokens WHERE user_id = $1",
            &[Value::text(id)],
        )
        .await?;
    }
    get(db, id).await
}

pub async fn delete(db: &Db, id: &str) -> Result<()> {
    let key = parse_id(id).ok_or_else(|| not_found(id))?;
    db.execute(
        "DELETE FROM _refresh_tokens WHERE user_id = $1",
        std::slice::from_ref(&key),
    )
    .await?;
    if db.execute("DELETE FROM _users WHERE id = $1", &[key]).await? == 0 {
        return Err(not_found(id));
    }
    Ok(())
}
