//! Invites (semantics.md §17). Tokens are 256 random bits, returned once at
//! creation and stored only as a SHA-256 digest; accepting is single-use.

use chrono::{Duration, Utc};
use rocket_auth::{random_hex, sha256_hex};
use rocket_error::{Error, ErrorCode, Result};
use rocket_store::{format_timestamp, Db, Row, Value};
use serde::Deserialize;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use crate::accounts::{hash, Accounts, APP_TABLES};

const TTL_HOURS: i64 = 72;

#[derive(Debug, Default, Deserialize)]
pub struct InviteBody {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct BulkBody {
    #[serde(default)]
    pub emails: Option<Vec<Json>>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct AcceptBody {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub password: String,
}

fn ts(r: &Row, c: &str) -> Json {
    r.timestamp(c)
        .map_or(Json::Null, |t| Json::String(format_timestamp(&t)))
}

/// List rows: the token itself is not recoverable (only its digest is stored).
fn invite_row(r: &Row) -> Json {
    json!({"id": r.string("id"), "email": r.string("email"), "roles": r.text_list("roles"), "token": Json::Null,
           "expires_at": ts(r, "expires_at"), "accepted_at": ts(r, "accepted_at"),
           "invited_by": r.str("invited_by"), "created_at": ts(r, "created_at")})
}

pub async fn list(db: &Db) -> Result<Vec<Json>> {
    let rows = db
        .query("SELECT * FROM _invites ORDER BY created_at DESC, id", &[])
        .await?;
    Ok(rows.into_iter().map(|r| invite_row(&r)).collect())
}

/// Why an email cannot be invited now, if it cannot.
async fn blocked(db: &Db, email: &str) -> Result<Option<&'static str>> {
    let user = db
        .query_opt(
            "SELECT id FROM _users WHERE lower(email) = $1",
            &[Value::text(email)],
        )
        .await?;
    if user.is_some() {
        return Ok(Some("A user with this email already exists"));
    }
    let pending = db
        .query_opt(
            "SELECT id FROM _invites WHERE lower(email) = $1 AND accepted_at IS NULL AND expires_at > $2",
            &[Value::text(email), Value::now()],
        )
        .await?;
    Ok(pending.map(|_| "A pending invite already exists for this email"))
}

async fn insert(db: &Db, email: &str, roles: &[String], invited_by: &str) -> Result<Json> {
    let id = Uuid::new_v4().to_string();
    let token = random_hex(32);
    let now = Utc::now();
    let expires = now + Duration::hours(TTL_HOURS);
    let by = Uuid::parse_str(invited_by)
        .ok()
        .map(|u| Value::text(u.to_string()))
        .unwrap_or(Value::Null);
    db.execute(
        "INSERT INTO _invites (id, email, roles, token, expires_at, invited_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            Value::text(&id),
            Value::text(email),
            Value::TextList(roles.to_vec()),
            Value::Text(sha256_hex(&token)),
            Value::Timestamp(expires),
            by.clone(),
            Value::Timestamp(now),
        ],
    )
    .await?;
    Ok(json!({"id": id, "email": email, "roles": roles, "token": token,
              "expires_at": format_timestamp(&expires), "invited_by": if by.is_null() { Json::Null } else { Json::String(invited_by.to_string()) },
              "created_at": format_timestamp(&now)}))
}

fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

pub async fn create(db: &Db, b: InviteBody, invited_by: &str) -> Result<Json> {
    let email = normalize(&b.email);
    if email.is_empty() {
        return Err(Error::validation("email is required"));
    }
    if let Some(why) = blocked(db, &email).await? {
        return Err(Error::conflict(why));
    }
    insert(db, &email, &b.roles.unwrap_or_default(), invited_by).await
}

pub async fn bulk(db: &Db, b: BulkBody, invited_by: &str) -> Result<Json> {
    let emails = b
        .emails
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Error::validation("emails is required and must be a non-empty array"))?;
    let mut distinct: Vec<String> = Vec::new();
    for e in &emails {
        let e = normalize(e.as_str().unwrap_or(""));
        if e.is_empty() {
            return Err(Error::validation("emails must not contain blank entries"));
        }
        if !distinct.contains(&e) {
            distinct.push(e);
        }
    }
    let roles = b.roles.unwrap_or_default();
    let (mut created, mut skipped) = (Vec::new(), Vec::new());
    for email in &distinct {
        if let Some(why) = blocked(db, email).await? {
            skipped.push(json!({"email": email, "reason": why}));
            continue;
        }
        match insert(db, email, &roles, invited_by).await {
            Ok(inv) => created.push(json!({"id": inv["id"], "email": email, "token": inv["token"], "expires_at": inv["expires_at"]})),
            Err(e) => skipped.push(json!({"email": email, "reason": format!("Insert failed: {}", e.message)})),
        }
    }
    Ok(json!({"created": created, "skipped": skipped,
              "summary": {"total": distinct.len(), "created": created.len(), "skipped": skipped.len()}}))
}

pub async fn delete(db: &Db, id: &str) -> Result<()> {
    let nf = || Error::not_found(format!("Invite not found: {id}"));
    let key = Uuid::parse_str(id).map_err(|_| nf())?;
    if db
        .execute(
            "DELETE FROM _invites WHERE id = $1",
            &[Value::text(key.to_string())],
        )
        .await?
        == 0
    {
        return Err(nf());
    }
    Ok(())
}

/// Creates the user and logs them in; 201 body `{access_token, refresh_token, user}`.
pub async fn accept(db: &Db, secret: &str, b: AcceptBody) -> Result<Json> {
    if b.token.trim().is_empty() {
        return Err(Error::validation("token is required"));
    }
    if b.password.is_empty() {
        return Err(Error::validation("password is required"));
    }
    let digest = sha256_hex(b.token.trim());
    let inv = db
        .query_opt("SELECT * FROM _invites WHERE token = $1", &[Value::text(&digest)])
        .await?
        .ok_or_else(|| Error::not_found("Invalid invite token"))?;
    // The reference answers these two with 400 VALIDATION_FAILED.
    let bad_request = |m: &str| Error::new(ErrorCode::ValidationFailedBadRequest, m);
    if inv.timestamp("accepted_at").is_some() {
        return Err(bad_request("Invite has already been accepted"));
    }
    if inv.timestamp("expires_at").is_none_or(|t| t <= Utc::now()) {
        return Err(bad_request("Invite has expired"));
    }
    let email = inv.string("email");
    let roles = inv.text_list("roles");
    let user_id = Uuid::new_v4().to_string();
    let password_hash = hash(b.password).await?;
    let mut tx = db.begin().await?;
    let exists = tx
        .query_opt(
            "SELECT id FROM _users WHERE lower(email) = lower($1)",
            &[Value::text(&email)],
        )
        .await?;
    if exists.is_some() {
        return Err(Error::conflict("A user with this email already exists"));
    }
    // Single use: only the request that flips accepted_at proceeds.
    let claimed = tx
        .execute(
            "UPDATE _invites SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL",
            &[Value::text(inv.string("id")), Value::now()],
        )
        .await?;
    if claimed == 0 {
        return Err(bad_request("Invite has already been accepted"));
    }
    let now = Value::now();
    tx.execute(
        "INSERT INTO _users (id, email, password_hash, roles, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &[Value::text(&user_id), Value::text(&email), Value::Text(password_hash), Value::TextList(roles.clone()), Value::Bool(true), now],
    )
    .await
    .map_err(|e| if e.kind == rocket_store::StoreErrorKind::UniqueViolation { Error::conflict("A user with this email already exists") } else { e.into() })?;
    tx.commit().await?;
    let pair = Accounts {
        db,
        tables: APP_TABLES,
        secret,
    }
    .issue(&user_id, &roles)
    .await?;
    Ok(
        json!({"access_token": pair.access_token, "refresh_token": pair.refresh_token,
              "user": {"id": user_id, "email": email, "roles": roles}}),
    )
}
