//! OpenAPI documents: `/api/:app/_openapi` (live from metadata) and
//! `/openapi.json` (platform and admin API).

use std::sync::Arc;

use axum::{Extension, Json};
use rocket_apps::AppContext;
use serde_json::Value;

pub async fn app(Extension(app): Extension<Arc<AppContext>>) -> Json<Value> {
    Json(rocket_admin::openapi::app_document(&app.name, &app.registry()))
}

pub async fn platform() -> Json<Value> {
    Json(rocket_admin::openapi::platform_document())
}
