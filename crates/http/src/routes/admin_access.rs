//! `/_admin/users`, `/_admin/permissions`, `/_admin/invites` and
//! `POST /auth/accept-invite`.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::{Extension, Json};
use rocket_admin::access as policy_admin;
use rocket_apps::{invites, users, AppContext};
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::{JsonBody, Principal};

type App = Extension<Arc<AppContext>>;
type Created = (StatusCode, Json<Value>);

fn data(v: Value) -> Json<Value> {
    Json(json!({ "data": v }))
}

fn deleted(id: String) -> Json<Value> {
    Json(json!({"data": {"id": id, "deleted": true}}))
}

pub async fn list_users(Extension(app): App) -> ApiResult<Json<Value>> {
    Ok(data(json!(users::list(&app.db).await?)))
}
pub async fn get_user(Extension(app): App, Path((_, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    Ok(data(users::get(&app.db, &id).await?))
}
pub async fn create_user(Extension(app): App, JsonBody(b): JsonBody<users::UserBody>) -> ApiResult<Created> {
    Ok((StatusCode::CREATED, data(users::create(&app.db, b).await?)))
}
pub async fn update_user(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
    JsonBody(b): JsonBody<users::UserBody>,
) -> ApiResult<Json<Value>> {
    Ok(data(users::update(&app.db, &id, b).await?))
}
pub async fn delete_user(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    users::delete(&app.db, &id).await?;
    Ok(deleted(id))
}

pub async fn list_permissions(Extension(app): App) -> ApiResult<Json<Value>> {
    Ok(data(json!(policy_admin::list(&app.db).await?)))
}
pub async fn get_permission(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(data(policy_admin::get(&app.db, &id).await?))
}
pub async fn create_permission(
    Extension(app): App,
    JsonBody(b): JsonBody<policy_admin::PolicyBody>,
) -> ApiResult<Created> {
    let out = policy_admin::create(&app, b).await?;
    Ok((StatusCode::CREATED, data(out)))
}
pub async fn update_permission(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
    JsonBody(b): JsonBody<policy_admin::PolicyBody>,
) -> ApiResult<Json<Value>> {
    let out = policy_admin::update(&app, &id, b).await?;
    Ok(data(out))
}
pub async fn delete_permission(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    policy_admin::delete(&app, &id).await?;
    Ok(deleted(id))
}

pub async fn list_invites(Extension(app): App) -> ApiResult<Json<Value>> {
    Ok(data(json!(invites::list(&app.db).await?)))
}
pub async fn create_invite(
    Extension(app): App,
    who: Principal,
    JsonBody(b): JsonBody<invites::InviteBody>,
) -> ApiResult<Created> {
    Ok((
        StatusCode::CREATED,
        data(invites::create(&app.db, b, &who.id).await?),
    ))
}
pub async fn bulk_invites(
    Extension(app): App,
    who: Principal,
    JsonBody(b): JsonBody<invites::BulkBody>,
) -> ApiResult<Json<Value>> {
    Ok(data(invites::bulk(&app.db, b, &who.id).await?))
}
pub async fn delete_invite(
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    invites::delete(&app.db, &id).await?;
    Ok(deleted(id))
}

pub async fn accept_invite(
    Extension(app): App,
    JsonBody(b): JsonBody<invites::AcceptBody>,
) -> ApiResult<Created> {
    Ok((
        StatusCode::CREATED,
        data(invites::accept(&app.db, &app.jwt_secret, b).await?),
    ))
}
