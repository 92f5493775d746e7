//! `/api/:app/_events`: emit a business event, ingest a batch (202), and
//! the admin's queries (list, trace tree, stats) — http-api.md §10.4.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use rocket_apps::AppContext;
use rocket_error::Error;
use rocket_events::ingest::{self, Origin};
use rocket_events::{query, AppEvents, Trace};
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::{Principal, RawBody};
use crate::traces::TraceId;
use crate::AppState;

type App = Extension<Arc<AppContext>>;

fn events(app: &AppContext) -> Result<Arc<AppEvents>, Error> {
    app.ext::<AppEvents>()
        .ok_or_else(|| Error::overloaded("Events are not available for this app yet"))
}

fn origin(who: &Principal, trace: Option<&Arc<Trace>>, id: Option<TraceId>) -> Origin {
    Origin {
        trace_id: trace
            .map(|t| t.trace_id)
            .or(id.map(|t| t.0))
            .unwrap_or_else(uuid::Uuid::new_v4),
        parent: trace.map(|t| t.root_span),
        user: uuid::Uuid::parse_str(&who.id).ok(),
    }
}

fn saturated(e: &AppEvents) -> Error {
    Error::overloaded(format!(
        "The event buffer is full ({} events waiting); retry shortly",
        e.depth()
    ))
}

/// `POST /_events`: one business event, always recorded (even when the
/// request itself is not traced).
pub async fn emit(
    Extension(app): App,
    who: Principal,
    trace: Option<Extension<Arc<Trace>>>,
    id: Option<Extension<TraceId>>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let body: Value = serde_json::from_slice(&body).map_err(|_| Error::invalid_json())?;
    let ev = events(&app)?;
    let origin = origin(&who, trace.as_ref().map(|t| &t.0), id.map(|i| i.0));
    let event = ingest::event(&body, &origin)?;
    ev.ingest(vec![event]).map_err(|_| saturated(&ev))?;
    Ok(Json(json!({"data": {"status": "ok"}})))
}

/// `POST /_events/batch`: a JSON array, or NDJSON with
/// `Content-Type: application/x-ndjson`; 202 once every event is queued,
/// 503 + Retry-After (nothing queued) when they do not all fit.
pub async fn batch(
    State(s): State<AppState>,
    Extension(app): App,
    who: Principal,
    trace: Option<Extension<Arc<Trace>>>,
    id: Option<Extension<TraceId>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let ndjson = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson") || v.starts_with("application/ndjson"));
    let ev = events(&app)?;
    let max = s.platform.config.instrumentation.batch_max_events;
    // Over half full and within one largest batch of full: refuse before
    // parsing, so a flood of refused batches does not eat the CPU the
    // flusher needs to drain.
    let depth = ev.depth();
    if depth > ev.capacity() / 2 && depth + max > ev.capacity() {
        return Err(saturated(&ev).into());
    }
    let origin = origin(&who, trace.as_ref().map(|t| &t.0), id.map(|i| i.0));
    let batch = ingest::batch(&body, ndjson, max, &origin)?;
    let n = batch.len();
    ev.ingest(batch).map_err(|_| saturated(&ev))?;
    metrics::counter!("rocket_events_ingested_total", "app" => app.name.clone()).increment(n as u64);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"data": {"status": "accepted", "accepted": n}})),
    ))
}

fn admin(who: &Principal) -> Result<(), Error> {
    if who.is_admin() {
        Ok(())
    } else {
        Err(Error::forbidden("Admin access required"))
    }
}

pub async fn list(
    Extension(app): App,
    who: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    admin(&who)?;
    let (rows, page, per_page, total) = query::list(&app.db, &params).await?;
    Ok(Json(json!({
        "data": rows,
        "pagination": {"page": page, "per_page": per_page, "total": total},
    })))
}

pub async fn trace(
    Extension(app): App,
    who: Principal,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    admin(&who)?;
    Ok(Json(json!({"data": query::trace(&app.db, &id).await?})))
}

pub async fn stats(
    Extension(app): App,
    who: Principal,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    admin(&who)?;
    Ok(Json(json!({"data": query::stats(&app.db, &params).await?})))
}
