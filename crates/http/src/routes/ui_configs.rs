//! UI configs: admin CRUD under `/_admin/ui-configs`, reads under `/_ui`.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{Extension, Json};
use rocket_admin::ui_configs as ui;
use rocket_apps::AppContext;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::JsonBody;

type App = Extension<Arc<AppContext>>;

pub async fn list(Extension(app): App) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": ui::list(&app.db).await?})))
}
pub async fn get(Extension(app): App, Path((_, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": ui::get(&app.db, &id).await?})))
}
pub async fn create(
    Extension(app): App,
    JsonBody(b): JsonBody<ui::UiConfigBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(json!({"data": ui::create(&app.db, &app.registry(), b).await?})),
    ))
}
pub async fn update(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
    JsonBody(b): JsonBody<ui::UiConfigBody>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": ui::update(&app.db, &id, b).await?})))
}
pub async fn delete(Extension(app): App, Path((_, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    ui::delete(&app.db, &id).await?;
    Ok(Json(json!({"data": {"id": id, "deleted": true}})))
}
pub async fn read_all(Extension(app): App) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": ui::list_default(&app.db).await?})))
}
pub async fn read_one(
    Extension(app): App,
    Path((_, entity)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": ui::for_entity(&app.db, &entity).await?})))
}
