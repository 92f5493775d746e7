//! `/api/:app/:entity[/:id]`: dynamic CRUD over registered entities.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use rocket_apps::AppContext;
use rocket_engine::perm::Caller;
use rocket_engine::{read, write};
use rocket_error::{Error, ErrorCode};
use rocket_meta::{Entity, Registry};
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::{Principal, RawBody};
use crate::traces::{close, span, Traced};
use crate::AppState;

type App = Extension<Arc<AppContext>>;

/// Resolves the entity from the request's snapshot (permissions are checked
/// by the engine, in the contract's order).
fn entity(reg: &Registry, name: &str) -> Result<Arc<Entity>, Error> {
    reg.entity(name)
        .cloned()
        .ok_or_else(|| Error::new(ErrorCode::UnknownEntity, format!("Unknown entity: {name}")))
}

fn caller(who: Principal) -> Caller {
    Caller {
        id: who.id,
        roles: who.roles,
    }
}

pub async fn list(
    Extension(app): App,
    who: Principal,
    Path((_, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    t: Traced,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    let e = entity(&reg, &name)?;
    let sp = span(&t, "engine", "handler", "record.list").map(|s| s.entity(&name));
    let r = read::list(&app.db, &reg, &e, q.as_deref().unwrap_or(""), &caller(who)).await;
    close(sp, &r);
    Ok(Json(r?))
}

pub async fn get(
    Extension(app): App,
    who: Principal,
    Path((_, name, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    t: Traced,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    let e = entity(&reg, &name)?;
    let sp = span(&t, "engine", "handler", "record.get").map(|s| s.entity(&name).record(Some(&id)));
    let r = read::get(&app.db, &reg, &e, &id, q.as_deref().unwrap_or(""), &caller(who)).await;
    close(sp, &r);
    Ok(Json(r?))
}

fn limits(s: &AppState) -> write::Limits {
    let w = &s.platform.config.writes;
    write::Limits {
        max_depth: w.max_depth,
        max_operations: w.max_operations,
        max_indexed_length: w.max_indexed_length,
    }
}

fn write_cx<'a>(app: &'a AppContext, caller: &'a Caller, limits: write::Limits) -> write::WriteCx<'a> {
    write::WriteCx {
        app: &app.name,
        caller,
        limits,
        effects: &app.effects,
        queue: Some(&app.queue),
    }
}

pub async fn create(
    State(s): State<AppState>,
    Extension(app): App,
    who: Principal,
    Path((_, name)): Path<(String, String)>,
    t: Traced,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let reg = app.registry();
    let e = entity(&reg, &name)?;
    let who = caller(who);
    let sp = span(&t, "engine", "handler", "record.create").map(|s| s.entity(&name));
    let r = write::create(&app.db, &reg, &e, &body, &write_cx(&app, &who, limits(&s))).await;
    close(sp, &r);
    let rec = r?;
    Ok((StatusCode::CREATED, Json(json!({"data": rec}))))
}

pub async fn update(
    State(s): State<AppState>,
    Extension(app): App,
    who: Principal,
    Path((_, name, id)): Path<(String, String, String)>,
    t: Traced,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    let e = entity(&reg, &name)?;
    let who = caller(who);
    let sp = span(&t, "engine", "handler", "record.update").map(|s| s.entity(&name).record(Some(&id)));
    let r = write::update(&app.db, &reg, &e, &id, &body, &write_cx(&app, &who, limits(&s))).await;
    close(sp, &r);
    let rec = r?;
    Ok(Json(json!({"data": rec})))
}

pub async fn delete(
    State(s): State<AppState>,
    Extension(app): App,
    who: Principal,
    Path((_, name, id)): Path<(String, String, String)>,
    t: Traced,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    let e = entity(&reg, &name)?;
    let who = caller(who);
    let sp = span(&t, "engine", "handler", "record.delete").map(|s| s.entity(&name).record(Some(&id)));
    let r = write::delete(&app.db, &reg, &e, &id, &write_cx(&app, &who, limits(&s))).await;
    close(sp, &r);
    let out = r?;
    Ok(Json(json!({"data": out})))
}
