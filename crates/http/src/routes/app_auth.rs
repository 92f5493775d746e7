//! `/api/:app/auth`: app user sessions (no token required; app must exist).

use std::sync::Arc;

use axum::{Extension, Json};
use rocket_apps::{app_accounts, AppContext};
use serde_json::{json, Value};

use super::platform::{Credentials, RefreshBody};
use crate::error::ApiResult;
use crate::extract::JsonBody;

pub async fn login(
    Extension(app): Extension<Arc<AppContext>>,
    JsonBody(b): JsonBody<Credentials>,
) -> ApiResult<Json<Value>> {
    let pair = app_accounts(&app).login(&b.email, &b.password).await?;
    Ok(Json(json!({ "data": pair })))
}

pub async fn refresh(
    Extension(app): Extension<Arc<AppContext>>,
    JsonBody(b): JsonBody<RefreshBody>,
) -> ApiResult<Json<Value>> {
    let pair = app_accounts(&app).refresh(&b.refresh_token).await?;
    Ok(Json(json!({ "data": pair })))
}

pub async fn logout(
    Extension(app): Extension<Arc<AppContext>>,
    JsonBody(b): JsonBody<RefreshBody>,
) -> ApiResult<Json<Value>> {
    app_accounts(&app).logout(&b.refresh_token).await?;
    Ok(Json(json!({"message": "Logged out"})))
}
