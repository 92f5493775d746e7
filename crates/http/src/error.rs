use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rocket_error::Error;

/// Wraps the contract error so axum can render it as the JSON envelope.
#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl From<rocket_store::StoreError> for ApiError {
    fn from(e: rocket_store::StoreError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(self.0.body())).into_response();
        if let Some(secs) = self.0.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// Code and message for an error status that reached the client without an
/// envelope: axum's extractor rejections and method router, and hyper's own
/// answers to unparsable requests (the server rewrites those). Codes the
/// contract lacks (405, 408, 414, 431) get descriptive new ones (http-api.md §5).
pub fn status_error(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        401 => ("UNAUTHORIZED", "Authentication required"),
        403 => ("FORBIDDEN", "Forbidden"),
        404 => ("NOT_FOUND", "Route not found"),
        405 => ("METHOD_NOT_ALLOWED", "Method not allowed"),
        408 => ("REQUEST_TIMEOUT", "Request timed out"),
        409 => ("CONFLICT", "Conflict"),
        413 => ("PAYLOAD_TOO_LARGE", "Request body too large"),
        414 => ("URI_TOO_LONG", "URI too long"),
        422 => ("VALIDATION_FAILED", "Validation failed"),
        429 => ("RATE_LIMITED", "Too many requests"),
        431 => ("HEADERS_TOO_LARGE", "Request headers too large"),
        503 => ("OVERLOADED", "Service unavailable"),
        500.. => ("INTERNAL_ERROR", "Internal server error"),
        _ => ("INVALID_PAYLOAD", "Invalid request"),
    }
}

/// The JSON envelope bytes for [`status_error`].
pub fn status_body(status: StatusCode) -> Vec<u8> {
    let (code, message) = status_error(status);
    serde_json::to_vec(&serde_json::json!({"error": {"code": code, "message": message}})).unwrap_or_default()
}
