//! File storage behind one interface (the `object_store` crate's
//! `ObjectStore`) with two real backends chosen by `storage.driver`: the local
//! disk and any S3-compatible service. Uploads stream in and downloads stream
//! out in chunks; no whole-file buffers.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use rocket_config::StorageConfig;
use rocket_core::{Error, Result};

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    pub driver: &'static str,
}

/// An upload in progress; `abort` removes what was written.
pub struct Upload {
    writer: WriteMultipart,
    pub written: u64,
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("storage: {e}"))
}

/// A file name safe to use as one path segment: no directories, no `..`,
/// no control characters; never empty.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    let cleaned: String = cleaned.chars().take(200).collect();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// The object key: `<app>/<file id>/<sanitized name>`; the app and id come
/// from the server, never from the client.
pub fn object_key(app: &str, id: &str, filename: &str) -> String {
    format!("{app}/{id}/{}", sanitize_filename(filename))
}

impl Storage {
    pub fn from_config(c: &StorageConfig) -> Result<Storage> {
        match c.driver.as_str() {
            "s3" => {
                let s3 = &c.s3;
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(if s3.region.is_empty() {
                        "us-east-1"
                    } else {
                        &s3.region
                    })
                    .with_allow_http(s3.allow_http);
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
                let store: Arc<dyn ObjectStore> = if s3.prefix.is_empty() {
                    store
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(store, s3.prefix.as_str()))
                };
                Ok(Storage { store, driver: "s3" })
            }
            _ => {
                std::fs::create_dir_all(&c.local_path)
                    .map_err(|e| internal(format!("cannot create {}: {e}", c.local_path.display())))?;
                let fs =
                    object_store::local::LocalFileSystem::new_with_prefix(&c.local_path).map_err(internal)?;
                Ok(Storage {
                    store: Arc::new(fs),
                    driver: "local",
                })
            }
        }
    }

    pub async fn start_upload(&self, key: &str) -> Result<Upload> {
        let up = self
            .store
            .put_multipart(&Path::from(key))
            .await
            .map_err(internal)?;
        Ok(Upload {
            writer: WriteMultipart::new(up),
            written: 0,
        })
    }

    /// Size and a stream of `range` (or the whole object).
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
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => Error::not_found("File ID not found"),
                other => internal(other),
            })?;
        Ok(res.into_stream().map(|r| r.map_err(internal)).boxed())
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(internal(e)),
        }
    }
}

impl Upload {
    /// Appends a chunk; parts are flushed to the backend as they fill.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.writer.wait_for_capacity(8).await.map_err(internal)?;
        self.writer.write(chunk);
        self.written += chunk.len() as u64;
        Ok(())
    }

    pub async fn finish(self) -> Result<()> {
        self.writer.finish().await.map(|_| ()).map_err(internal)
    }

    pub async fn abort(self) {
        if let Err(e) = self.writer.abort().await {
            tracing::warn!(error = %e, "aborting an upload failed");
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
        assert_eq!(sanitize_filename("..hidden"), "hidden");
        assert_eq!(sanitize_filename("we\u{0}ird\nname.pdf"), "weirdname.pdf");
        assert_eq!(object_key("shop", "id1", "/x/../y.png"), "shop/id1/y.png");
    }

    #[tokio::test]
    async fn local_roundtrip_with_range() {
        let dir = std::env::temp_dir().join(format!("rocket-storage-{}", std::process::id()));
        let cfg = StorageConfig {
            local_path: dir.clone(),
            ..Default::default()
        };
        let st = Storage::from_config(&cfg).unwrap();
        let mut up = st.start_upload("app/1/f.bin").await.unwrap();
        up.write(b"hello ").await.unwrap();
        up.write(b"world").await.unwrap();
        up.finish().await.unwrap();
        let read = |r| async {
            let mut s = st.open("app/1/f.bin", r).await.unwrap();
            let mut out = Vec::new();
            while let Some(c) = s.next().await {
                out.extend_from_slice(&c.unwrap());
            }
            out
        };
        assert_eq!(read(None).await, b"hello world");
        assert_eq!(read(Some(6..11)).await, b"world");
        st.delete("app/1/f.bin").await.unwrap();
        assert!(st.open("app/1/f.bin", None).await.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
