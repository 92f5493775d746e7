//! `/health` (the contract: the process answers), `/health/live` (same, for
//! orchestrators) and `/health/ready`: the management database and the queue
//! broker answer, with a status per dependency; 503 when one does not.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

fn verdict<E: std::fmt::Display>(r: Result<Result<(), E>, tokio::time::error::Elapsed>) -> Value {
    match r {
        Ok(Ok(())) => json!({"status": "up"}),
        Ok(Err(e)) => json!({"status": "down", "error": e.to_string()}),
        Err(_) => json!({"status": "down", "error": "no answer within 2 s"}),
    }
}

pub async fn ready(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    let p = &s.platform;
    let db = tokio::time::timeout(CHECK_TIMEOUT, p.mgmt.ping());
    let queue = tokio::time::timeout(CHECK_TIMEOUT, p.queue.ping());
    let (db, queue) = tokio::join!(db, queue);
    let checks = json!({
        "management_db": verdict(db),
        "queue": {"driver": p.queue.name(), "check": verdict(queue)},
    });
    let up = checks["management_db"]["status"] == "up" && checks["queue"]["check"]["status"] == "up";
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"status": if up { "ok" } else { "unavailable" }, "checks": checks})),
    )
}
