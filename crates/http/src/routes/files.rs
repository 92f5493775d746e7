//! `/api/:app/_files`: multipart upload (size limit enforced while the body
//! streams in), ranged streaming downloads with ETags, list and delete.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use futures_util::StreamExt;
use rocket_apps::AppContext;
use rocket_core::{Error, ErrorCode};
use rocket_storage::{object_key, sanitize_filename};
use rocket_store::{format_timestamp, Row, Value as Sql};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::AppState;

type App = Extension<Arc<AppContext>>;

/// Room for multipart boundaries and part headers around the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

fn too_large(n: u64, max: u64) -> ApiError {
    Error::new(
        ErrorCode::FileTooLarge,
        format!("File too large: {n} bytes (max {max})"),
    )
    .into()
}

fn missing() -> ApiError {
    Error::invalid_payload("Missing file in form data").into()
}

fn admin_only(who: &Principal) -> Result<(), ApiError> {
    if who.is_admin() {
        Ok(())
    } else {
        Err(Error::forbidden("Admin access required").into())
    }
}

pub async fn upload(
    State(s): State<AppState>,
    Extension(app): App,
    who: Principal,
    req: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let max = s.platform.config.storage.max_file_size;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared.filter(|l| *l > max + MULTIPART_OVERHEAD) {
        // Answered before reading the body.
        return Err(too_large(len, max));
    }
    let mut form = Multipart::from_request(req, &s).await.map_err(|_| missing())?;
    let storage = &s.platform.storage;
    while let Some(mut field) = form.next_field().await.map_err(|_| missing())? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = sanitize_filename(field.file_name().unwrap_or("file"));
        let mime = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let id = Uuid::new_v4().to_string();
        let key = object_key(&app.name, &id, &filename);
        let mut up = storage.start_upload(&key).await?;
        loop {
            let chunk = match field.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(_) => {
                    up.abort().await;
                    return Err(Error::invalid_payload("Upload interrupted").into());
                }
            };
            if up.written + chunk.len() as u64 > max {
                let seen = up.written + chunk.len() as u64;
                up.abort().await;
                return Err(too_large(declared.unwrap_or(seen).max(seen), max));
            }
            if let Err(e) = up.write(&chunk).await {
                up.abort().await;
                return Err(e.into());
            }
        }
        let size = up.written;
        up.finish().await?;
        let by = Uuid::parse_str(&who.id)
            .ok()
            .map(|u| Sql::text(u.to_string()))
            .unwrap_or(Sql::Null);
        let inserted = app
            .db
            .execute(
                "INSERT INTO _files (id, filename, storage_path, mime_type, size, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[Sql::text(&id), Sql::text(&filename), Sql::text(&key), Sql::text(&mime), Sql::Int(size as i64), by, Sql::Timestamp(Utc::now())],
            )
            .await;
        if let Err(e) = inserted {
            let _ = storage.delete(&key).await;
            return Err(e.into());
        }
        let url = format!("/api/{}/_files/{id}", app.name);
        return Ok((
            StatusCode::CREATED,
            Json(
                json!({"data": {"id": id, "filename": filename, "size": size, "mime_type": mime, "url": url}}),
            ),
        ));
    }
    Err(missing())
}

async fn file_row(app: &AppContext, id: &str) -> Result<Row, ApiError> {
    let nf = || ApiError(Error::not_found("File ID not found"));
    let id = Uuid::parse_str(id).map_err(|_| nf())?;
    app.db
        .query_opt("SELECT * FROM _files WHERE id = $1", &[Sql::text(id.to_string())])
        .await?
        .ok_or_else(nf)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range). None = serve everything;
/// Err = unsatisfiable (416).
fn parse_range(h: &str, size: u64) -> Option<Result<std::ops::Range<u64>, ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let r = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 || size == 0 {
                return Some(Err(()));
            }
            size.saturating_sub(n)..size
        }
        (a, "") => a.parse::<u64>().ok()?..size,
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            if b < a {
                return Some(Err(()));
            }
            a..(b + 1).min(size)
        }
    };
    Some(if r.start >= size || r.start >= r.end {
        Err(())
    } else {
        Ok(r)
    })
}

fn disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && c != '"' && c != '\\' && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub async fn serve(
    State(s): State<AppState>,
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = file_row(&app, &id).await?;
    let size = row.i64("size").unwrap_or(0).max(0) as u64;
    let etag = format!("\"{}-{size}\"", row.string("id"));
    let mut h = HeaderMap::new();
    let mut set = |k: header::HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set(header::ETAG, etag.clone());
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::CONTENT_TYPE, row.string("mime_type"));
    set(header::CONTENT_DISPOSITION, disposition(&row.string("filename")));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    let range = match headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| parse_range(r, size))
    {
        Some(Err(())) => {
            set(header::CONTENT_RANGE, format!("bytes */{size}"));
            let body = Error::new(ErrorCode::InvalidPayload, "Requested range not satisfiable").body();
            set(header::CONTENT_TYPE, "application/json".into());
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, h, Json(body)).into_response());
        }
        Some(Ok(r)) => Some(r),
        None => None,
    };
    let stream = s
        .platform
        .storage
        .open(&row.string("storage_path"), range.clone())
        .await?;
    let body = Body::from_stream(stream.map(|r| r.map_err(|e| std::io::Error::other(e.message))));
    let status = match &range {
        Some(r) => {
            set(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            );
            set(header::CONTENT_LENGTH, (r.end - r.start).to_string());
            StatusCode::PARTIAL_CONTENT
        }
        None => {
            set(header::CONTENT_LENGTH, size.to_string());
            StatusCode::OK
        }
    };
    Ok((status, h, body).into_response())
}

pub async fn delete(
    State(s): State<AppState>,
    Extension(app): App,
    who: Principal,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    admin_only(&who)?;
    let row = file_row(&app, &id).await?;
    s.platform.storage.delete(&row.string("storage_path")).await?;
    app.db
        .execute("DELETE FROM _files WHERE id = $1", &[Sql::text(row.string("id"))])
        .await?;
    Ok(Json(json!({"data": {"deleted": true}})))
}

pub async fn list(Extension(app): App, who: Principal) -> ApiResult<Json<Value>> {
    admin_only(&who)?;
    let rows = app.db.query("SELECT id, filename, mime_type, size, uploaded_by, created_at FROM _files ORDER BY created_at DESC, id", &[]).await?;
    let out: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({"id": r.string("id"), "filename": r.string("filename"), "mime_type": r.string("mime_type"),
                   "size": r.i64("size").unwrap_or(0), "uploaded_by": r.str("uploaded_by"),
                   "created_at": r.timestamp("created_at").map(|t| format_timestamp(&t))})
        })
        .collect();
    Ok(Json(json!({"data": out})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok(0..10)));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok(90..100)));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok(90..100)));
        assert_eq!(parse_range("bytes=50-500", 100), Some(Ok(50..100)));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=5-1", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn content_disposition_is_safe() {
        assert_eq!(
            disposition("a.pdf"),
            "inline; filename=\"a.pdf\"; filename*=UTF-8''a.pdf"
        );
        assert!(disposition("é\"x.txt").starts_with("inline; filename=\"__x.txt\""));
    }
}
