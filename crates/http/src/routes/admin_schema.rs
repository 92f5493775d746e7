//! `/api/:app/_admin/entities` and `/_admin/relations`; the admin crate runs
//! each mutation through the metadata change sequence.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{Extension, Json};
use rocket_admin::schema as sa;
use rocket_apps::AppContext;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::JsonBody;

type App = Extension<Arc<AppContext>>;

pub async fn list_entities(Extension(app): App) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": sa::list_entities(&app.db).await?})))
}

pub async fn get_entity(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": sa::get_entity(&app.db, &name).await?})))
}

pub async fn create_entity(
    Extension(app): App,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let out = sa::create_entity(&app, &b).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": out}))))
}

pub async fn update_entity(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let out = sa::update_entity(&app, &name, &b).await?;
    Ok(Json(json!({"data": out})))
}

pub async fn delete_entity(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    sa::delete_entity(&app, &name).await?;
    Ok(Json(json!({"data": {"name": name, "deleted": true}})))
}

pub async fn list_relations(Extension(app): App) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": sa::list_relations(&app.db).await?})))
}

pub async fn get_relation(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": sa::get_relation(&app.db, &name).await?})))
}

pub async fn create_relation(
    Extension(app): App,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let out = sa::create_relation(&app, &b).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": out}))))
}

pub async fn update_relation(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let out = sa::update_relation(&app, &name, &b).await?;
    Ok(Json(json!({"data": out})))
}

pub async fn delete_relation(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    sa::delete_relation(&app, &name).await?;
    Ok(Json(json!({"data": {"name": name, "deleted": true}})))
}
