//! `/api/:app/_files`: multipart upload streamed into storage (size limit
//! enforced while the body streams in), ranged streaming downloads with
//! conditional requests, list and delete (admin).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use headers::{ContentRange, ETag, HeaderMapExt, IfModifiedSince, IfNoneMatch, LastModified};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rocket_apps::AppContext;
use rocket_error::{Error, ErrorCode};
use rocket_storage::{object_key, sanitize_filename, PutError};
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

fn not_found() -> ApiError {
    Error::not_found("File ID not found").into()
}

fn admin_only(who: &Principal) -> Result<(), ApiError> {
    if who.is_admin() {
        Ok(())
    } else {
        Err(Error::forbidden("Admin access required").into())
    }
}

/// POST /api/:app/_files/upload — multipart field `file`.
///
/// Mounted without the JSON body limit: the only limit is
/// `storage.max_file_size`, checked on the declared length before the body is
/// read and on every chunk while it streams into storage.
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
    if let Some(len) = declared.filter(|l| *l > max.saturating_add(MULTIPART_OVERHEAD)) {
        // Answered before reading the body.
        return Err(too_large(len, max));
    }
    let mut form = Multipart::from_request(req, &s).await.map_err(|_| missing())?;
    let storage = &s.platform.storage;
    while let Some(field) = form.next_field().await.map_err(|_| missing())? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = sanitize_filename(field.file_name().unwrap_or("file"));
        let mime = field
            .content_type()
            .filter(|m| HeaderValue::from_str(m).is_ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        let id = Uuid::new_v4().to_string();
        let key = object_key(&app.name, &id, &filename);
        let size = match storage.put_stream(&key, field, max).await {
            Ok(n) => n,
            Err(PutError::TooLarge(seen)) => {
                return Err(too_large(declared.map_or(seen, |d| d.max(seen)), max))
            }
            Err(PutError::Source(_)) => return Err(Error::invalid_payload("Upload interrupted").into()),
            Err(PutError::Storage(e)) => return Err(e.into()),
        };
        let by = Uuid::parse_str(&who.id)
            .ok()
            .map(|u| Sql::text(u.to_string()))
            .unwrap_or(Sql::Null);
        let inserted = app
            .db
            .execute(
                "INSERT INTO _files (id, filename, storage_path, mime_type, size, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    Sql::text(&id),
                    Sql::text(&filename),
                    Sql::text(&key),
                    Sql::text(&mime),
                    Sql::Int(i64::try_from(size).unwrap_or(i64::MAX)),
                    by,
                    Sql::Timestamp(Utc::now()),
                ],
            )
            .await;
        if let Err(e) = inserted {
            if let Err(de) = storage.delete(&key).await {
                tracing::warn!(key = %key, error = %de.message, "could not remove the content of a file whose row failed");
            }
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
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    app.db
        .query_opt("SELECT * FROM _files WHERE id = $1", &[Sql::text(id.to_string())])
        .await?
        .ok_or_else(not_found)
}

/// The single byte range to serve. RFC 9110 lets a server ignore a Range
/// header it does not support, so malformed and multi-range requests get the
/// whole file; only an unsatisfiable one is refused (416).
enum Wanted {
    All,
    Part(std::ops::Range<u64>),
    Unsatisfiable,
}

fn wanted_range(h: Option<&HeaderValue>, size: u64) -> Wanted {
    let Some(spec) = h.and_then(|v| v.to_str().ok()) else {
        return Wanted::All;
    };
    let Ok(parsed) = http_range_header::parse_range_header(spec) else {
        return Wanted::All;
    };
    match parsed.validate(size) {
        Ok(ranges) => match ranges.as_slice() {
            [r] => Wanted::Part(*r.start()..r.end().saturating_add(1)),
            _ => Wanted::All,
        },
        Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => Wanted::Unsatisfiable,
        Err(_) => Wanted::All,
    }
}

/// RFC 5987 `attr-char`s pass unencoded in `filename*`.
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `inline; filename="…"` with quotes and backslashes escaped; names with
/// non-ASCII characters also get an RFC 6266 `filename*` (and an ASCII
/// fallback in `filename`).
fn disposition(filename: &str) -> String {
    let mut plain = String::with_capacity(filename.len());
    for c in filename.chars() {
        match c {
            '"' | '\\' => {
                plain.push('\\');
                plain.push(c);
            }
            c if c.is_ascii() && !c.is_ascii_control() => plain.push(c),
            _ => plain.push('_'),
        }
    }
    if filename.is_ascii() {
        format!("inline; filename=\"{plain}\"")
    } else {
        let encoded = utf8_percent_encode(filename, ATTR);
        format!("inline; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
    }
}

/// Types a browser displays without running anything from them. Everything
/// else (HTML, SVG, XML, JavaScript, unknown types) could script the API
/// origin if shown inline, so it is sent as an attachment.
const INLINE_SAFE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "audio/aac",
    "audio/flac",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "text/plain",
    "application/pdf",
];

/// Applied to every download but PDF (browsers refuse to run their PDF
/// viewer in a sandboxed document): no scripts, plugins, forms or requests
/// even if a browser renders the content as a document.
const SANDBOX: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// The media type without parameters, lower-cased (`Text/HTML; charset=x` → `text/html`).
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Stored-XSS guard: `inline` only for [`INLINE_SAFE`] types, else `attachment`.
fn content_disposition(mime: &str, filename: &str) -> String {
    let inline = disposition(filename);
    if INLINE_SAFE.contains(&essence(mime).as_str()) {
        inline
    } else {
        inline.replacen("inline", "attachment", 1)
    }
}

/// The headers that keep uploaded content from acting as part of the API
/// origin: the disposition above, `nosniff`, and the sandbox CSP.
fn content_safety(h: &mut HeaderMap, mime: &str, filename: &str) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(mime, filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if essence(mime) != "application/pdf" {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SANDBOX));
    }
}

/// GET /api/:app/_files/:id — any app user; streams in constant memory.
pub async fn serve(
    State(s): State<AppState>,
    Extension(app): App,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = file_row(&app, &id).await?;
    let size = u64::try_from(row.i64("size").unwrap_or(0)).unwrap_or(0);
    let mut h = HeaderMap::new();
    // Content never changes under an id, so id + size is a strong validator.
    let etag: Option<ETag> = format!("\"{}-{size}\"", row.string("id")).parse().ok();
    if let Some(tag) = &etag {
        h.typed_insert(tag.clone());
    }
    let modified = row.timestamp("created_at").map(whole_seconds);
    if let Some(t) = modified {
        h.typed_insert(LastModified::from(t));
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let mime = HeaderValue::from_str(&row.string("mime_type"))
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    content_safety(&mut h, mime.to_str().unwrap_or_default(), &row.string("filename"));
    h.insert(header::CONTENT_TYPE, mime);
    if not_modified(&headers, etag.as_ref(), modified) {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    let range = match wanted_range(headers.get(header::RANGE), size) {
        Wanted::All => None,
        Wanted::Part(r) => Some(r),
        Wanted::Unsatisfiable => {
            h.typed_insert(ContentRange::unsatisfied_bytes(size));
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.remove(header::CONTENT_DISPOSITION);
            let body = Error::new(ErrorCode::InvalidPayload, "Requested range not satisfiable").body();
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, h, Json(body)).into_response());
        }
    };
    let stream = s
        .platform
        .storage
        .open(&row.string("storage_path"), range.clone())
        .await?;
    let body = Body::from_stream(stream.map(|r| r.map_err(|e| std::io::Error::other(e.message))));
    let (status, len) = match &range {
        Some(r) => {
            if let Ok(cr) = ContentRange::bytes(r.clone(), size) {
                h.typed_insert(cr);
            }
            (StatusCode::PARTIAL_CONTENT, r.end - r.start)
        }
        None => (StatusCode::OK, size),
    };
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok((status, h, body).into_response())
}

fn whole_seconds(t: DateTime<Utc>) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.timestamp()).unwrap_or(0))
}

/// RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since.
fn not_modified(req: &HeaderMap, etag: Option<&ETag>, modified: Option<SystemTime>) -> bool {
    if req.contains_key(header::IF_NONE_MATCH) {
        return match (req.typed_get::<IfNoneMatch>(), etag) {
            (Some(inm), Some(tag)) => !inm.precondition_passes(tag),
            _ => false,
        };
    }
    match (req.typed_get::<IfModifiedSince>(), modified) {
        (Some(ims), Some(t)) => !ims.is_modified(t),
        _ => false,
    }
}

/// DELETE /api/:app/_files/:id (admin): the content, then the row.
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

/// GET /api/:app/_files (admin): newest first; the storage locator is never shown.
pub async fn list(Extension(app): App, who: Principal) -> ApiResult<Json<Value>> {
    admin_only(&who)?;
    let rows = app
        .db
        .query(
            "SELECT id, filename, mime_type, size, uploaded_by, created_at FROM _files ORDER BY created_at DESC, id",
            &[],
        )
        .await?;
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

    fn range(h: &'static str, size: u64) -> Option<Result<std::ops::Range<u64>, ()>> {
        match wanted_range(Some(&HeaderValue::from_static(h)), size) {
            Wanted::All => None,
            Wanted::Part(r) => Some(Ok(r)),
            Wanted::Unsatisfiable => Some(Err(())),
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Some(Ok(0..10)));
        assert_eq!(range("bytes=90-", 100), Some(Ok(90..100)));
        assert_eq!(range("bytes=-10", 100), Some(Ok(90..100)));
        assert_eq!(range("bytes=-1000", 100), Some(Ok(0..100)));
        assert_eq!(range("bytes=50-500", 100), Some(Ok(50..100)));
        assert_eq!(range("bytes=100-", 100), Some(Err(())));
        assert_eq!(range("bytes=0-0", 0), Some(Err(())));
        assert_eq!(range("bytes=5-1", 100), None, "invalid: ignored");
        assert_eq!(range("bytes=0-1,5-6", 100), None, "multi-range: whole file");
        assert_eq!(range("items=0-1", 100), None);
        assert_eq!(range("bytes=abc", 100), None);
        assert_eq!(
            range("bytes=0-99999999999999999999999999999", 100),
            Some(Ok(0..100)),
            "a last position past the end is clamped"
        );
    }

    #[test]
    fn content_disposition_is_safe() {
        assert_eq!(disposition("a.pdf"), "inline; filename=\"a.pdf\"");
        assert_eq!(
            disposition("say \"hi\"\\.txt"),
            "inline; filename=\"say \\\"hi\\\"\\\\.txt\""
        );
        assert_eq!(
            disposition("résumé 1.pdf"),
            "inline; filename=\"r_sum_ 1.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf"
        );
        assert!(HeaderValue::from_str(&disposition("ü\"\u{7f}x")).is_ok());
    }

    #[test]
    fn only_passive_types_are_inline() {
        for mime in [
            "image/png",
            "application/pdf",
            "text/plain; charset=utf-8",
            "IMAGE/JPEG",
        ] {
            assert!(content_disposition(mime, "f").starts_with("inline;"), "{mime}");
        }
        for mime in [
            "text/html",
            "Text/HTML; charset=utf-8",
            "image/svg+xml",
            "application/javascript",
            "text/javascript",
            "text/xml",
            "application/xml",
            "application/xhtml+xml",
            "application/octet-stream",
            "x/unknown",
            "",
        ] {
            assert_eq!(
                content_disposition(mime, "a.html"),
                "attachment; filename=\"a.html\"",
                "{mime}"
            );
        }
        let mut h = HeaderMap::new();
        content_safety(&mut h, "image/svg+xml", "x.svg");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .ends_with("sandbox"));
        let mut h = HeaderMap::new();
        content_safety(&mut h, "application/pdf", "x.pdf");
        assert!(!h.contains_key(header::CONTENT_SECURITY_POLICY));
    }

    #[test]
    fn conditional_requests() {
        let tag: ETag = "\"abc-5\"".parse().unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let req = |k: &'static str, v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(k, HeaderValue::from_static(v));
            h
        };
        assert!(not_modified(
            &req("if-none-match", "\"abc-5\""),
            Some(&tag),
            Some(t)
        ));
        assert!(not_modified(
            &req("if-none-match", "W/\"abc-5\""),
            Some(&tag),
            Some(t)
        ));
        assert!(not_modified(
            &req("if-none-match", "\"x\", \"abc-5\""),
            Some(&tag),
            Some(t)
        ));
        assert!(not_modified(&req("if-none-match", "*"), Some(&tag), Some(t)));
        assert!(!not_modified(
            &req("if-none-match", "\"abc-6\""),
            Some(&tag),
            Some(t)
        ));
        assert!(!not_modified(
            &req("if-none-match", "garbage"),
            Some(&tag),
            Some(t)
        ));
        let mut h = HeaderMap::new();
        h.typed_insert(IfModifiedSince::from(t));
        assert!(not_modified(&h, Some(&tag), Some(t)));
        assert!(!not_modified(&h, Some(&tag), Some(t + Duration::from_secs(1))));
        assert!(!not_modified(&HeaderMap::new(), Some(&tag), Some(t)));
    }
}
