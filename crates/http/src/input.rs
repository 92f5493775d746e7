//! Input rules that hold for every route (docs/decisions/014-input-rules.md).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rocket_error::Error;

use crate::error::ApiError;

/// A path whose decoded form holds a NUL (U+0000) is refused with 400
/// INVALID_PAYLOAD before routing: path segments become record ids, entity
/// and app names, and PostgreSQL text cannot hold NUL. In a raw path every
/// `%` starts an escape, so `%00` is exactly the encoded NUL.
pub async fn reject_nul_path(req: Request, next: Next) -> Response {
    if req.uri().path().contains("%00") {
        return ApiError(Error::invalid_payload(
            "Invalid path: NUL character (U+0000) is not allowed",
        ))
        .into_response();
    }
    next.run(req).await
}
