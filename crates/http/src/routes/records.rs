//! `/api/:app/:entity[/:id]`: dynamic CRUD over registered entities.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use rocket_apps::AppContext;
use rocket_core::{Error, ErrorCode};
use rocket_engine::{read, write};
use rocket_meta::{Entity, Registry};
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::{JsonBody, Principal};
use crate::AppState;

type App = Extension<Arc<AppContext>>;

/// Resolves the entity from the request's snapshot and checks the action.
fn entity(reg: &Registry, name: &str, who: &Principal, action: &str) -> Result<Arc<Entity>, Error> {
    let e = reg
        .entity(name)
        .cloned()
        .ok_or_else(|| Error::new(ErrorCode::UnknownEntity, format!("Unknown entity: {name}")))?;
    // Whitelist: admins bypass; policies for other roles arrive with the
    // access-control work, until then nothing is granted to them.
    if !who.is_admin() {
        return Err(Error::forbidden(format!("No permission for {action} on {name}")));
    }
    Ok(e)
}

pub async fn list(
    Extension(app): App,
    who: Principal,
    Path((_, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    let e = entity(&reg, &name, &who, "read")?;
    Ok(Json(
        read::list(&app.db, &reg, &e, q.as_deref().unwrap_or("")).await?,
    ))
}

pub async fn get(
    Extension(app): App,
    who: Principal,
    Path((_, name, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    let e = entity(&reg, &name, &who, "read")?;
    Ok(Json(
        read::get(&app.db, &reg, &e, &id, q.as_deref().unwrap_or("")).await?,
    ))
}

fn limits(s: &AppState) -> write::Limits {
    let w = &s.platform.config.writes;
    write::Limits {
        max_depth: w.max_depth,
        max_operations: w.max_operations,
    }
}

pub async fn create(
    State(s): State<AppState>,
    Extension(app): App,
    who: Principal,
    Path((_, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let reg = app.registry();
    let e = entity(&reg, &name, &who, "create")?;
    let rec = write::create(&app.db, &reg, &e, body, limits(&s)).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": rec}))))
}

pub async fn update(
    State(s): State<AppState>,
    Extension(app): App,
    who: Principal,
    Path((_, name, id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    let e = entity(&reg, &name, &who, "update")?;
    let rec = write::update(&app.db, &reg, &e, &id, body, limits(&s)).await?;
    Ok(Json(json!({"data": rec})))
}

pub async fn delete(
    Extension(app): App,
    who: Principal,
    Path((_, name, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    let e = entity(&reg, &name, &who, "delete")?;
    let out = write::delete(&app.db, &reg, &e, &id).await?;
    Ok(Json(json!({"data": out})))
}
