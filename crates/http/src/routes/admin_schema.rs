//! `/api/:app/_admin/entities` and `/_admin/relations`: each mutation runs
//! under the app's metadata lock and reloads the registry before answering.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{Extension, Json};
use rocket_apps::AppContext;
use rocket_engine::schema_admin as sa;
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
    let _g = app.meta_lock.lock().await;
    let out = sa::create_entity(&app.db, &app.registry(), &b).await?;
    app.changed().await?;
    Ok((StatusCode::CREATED, Json(json!({"data": out}))))
}

pub async fn update_entity(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let _g = app.meta_lock.lock().await;
    let out = sa::update_entity(&app.db, &app.registry(), &name, &b).await?;
    app.changed().await?;
    Ok(Json(json!({"data": out})))
}

pub async fn delete_entity(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let _g = app.meta_lock.lock().await;
    sa::delete_entity(&app.db, &name).await?;
    app.changed().await?;
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
    let _g = app.meta_lock.lock().await;
    let out = sa::create_relation(&app.db, &app.registry(), &b).await?;
    app.changed().await?;
    Ok((StatusCode::CREATED, Json(json!({"data": out}))))
}

pub async fn update_relation(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let _g = app.meta_lock.lock().await;
    let out = sa::update_relation(&app.db, &app.registry(), &name, &b).await?;
    app.changed().await?;
    Ok(Json(json!({"data": out})))
}

pub async fn delete_relation(
    Extension(app): App,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let _g = app.meta_lock.lock().await;
    sa::delete_relation(&app.db, &name).await?;
    app.changed().await?;
    Ok(Json(json!({"data": {"name": name, "deleted": true}})))
}
