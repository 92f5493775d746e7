//! `/_admin/rules`, `/_admin/state-machines`, `/_admin/workflows`,
//! `/_admin/webhooks`: one handler set, parameterised by resource kind.

use std::sync::Arc;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, MethodRouter};
use axum::{Extension, Json};
use rocket_admin::logic::{self as la, Kind};
use rocket_apps::AppContext;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::AppState;

type App = Extension<Arc<AppContext>>;

async fn list(kind: Kind, app: Arc<AppContext>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": la::list(&app.db, kind).await?})))
}

async fn get_one(kind: Kind, app: Arc<AppContext>, id: String) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"data": la::get(&app.db, kind, &id).await?})))
}

async fn create(kind: Kind, app: Arc<AppContext>, body: Value) -> ApiResult<(StatusCode, Json<Value>)> {
    let out = la::create(&app, kind, &body).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": out}))))
}

async fn update(kind: Kind, app: Arc<AppContext>, id: String, body: Value) -> ApiResult<Json<Value>> {
    let out = la::update(&app, kind, &id, &body).await?;
    Ok(Json(json!({"data": out})))
}

async fn delete(kind: Kind, app: Arc<AppContext>, id: String) -> ApiResult<Json<Value>> {
    la::delete(&app, kind, &id).await?;
    Ok(Json(json!({"data": {"id": id, "deleted": true}})))
}

/// `GET`/`POST` on the collection path.
pub fn collection(kind: Kind) -> MethodRouter<AppState> {
    get(move |Extension(app): App| list(kind, app))
        .post(move |Extension(app): App, JsonBody(b): JsonBody<Value>| create(kind, app, b))
}

/// `GET`/`PUT`/`DELETE` on the item path.
pub fn item(kind: Kind) -> MethodRouter<AppState> {
    get(move |Extension(app): App, Path((_, id)): Path<(String, String)>| get_one(kind, app, id))
        .put(
            move |Extension(app): App,
                  Path((_, id)): Path<(String, String)>,
                  JsonBody(b): JsonBody<Value>| { update(kind, app, id, b) },
        )
        .delete(move |Extension(app): App, Path((_, id)): Path<(String, String)>| delete(kind, app, id))
}
