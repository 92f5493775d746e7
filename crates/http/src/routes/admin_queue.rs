//! The app's job queue in the admin API (`/_admin/queue`): counts per kind,
//! and the dead letters — list, requeue one or all, delete one or all.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::{Extension, Json};
use rocket_apps::AppContext;
use rocket_error::Error;
use rocket_queue::{DeadJob, JobId};
use serde_json::{json, Value};

use crate::error::ApiResult;

type App = Extension<Arc<AppContext>>;
type Params = Query<HashMap<String, String>>;

const MAX_LIMIT: usize = 500;

fn rfc3339(ms: i64) -> Value {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| json!(rocket_store::format_timestamp(&t)))
        .unwrap_or(Value::Null)
}

fn dead_json(d: DeadJob) -> Value {
    json!({
        "id": d.id.to_string(),
        "kind": d.kind,
        "payload": d.payload,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "enqueued_at": rfc3339(d.enqueued_at),
        "died_at": rfc3339(d.died_at),
    })
}

fn kind_of(q: &HashMap<String, String>) -> Option<&str> {
    q.get("kind").map(String::as_str).filter(|k| !k.is_empty())
}

fn job_id(id: &str) -> Result<JobId, Error> {
    uuid::Uuid::parse_str(id).map_err(|_| Error::not_found(format!("Dead job not found: {id}")))
}

pub async fn stats(Extension(app): App) -> ApiResult<Json<Value>> {
    let kinds = app.queue.stats().await.map_err(Error::from)?;
    let d = app.queue.driver();
    Ok(Json(
        json!({"data": {"driver": d.name(), "durable": d.durable(), "kinds": kinds}}),
    ))
}

pub async fn list_dead(Extension(app): App, Query(q): Params) -> ApiResult<Json<Value>> {
    let limit = match q.get("limit") {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(Error::invalid_payload(format!("limit must be between 1 and {MAX_LIMIT}")).into())
            }
        },
    };
    let dead = app.queue.dead(kind_of(&q), limit).await.map_err(Error::from)?;
    Ok(Json(
        json!({"data": dead.into_iter().map(dead_json).collect::<Vec<_>>()}),
    ))
}

pub async fn requeue_all(Extension(app): App, Query(q): Params) -> ApiResult<Json<Value>> {
    let n = app
        .queue
        .requeue_dead(kind_of(&q), None)
        .await
        .map_err(Error::from)?;
    Ok(Json(json!({"data": {"requeued": n}})))
}

pub async fn requeue_one(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    match app
        .queue
        .requeue_dead(None, Some(job_id(&id)?))
        .await
        .map_err(Error::from)?
    {
        0 => Err(Error::not_found(format!("Dead job not found: {id}")).into()),
        n => Ok(Json(json!({"data": {"id": id, "requeued": n}}))),
    }
}

pub async fn delete_all(Extension(app): App, Query(q): Params) -> ApiResult<Json<Value>> {
    let n = app
        .queue
        .delete_dead(kind_of(&q), None)
        .await
        .map_err(Error::from)?;
    Ok(Json(json!({"data": {"deleted": n}})))
}

pub async fn delete_one(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    match app
        .queue
        .delete_dead(None, Some(job_id(&id)?))
        .await
        .map_err(Error::from)?
    {
        0 => Err(Error::not_found(format!("Dead job not found: {id}")).into()),
        _ => Ok(Json(json!({"data": {"id": id, "deleted": true}}))),
    }
}
