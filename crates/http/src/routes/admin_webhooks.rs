//! `/_admin/webhook-logs` (http-api.md §9.10: list, get, manual retry) and
//! `/_admin/webhooks/{id}/secret` (ours: set or rotate the Standard
//! Webhooks signing secret, shown only in that answer; delete it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use rocket_apps::AppContext;
use rocket_hooks::admin as wa;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::AppState;

type App = Extension<Arc<AppContext>>;

fn param<'a>(q: &'a HashMap<String, String>, k: &str) -> &'a str {
    q.get(k).map_or("", String::as_str)
}

pub async fn list_logs(
    Extension(app): App,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let data = wa::list_logs(
        &app,
        param(&q, "webhook_id"),
        param(&q, "status"),
        param(&q, "entity"),
    )
    .await?;
    Ok(Json(json!({ "data": data })))
}

pub async fn get_log(Extension(app): App, Path((_, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": wa::get_log(&app, &id).await?})))
}

pub async fn retry_log(Extension(app): App, Path((_, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": wa::retry_log(&app, &id).await?})))
}

/// The body is optional: `{}` or none generates a secret.
pub async fn rotate_secret(
    State(s): State<AppState>,
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|_| rocket_error::Error::invalid_json())?
    };
    let grace = Duration::from_secs(s.platform.config.webhooks.secret_grace_secs);
    Ok(Json(
        json!({"data": wa::rotate_secret(&app, &id, &body, grace).await?}),
    ))
}

pub async fn delete_secret(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": wa::delete_secret(&app, &id).await?})))
}
