//! `/api/:app/:entity[/:id]`: dynamic CRUD over registered entities.

use std::sync::Arc;

use axum::extract::Path;
use axum::{Extension, Json};
use rocket_apps::AppContext;
use rocket_core::{Error, ErrorCode};
use serde_json::Value;

use crate::error::ApiResult;
use crate::extract::Principal;

fn unknown(entity: &str) -> Error {
    Error::new(ErrorCode::UnknownEntity, format!("Unknown entity: {entity}"))
}

pub async fn collection(
    Extension(app): Extension<Arc<AppContext>>,
    _who: Principal,
    Path((_, entity)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    reg.entity(&entity).ok_or_else(|| unknown(&entity))?;
    Err(Error::not_found("Not implemented").into())
}

pub async fn item(
    Extension(app): Extension<Arc<AppContext>>,
    _who: Principal,
    Path((_, entity, _id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let reg = app.registry();
    reg.entity(&entity).ok_or_else(|| unknown(&entity))?;
    Err(Error::not_found("Not implemented").into())
}
