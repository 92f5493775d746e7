//! Request extractors that fail with the contract's envelope.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use rocket_error::{Error, ErrorCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// JSON object body: unparsable, or any other top-level type (serde would
/// read an array positionally into a struct) → 400 INVALID_PAYLOAD "Invalid
/// JSON body"; a NUL (U+0000) in any key or string → 400 INVALID_PAYLOAD
/// naming where (PostgreSQL cannot store it; refused on both stores); over
/// the configured limit → 413 PAYLOAD_TOO_LARGE.
pub struct JsonBody<T>(pub T);

/// Whether the first significant byte opens an object (JSON whitespace only).
fn is_object(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'{')
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(Error::new(ErrorCode::PayloadTooLarge, "Request body too large"))
            } else {
                ApiError(Error::invalid_json())
            }
        })?;
        if !is_object(&bytes) {
            return Err(ApiError(Error::invalid_json()));
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| ApiError(Error::invalid_json()))?;
        let doc = rocket_engine::convert::reject_nul(doc).map_err(ApiError)?;
        serde_json::from_value(doc)
            .map(JsonBody)
            .map_err(|_| ApiError(Error::invalid_json()))
    }
}

/// A request body read as bytes (413 in the envelope above the limit) and
/// parsed later, when the contract's check order says so.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(RawBody).map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(Error::new(ErrorCode::PayloadTooLarge, "Request body too large"))
            } else {
                ApiError(Error::invalid_json())
            }
        })
    }
}

/// The authenticated caller of an app or platform route.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: String,
    pub roles: Vec<String>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError(Error::unauthorized("Authentication required")))
    }
}

/// Reads `Authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer(parts: &axum::http::HeaderMap) -> Result<&str, Error> {
    let Some(h) = parts.get(axum::http::header::AUTHORIZATION) else {
        return Err(Error::unauthorized("Missing auth token"));
    };
    let h = h
        .to_str()
        .map_err(|_| Error::unauthorized("Invalid auth header format"))?;
    match h.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim())
        }
        _ => Err(Error::unauthorized("Invalid auth header format")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_objects_are_json_bodies() {
        for ok in [&b"{}"[..], b" \n\t{\"a\":1}"] {
            assert!(super::is_object(ok));
        }
        for bad in [
            &b"[]"[..],
            b"[\"a@b\", \"pw\"]",
            b"\"x\"",
            b"1",
            b"null",
            b"true",
            b"",
            b"  ",
        ] {
            assert!(!super::is_object(bad), "{}", String::from_utf8_lossy(bad));
        }
    }
}
