//! `/_admin/ai/status` and `/_admin/ai/generate`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::{Extension, Json};
use rocket_apps::AppContext;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::AppState;

/// The reference has no timeout; 120 s keeps a hung provider from pinning a request.
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Deserialize)]
pub struct Prompt {
    #[serde(default)]
    prompt: String,
}

pub async fn status(State(s): State<AppState>) -> Json<Value> {
    Json(json!({"data": rocket_ai::status(&s.platform.config.ai)}))
}

pub async fn generate(
    State(s): State<AppState>,
    Extension(app): Extension<Arc<AppContext>>,
    JsonBody(b): JsonBody<Prompt>,
) -> ApiResult<Json<Value>> {
    let mut existing: Vec<String> = app.registry().entities.keys().cloned().collect();
    existing.sort();
    let schema = rocket_ai::generate(&s.platform.config.ai, &b.prompt, &existing, TIMEOUT).await?;
    Ok(Json(json!({"data": {"schema": schema}})))
}
