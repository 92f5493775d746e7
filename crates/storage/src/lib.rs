//! File storage behind one interface with two real backends chosen by
//! `storage.driver`: the local disk and any S3-compatible service. Both are
//! the `object_store` crate's implementations (`LocalFileSystem`,
//! `AmazonS3`); this crate owns the key layout, file-name sanitising, the
//! size limit while an upload streams in, and cleanup of anything an
//! interrupted upload left behind.
//!
//! Uploads stream in and downloads stream out in bounded chunks; nothing here
//! holds a whole file in memory. It knows nothing about HTTP or databases.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, WriteMultipart};
use rocket_config::StorageConfig;
use rocket_error::{Error, Result};

/// Part size for local uploads (any size works on disk; this bounds memory).
const LOCAL_PART: usize = 1024 * 1024;
/// Part size for S3 uploads: the smallest part S3 accepts (except the last).
const S3_PART: usize = 5 * 1024 * 1024;
/// Parts in flight per upload; with the part being filled this bounds an
/// upload's memory to about (IN_FLIGHT + 1) parts.
const IN_FLIGHT: usize = 2;
/// Longest stored file-name segment, in bytes (file systems allow 255).
const MAX_SEGMENT_BYTES: usize = 150;
/// Longest file name kept for display, in characters.
const MAX_NAME_CHARS: usize = 255;

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// `local` or `s3`.
    pub driver: &'static str,
    /// Root directory of the local driver (to remove emptied directories).
    local_root: Option<PathBuf>,
    part_size: usize,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("driver", &self.driver).finish()
    }
}

/// Why `put_stream` stored nothing.
#[derive(Debug)]
pub enum PutError {
    /// The content passed the limit after this many bytes.
    TooLarge(u64),
    /// The incoming stream failed (client disconnected, malformed body).
    Source(String),
    /// The backend failed.
    Storage(Error),
}

/// An upload in progress. `finish` makes it visible; `abort`, or dropping it
/// unfinished (a cancelled request), removes whatever was written.
pub struct Upload {
    writer: Option<WriteMultipart>,
    /// The directory to remove once an aborted local upload is gone.
    local_dir: Option<PathBuf>,
    pub written: u64,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("storage: {e}"))
}

/// The name shown to clients and stored in `_files.filename`: the last path
/// component of what the client sent (both `/` and `\` separate), without
/// control characters or surrounding whitespace; `file` when nothing is left
/// or only dots are.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned: String = cleaned.trim().chars().take(MAX_NAME_CHARS).collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "file".into()
    } else {
        cleaned
    }
}

/// The file name as one storage path segment: the sanitized name with every
/// character outside letters, digits and `-_.()+,=@ ` replaced by `_`, no
/// leading dots, at most 150 bytes. Safe on every file system and as an S3 key.
pub fn storage_segment(name: &str) -> String {
    let display = sanitize_filename(name);
    let mut out = String::new();
    for c in display.chars() {
        let c = if c.is_alphanumeric() || "-_.()+,=@ ".contains(c) {
            c
        } else {
            '_'
        };
        if out.len() + c.len_utf8() > MAX_SEGMENT_BYTES {
            break;
        }
        out.push(c);
    }
    let out = out.trim().trim_start_matches('.').trim();
    if out.is_empty() {
        "file".into()
    } else {
        out.to_string()
    }
}

/// The object key: `<app>/<file id>/<storage segment>`. The app and id come
/// from the server, never from the client.
pub fn object_key(app: &str, id: &str, filename: &str) -> String {
    format!("{app}/{id}/{}", storage_segment(filename))
}

impl Storage {
    pub fn from_config(c: &StorageConfig) -> Result<Storage> {
        match c.driver.as_str() {
            "s3" => {
                let s3 = &c.s3;
                if s3.bucket.is_empty() {
                    return Err(internal("storage.s3.bucket is required"));
                }
                // No whole-request timeout: a download streams at the client's
                // pace and may take longer than any fixed limit.
                let client = ClientOptions::new()
                    .with_allow_http(s3.allow_http)
                    .with_timeout_disabled()
                    .with_connect_timeout(Duration::from_secs(5));
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(if s3.region.is_empty() {
                        "us-east-1"
                    } else {
                        &s3.region
                    })
                    .with_client_options(client);
                if !s3.endpoint.is_empty() {
                    b = b
                        .with_endpoint(&s3.endpoint)
                        .with_virtual_hosted_style_request(false);
                }
                if !s3.access_key_id.is_empty() {
                    b = b
                        .with_access_key_id(&s3.access_key_id)
                        .with_secret_access_key(&s3.secret_access_key);
                }
                let store: Arc<dyn ObjectStore> = Arc::new(b.build().map_err(internal)?);
                let prefix = s3.prefix.trim_matches('/');
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    store
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
                };
                Ok(Storage {
                    store,
                    driver: "s3",
                    local_root: None,
                    part_size: S3_PART,
                })
            }
            _ => {
                std::fs::create_dir_all(&c.local_path)
                    .map_err(|e| internal(format!("cannot create {}: {e}", c.local_path.display())))?;
                let root = std::fs::canonicalize(&c.local_path)
                    .map_err(|e| internal(format!("cannot resolve {}: {e}", c.local_path.display())))?;
                // Automatic cleanup removes a file's emptied directories on delete.
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&root)
                    .map_err(internal)?
                    .with_automatic_cleanup(true);
                Ok(Storage {
                    store: Arc::new(fs),
                    driver: "local",
                    local_root: Some(root),
                    part_size: LOCAL_PART,
                })
            }
        }
    }

    /// Starts writing `key`; nothing is visible under it until `finish`.
    pub async fn start_upload(&self, key: &str) -> Result<Upload> {
        let up = self
            .store
            .put_multipart(&Path::from(key))
            .await
            .map_err(internal)?;
        let local_dir = self.local_root.as_ref().and_then(|root| {
            let (dir, _) = key.rsplit_once('/')?;
            Some(root.join(dir))
        });
        Ok(Upload {
            writer: Some(WriteMultipart::new_with_chunk_size(up, self.part_size)),
            local_dir,
            written: 0,
        })
    }

    /// Writes `body` to `key` as it arrives. Past `max` bytes, or when the
    /// body or the backend fails, the partial upload is removed and nothing
    /// is stored. Returns the size written.
    pub async fn put_stream<S, E>(&self, key: &str, body: S, max: u64) -> std::result::Result<u64, PutError>
    where
        S: Stream<Item = std::result::Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut body = std::pin::pin!(body);
        let mut up = self.start_upload(key).await.map_err(PutError::Storage)?;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    up.abort().await;
                    return Err(PutError::Source(e.to_string()));
                }
            };
            let seen = up.written + chunk.len() as u64;
            if seen > max {
                up.abort().await;
                return Err(PutError::TooLarge(seen));
            }
            if let Err(e) = up.write(chunk).await {
                up.abort().await;
                return Err(PutError::Storage(e));
            }
        }
        let size = up.written;
        up.finish().await.map_err(PutError::Storage)?;
        Ok(size)
    }

    /// A stream of `range` (or the whole object), read in bounded chunks.
    pub async fn open(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let res = self
            .store
            .get_opts(&Path::from(key), opts)
            .await
            .map_err(not_found_or_internal)?;
        Ok(res.into_stream().map(|r| r.map_err(internal)).boxed())
    }

    /// The stored size of `key`.
    pub async fn size(&self, key: &str) -> Result<u64> {
        let meta = self
            .store
            .head(&Path::from(key))
            .await
            .map_err(not_found_or_internal)?;
        Ok(meta.size)
    }

    /// Removes `key` (and, on the local driver, its emptied directories).
    /// A key that is already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }
}

fn not_found_or_internal(e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::not_found("File ID not found"),
        other => internal(other),
    }
}

impl Upload {
    /// Appends a chunk; full parts go to the backend as they fill, with at
    /// most `IN_FLIGHT` of them outstanding.
    pub async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| internal("upload already closed"))?;
        w.wait_for_capacity(IN_FLIGHT).await.map_err(internal)?;
        self.written += chunk.len() as u64;
        w.put(chunk);
        Ok(())
    }

    /// Completes the upload; on failure nothing is left behind.
    pub async fn finish(mut self) -> Result<()> {
        let Some(mut w) = self.writer.take() else {
            return Err(internal("upload already closed"));
        };
        // Settle the parts already sent first, so that a failed part can still
        // be aborted (`WriteMultipart::finish` consumes the writer).
        if let Err(e) = w.wait_for_capacity(0).await {
            abort_writer(w, self.local_dir.take()).await;
            return Err(internal(e));
        }
        w.finish().await.map(|_| ()).map_err(internal)
    }

    /// Removes everything written so far.
    pub async fn abort(mut self) {
        if let Some(w) = self.writer.take() {
            abort_writer(w, self.local_dir.take()).await;
        }
    }
}

async fn abort_writer(w: WriteMultipart, local_dir: Option<PathBuf>) {
    if let Err(e) = w.abort().await {
        tracing::warn!(error = %e, "aborting an upload failed");
    }
    if let Some(dir) = local_dir {
        // Only succeeds when empty: `<app>/<file id>/` held just this upload.
        let _ = tokio::fs::remove_dir(dir).await;
    }
}

impl Drop for Upload {
    /// A request cancelled mid-upload drops its `Upload`: abort it in the
    /// background so that no partial object or open multipart upload remains.
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            let dir = self.local_dir.take();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(abort_writer(w, dir));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_never_paths() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("a/b\\c.txt"), "c.txt");
        assert_eq!(sanitize_filename(".."), "file");
        assert_eq!(sanitize_filename("  "), "file");
        assert_eq!(sanitize_filename("dir/"), "file");
        assert_eq!(sanitize_filename(".bashrc"), ".bashrc");
        assert_eq!(sanitize_filename("we\u{0}ird\nname.pdf"), "weirdname.pdf");
        assert_eq!(sanitize_filename("résumé \"v2\".pdf"), "résumé \"v2\".pdf");
        assert_eq!(storage_segment("..hidden"), "hidden");
        assert_eq!(storage_segment("résumé \"v2\".pdf"), "résumé _v2_.pdf");
        assert_eq!(storage_segment("report#1"), "report_1");
        assert_eq!(storage_segment("a%2F..%2Fb"), "a_2F.._2Fb");
        assert!(storage_segment(&"é".repeat(400)).len() <= MAX_SEGMENT_BYTES);
        assert_eq!(object_key("shop", "id1", "/x/../y.png"), "shop/id1/y.png");
        assert_eq!(
            object_key("shop", "id1", "C:\\Users\\..\\x.exe"),
            "shop/id1/x.exe"
        );
    }

    fn temp_storage(tag: &str) -> (Storage, PathBuf) {
        let dir = std::env::temp_dir().join(format!("rocket-storage-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = StorageConfig {
            local_path: dir.clone(),
            ..Default::default()
        };
        (Storage::from_config(&cfg).unwrap(), dir)
    }

    fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    out.push(p.clone());
                    out.extend(files_under(&p));
                } else {
                    out.push(p);
                }
            }
        }
        out
    }

    async fn read_all(st: &Storage, key: &str, r: Option<Range<u64>>) -> Vec<u8> {
        let mut s = st.open(key, r).await.unwrap();
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = std::result::Result<Bytes, String>> {
        futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn local_roundtrip_with_range_and_cleanup() {
        let (st, dir) = temp_storage("rt");
        let n = st
            .put_stream("app/1/f.bin", chunks(&[b"hello ", b"world"]), 100)
            .await
            .unwrap();
        assert_eq!(n, 11);
        assert!(
            dir.join("app/1/f.bin").is_file(),
            "layout <root>/<app>/<id>/<name>"
        );
        assert_eq!(st.size("app/1/f.bin").await.unwrap(), 11);
        assert_eq!(read_all(&st, "app/1/f.bin", None).await, b"hello world");
        assert_eq!(read_all(&st, "app/1/f.bin", Some(6..11)).await, b"world");
        st.delete("app/1/f.bin").await.unwrap();
        assert!(st.open("app/1/f.bin", None).await.is_err());
        assert!(st.size("app/1/f.bin").await.is_err());
        assert!(!dir.join("app/1").exists(), "emptied directory removed");
        st.delete("app/1/f.bin").await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn empty_file() {
        let (st, dir) = temp_storage("empty");
        assert_eq!(st.put_stream("app/2/e", chunks(&[]), 10).await.unwrap(), 0);
        assert_eq!(read_all(&st, "app/2/e", None).await, b"");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn over_the_limit_leaves_nothing() {
        let (st, dir) = temp_storage("limit");
        let r = st
            .put_stream("app/3/big", chunks(&[b"12345", b"67890", b"x"]), 10)
            .await;
        assert!(matches!(r, Err(PutError::TooLarge(11))), "{r:?}");
        assert!(
            files_under(&dir).iter().all(|p| p.is_dir() && p.ends_with("app")),
            "{:?}",
            files_under(&dir)
        );
        let failing =
            futures_util::stream::iter(vec![Ok(Bytes::from_static(b"abc")), Err("reset".to_string())]);
        let r = st.put_stream("app/4/cut", failing, 10).await;
        assert!(matches!(r, Err(PutError::Source(_))), "{r:?}");
        assert!(
            files_under(&dir).iter().all(|p| p.is_dir()),
            "{:?}",
            files_under(&dir)
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_dropped_upload_is_aborted() {
        let (st, dir) = temp_storage("drop");
        let mut up = st.start_upload("app/5/partial").await.unwrap();
        up.write(Bytes::from(vec![7u8; 3 * LOCAL_PART])).await.unwrap();
        drop(up);
        for _ in 0..50 {
            if files_under(&dir).iter().all(|p| p.is_dir()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            files_under(&dir).iter().all(|p| p.is_dir()),
            "{:?}",
            files_under(&dir)
        );
        assert!(st.open("app/5/partial", None).await.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
