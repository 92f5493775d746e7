//! `/api/_platform`: platform sessions and the app registry.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rocket_apps::NewApp;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct RefreshBody {
    #[serde(default)]
    pub refresh_token: String,
}

pub async fn login(State(s): State<AppState>, JsonBody(b): JsonBody<Credentials>) -> ApiResult<Json<Value>> {
    let pair = s
        .platform
        .platform_accounts()
        .login(&b.email, &b.password)
        .await?;
    Ok(Json(json!({ "data": pair })))
}

pub async fn refresh(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<RefreshBody>,
) -> ApiResult<Json<Value>> {
    let pair = s.platform.platform_accounts().refresh(&b.refresh_token).await?;
    Ok(Json(json!({ "data": pair })))
}

pub async fn logout(State(s): State<AppState>, JsonBody(b): JsonBody<RefreshBody>) -> ApiResult<Json<Value>> {
    s.platform.platform_accounts().logout(&b.refresh_token).await?;
    Ok(Json(json!({"message": "Logged out"})))
}

pub async fn list_apps(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "data": s.platform.list_apps().await? })))
}

pub async fn create_app(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<NewApp>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let info = s.platform.create_app(b).await?;
    Ok((StatusCode::CREATED, Json(json!({ "data": info }))))
}

pub async fn get_app(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "data": s.platform.get_app(&name).await? })))
}

pub async fn delete_app(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    s.platform.delete_app(&name).await?;
    Ok(Json(json!({"message": "App deleted"})))
}
