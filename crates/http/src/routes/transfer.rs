//! `/_admin/export` and `/_admin/import`.

use std::sync::Arc;

use axum::{Extension, Json};
use rocket_apps::AppContext;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::JsonBody;

pub async fn export(Extension(app): Extension<Arc<AppContext>>) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"data": rocket_admin::transfer::export(&app.db).await?}),
    ))
}

/// The body is the bare document (no `data` envelope).
pub async fn import(
    Extension(app): Extension<Arc<AppContext>>,
    JsonBody(doc): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"data": rocket_admin::transfer::import(&app, &doc).await?}),
    ))
}
