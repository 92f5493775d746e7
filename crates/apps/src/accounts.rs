//! Login, refresh-token rotation and logout, shared by platform users and app
//! users (same flow, different tables and signing secret).

use chrono::{Duration, Utc};
use rocket_auth::{hash_password, issue_access_token, verify_password, REFRESH_TTL_SECS};
use rocket_error::{Error, Result};
use rocket_store::{Db, Value};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
}

/// Which tables hold the accounts, as the fixed statements run on them (one
/// set per table pair, so no statement is assembled at run time).
#[derive(Debug, Clone, Copy)]
pub struct AccountTables {
    /// `$1` email → id, password_hash, roles, active.
    pub login: &'static str,
    /// `$1` refresh token → token id, user_id, expires_at, roles, active.
    pub refresh: &'static str,
    /// Deletes the token row `$1` (rotation).
    pub rotate: &'static str,
    /// Deletes the token `$1` (logout).
    pub logout: &'static str,
    /// Stores a refresh token: id, user_id, token, expires_at, created_at.
    pub issue: &'static str,
    /// `n`: the number of users.
    pub count_users: &'static str,
    /// Inserts a user: id, email, password_hash, roles, active, timestamps.
    pub seed: &'static str,
}

pub const PLATFORM_TABLES: AccountTables = AccountTables {
    login: "SELECT id, password_hash, roles, active FROM _platform_users WHERE lower(email) = lower($1)",
    refresh: "SELECT t.id, t.user_id, t.expires_at, u.roles, u.active FROM _platform_refresh_tokens t JOIN _platform_users u ON u.id = t.user_id WHERE t.token = $1",
    rotate: "DELETE FROM _platform_refresh_tokens WHERE id = $1",
    logout: "DELETE FROM _platform_refresh_tokens WHERE token = $1",
    issue: "INSERT INTO _platform_refresh_tokens (id, user_id, token, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    count_users: "SELECT COUNT(*) AS n FROM _platform_users",
    seed: "INSERT INTO _platform_users (id, email, password_hash, roles, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
};

pub const APP_TABLES: AccountTables = AccountTables {
    login: "SELECT id, password_hash, roles, active FROM _users WHERE lower(email) = lower($1)",
    refresh: "SELECT t.id, t.user_id, t.expires_at, u.roles, u.active FROM _refresh_tokens t JOIN _users u ON u.id = t.user_id WHERE t.token = $1",
    rotate: "DELETE FROM _refresh_tokens WHERE id = $1",
    logout: "DELETE FROM _refresh_tokens WHERE token = $1",
    issue: "INSERT INTO _refresh_tokens (id, user_id, token, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    count_users: "SELECT COUNT(*) AS n FROM _users",
    seed: "INSERT INTO _users (id, email, password_hash, roles, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
};

pub struct Accounts<'a> {
    pub db: &'a Db,
    pub tables: AccountTables,
    pub secret: &'a str,
}

async fn check_password(password: String, hash: String) -> bool {
    // bcrypt is deliberately slow: keep it off the async workers.
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

impl Accounts<'_> {
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair> {
        if email.trim().is_empty() || password.is_empty() {
            return Err(Error::unauthorized("Email and password are required"));
        }
        let row = self
            .db
            .query_opt(self.tables.login, &[Value::text(email.trim())])
            .await?;
        let Some(row) = row else {
            // Same work as a wrong password, so timing does not tell which emails exist.
            let pw = password.to_string();
            let _ =
                tokio::task::spawn_blocking(move || verify_password(&pw, rocket_auth::dummy_hash())).await;
            return Err(Error::unauthorized("Invalid email or password"));
        };
        if !check_password(password.to_string(), row.string("password_hash")).await {
            return Err(Error::unauthorized("Invalid email or password"));
        }
        if row.bool("active") != Some(true) {
            return Err(Error::unauthorized("Account is disabled"));
        }
        self.issue(&row.string("id"), &row.text_list("roles")).await
    }

    pub async fn refresh(&self, token: &str) -> Result<TokenPair> {
        if token.is_empty() {
            return Err(Error::unauthorized("Refresh token is required"));
        }
        let Ok(token) = Uuid::parse_str(token) else {
            return Err(Error::unauthorized("Invalid refresh token"));
        };
        let Some(row) = self
            .db
            .query_opt(self.tables.refresh, &[Value::Uuid(token)])
            .await?
        else {
            return Err(Error::unauthorized("Invalid refresh token"));
        };
        // Rotation: whoever deletes the row owns the refresh; a concurrent reuse loses.
        let deleted = self
            .db
            .execute(self.tables.rotate, &[Value::text(row.string("id"))])
            .await?;
        if deleted == 0 {
            return Err(Error::unauthorized("Invalid refresh token"));
        }
        if row.timestamp("expires_at").is_none_or(|t| t <= Utc::now()) {
            return Err(Error::unauthorized("Refresh token expired"));
        }
        if row.bool("active") != Some(true) {
            return Err(Error::unauthorized("Account is disabled"));
        }
        self.issue(&row.string("user_id"), &row.text_list("roles")).await
    }

    pub async fn logout(&self, token: &str) -> Result<()> {
        if token.is_empty() {
            return Err(Error::unauthorized("Refresh token is required"));
        }
        if let Ok(token) = Uuid::parse_str(token) {
            self.db.execute(self.tables.logout, &[Value::Uuid(token)]).await?;
        }
        Ok(())
    }

    /// New access token plus a stored refresh token for the user.
    pub async fn issue(&self, user_id: &str, roles: &[String]) -> Result<TokenPair> {
        let access_token = issue_access_token(self.secret, user_id, roles).map_err(Error::internal)?;
        let refresh = Uuid::new_v4();
        let now = Utc::now();
        self.db
            .execute(
                self.tables.issue,
                &[
                    Value::Uuid(Uuid::new_v4()),
                    Value::text(user_id),
                    Value::Uuid(refresh),
                    Value::Timestamp(now + Duration::seconds(REFRESH_TTL_SECS)),
                    Value::Timestamp(now),
                ],
            )
            .await?;
        Ok(TokenPair {
            access_token,
            refresh_token: refresh.to_string(),
        })
    }

    /// Seeds one account when the users table is empty; returns whether it did.
    pub async fn seed_if_empty(&self, email: &str, password: &str, roles: &[&str]) -> Result<bool> {
        let n = self
            .db
            .query_opt(self.tables.count_users, &[])
            .await?
            .and_then(|r| r.i64("n"))
            .unwrap_or(0);
        if n > 0 {
            return Ok(false);
        }
        let now = Utc::now();
        self.db
            .execute(
                self.tables.seed,
                &[
                    Value::Uuid(Uuid::new_v4()),
                    Value::text(email),
                    Value::Text(hash(password.to_string()).await?),
                    Value::TextList(roles.iter().map(|r| r.to_string()).collect()),
                    Value::Bool(true),
                    Value::Timestamp(now),
                ],
            )
            .await?;
        Ok(true)
    }
}
