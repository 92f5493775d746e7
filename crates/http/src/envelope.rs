//! The last word on error bodies: whatever a handler, extractor, the method
//! router or a layer answered, a 4xx/5xx leaves as the contract's JSON
//! envelope, and a panic becomes a 500 envelope instead of a dropped connection.

use std::panic::AssertUnwindSafe;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;

use crate::error::status_body;

/// Rewrites a non-JSON error response (axum's plain-text rejections, the
/// empty 405) into the envelope for its status, keeping status and headers
/// such as `Allow` and `Retry-After`. JSON error bodies are ours and pass.
pub async fn ensure(req: Request, next: Next) -> Response {
    let res = match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!("request handler panicked");
            return enveloped(StatusCode::INTERNAL_SERVER_ERROR, Response::default());
        }
    };
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&res) {
        return res;
    }
    enveloped(status, res)
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn enveloped(status: StatusCode, res: Response) -> Response {
    let (mut parts, _) = res.into_parts();
    parts.status = status;
    for h in [
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::CONTENT_DISPOSITION,
    ] {
        parts.headers.remove(h);
    }
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(status_body(status)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    async fn call(app: Router, method: &str, uri: &str) -> (StatusCode, Option<String>, serde_json::Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let res = app.oneshot(req).await.unwrap();
        let status = res.status();
        let allow = res
            .headers()
            .get(header::ALLOW)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, allow, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    fn app() -> Router {
        async fn boom() -> &'static str {
            panic!("handler bug")
        }
        Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route(
                "/n/{n}",
                get(|axum::extract::Path(n): axum::extract::Path<u32>| async move { n.to_string() }),
            )
            .route("/boom", get(boom))
            .layer(axum::middleware::from_fn(ensure))
    }

    #[tokio::test]
    async fn framework_errors_get_the_envelope() {
        let (s, allow, body) = call(app(), "DELETE", "/ok").await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(allow.as_deref(), Some("GET,HEAD"), "Allow is kept");
        assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
        let (s, _, body) = call(app(), "GET", "/n/x").await;
        assert_eq!(
            (s, &body["error"]["code"]),
            (StatusCode::BAD_REQUEST, &"INVALID_PAYLOAD".into())
        );
        let (s, _, body) = call(app(), "GET", "/boom").await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        let (s, _, body) = call(app(), "GET", "/ok").await;
        assert_eq!(
            (s, body),
            (StatusCode::OK, serde_json::Value::Null),
            "successes pass untouched"
        );
    }
}
