//! Files on both stores and both storage backends (local disk; S3 through a
//! local moto_server, the S3-compatible test server from PyPI's `moto[server]`).

use std::process::{Child, Command, Stdio};

use rocket_testkit::{json, Store, TestServer};
use serde_json::Value;

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

async fn upload(s: &TestServer, app: &str, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str("application/pdf")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("note", "x")
        .part("file", part);
    let res = s
        .http
        .post(format!("{}/api/{app}/_files/upload", s.url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn download(
    s: &TestServer,
    app: &str,
    token: &str,
    id: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = s
        .http
        .get(format!("{}/api/{app}/_files/{id}", s.url))
        .bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// What the storage backend holds for `app`: file paths under the local root
/// (staging files included) or object keys in the S3 bucket, plus open S3
/// multipart uploads.
async fn stored(s: &TestServer, app: &str) -> Vec<String> {
    let st = &s.config.storage;
    if st.driver == "local" {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p.display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&st.local_path.join(app), &mut out);
        out
    } else {
        let base = format!("{}/{}", st.s3.endpoint, st.s3.bucket);
        let http = reqwest::Client::new();
        let objects = http
            .get(format!("{base}?list-type=2&prefix={app}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let uploads = http
            .get(format!("{base}?uploads&prefix={app}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let tag = |xml: &str, open: &str, close: &str| -> Vec<String> {
            xml.split(open)
                .skip(1)
                .filter_map(|t| t.split(close).next())
                .map(|k| k.to_string())
                .collect()
        };
        let mut out = tag(&objects, "<Key>", "</Key>");
        out.extend(
            tag(&uploads, "<Upload>", "</Upload>")
                .into_iter()
                .map(|u| format!("open multipart upload: {u}")),
        );
        out
    }
}

async fn files_suite(s: &TestServer) {
    let app = s.create_app().await;
    let (a, t) = (app.name.as_str(), app.token.as_str());
    // 20 MB round trip, byte-exact.
    let big = payload(20 * 1024 * 1024);
    let (st, body) = upload(s, a, t, "../../etc/passwd", big.clone()).await;
    assert_eq!(st, 201, "{body}");
    let d = &body["data"];
    assert_eq!(d["filename"], "passwd", "directory components stripped");
    assert_eq!(d["size"], big.len());
    assert_eq!(d["mime_type"], "application/pdf");
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["url"], format!("/api/{a}/_files/{id}"));
    let res = download(s, a, t, &id, &[]).await;
    assert_eq!(res.status().as_u16(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["content-length"], big.len().to_string().as_str());
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline; filename=\"passwd\""));
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.contains_key("last-modified"));
    let etag = h["etag"].to_str().unwrap().to_string();
    assert_eq!(res.bytes().await.unwrap().as_ref(), big.as_slice());
    // Layout: <root>/<app>/<id>/<sanitized name>, nothing else (no staging files).
    let files = stored(s, a).await;
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(&format!("{a}/{id}/passwd")), "{files:?}");
    if s.config.storage.driver == "local" {
        let on_disk = s.config.storage.local_path.join(a).join(&id).join("passwd");
        assert_eq!(std::fs::metadata(on_disk).unwrap().len(), big.len() as u64);
    }
    // HEAD answers the headers only.
    let res = s
        .http
        .head(format!("{}/api/{a}/_files/{id}", s.url))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-length"], big.len().to_string().as_str());
    // Range and conditional requests.
    let res = download(s, a, t, &id, &[("range", "bytes=100-199")]).await;
    assert_eq!(res.status().as_u16(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 100-199/{}", big.len()).as_str()
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &big[100..200]);
    let res = download(s, a, t, &id, &[("range", "bytes=-10")]).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), &big[big.len() - 10..]);
    let res = download(s, a, t, &id, &[("range", &format!("bytes={}-", big.len() + 5))]).await;
    assert_eq!(res.status().as_u16(), 416);
    let res = download(s, a, t, &id, &[("range", "bytes=0-1,10-11")]).await;
    assert_eq!(res.status().as_u16(), 200, "multi-range: the whole file");
    assert_eq!(res.bytes().await.unwrap().len(), big.len());
    let res = download(s, a, t, &id, &[("range", "bytes=9-2")]).await;
    assert_eq!(res.status().as_u16(), 200, "invalid range: ignored");
    let res = download(s, a, t, &id, &[("if-none-match", &etag)]).await;
    assert_eq!(res.status().as_u16(), 304);
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());
    let weak = format!("W/{etag}");
    let res = download(s, a, t, &id, &[("if-none-match", &weak)]).await;
    assert_eq!(res.status().as_u16(), 304, "weak comparison");
    let res = download(s, a, t, &id, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(res.status().as_u16(), 200);
    drop(res);

    // An empty file, and a non-ASCII name with quotes.
    let (st, body) = upload(s, a, t, "empty.txt", Vec::new()).await;
    assert_eq!((st, &body["data"]["size"]), (201, &json!(0)), "{body}");
    let empty = body["data"]["id"].as_str().unwrap().to_string();
    let res = download(s, a, t, &empty, &[]).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-length"], "0");
    assert!(res.bytes().await.unwrap().is_empty());
    let (st, body) = upload(s, a, t, "résumé \"final\"#1.pdf", b"%PDF".to_vec()).await;
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["data"]["filename"], "résumé \"final\"#1.pdf");
    let quoted = body["data"]["id"].as_str().unwrap().to_string();
    let res = download(s, a, t, &quoted, &[]).await;
    assert_eq!(
        res.headers()["content-disposition"],
        "inline; filename=\"r_sum_ \\\"final\\\"#1.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22#1.pdf"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"%PDF");
    for f in [&empty, &quoted] {
        let r = s.delete(&format!("/api/{a}/_files/{f}"), Some(t)).await;
        assert_eq!(r.status, 200);
    }

    // A second file with a hostile name; listing is newest first and admin-only.
    let (st, body) = upload(s, a, t, "a/b\\c.txt", b"hello".to_vec()).await;
    assert_eq!((st, body["data"]["filename"].as_str()), (201, Some("c.txt")));
    let small = body["data"]["id"].as_str().unwrap().to_string();
    let list = s.get(&format!("/api/{a}/_files"), Some(t)).await;
    let ids: Vec<&str> = list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [small.as_str(), id.as_str()], "newest first");
    let first = &list.data()[0];
    assert_eq!(first["filename"], "c.txt");
    assert_eq!(first["size"], 5);
    assert_eq!(first["mime_type"], "application/pdf");
    assert!(first["created_at"].is_string());
    assert!(
        first["uploaded_by"]
            .as_str()
            .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok()),
        "{first}"
    );
    assert!(
        list.data()[0].get("storage_path").is_none(),
        "storage locator never returned"
    );

    // File fields resolve a file id to its metadata on write.
    let r = s
        .post(
            &format!("/api/{a}/_admin/entities"),
            Some(t),
            json!({"name": "doc", "table": "docs",
            "primary_key": {"field": "id", "type": "uuid", "generated": true},
            "fields": [{"name": "id", "type": "uuid"}, {"name": "attachment", "type": "file"}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = s
        .post(&format!("/api/{a}/doc"), Some(t), json!({"attachment": small}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.data()["attachment"],
        json!({"id": small, "filename": "c.txt", "size": 5, "mime_type": "application/pdf"})
    );
    let r = s
        .post(
            &format!("/api/{a}/doc"),
            Some(t),
            json!({"attachment": "00000000-0000-4000-8000-000000000000"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (404, "NOT_FOUND", "File ID not found")
    );

    // Per-app isolation and roles.
    let other = s.create_app().await;
    assert_eq!(
        download(s, &other.name, &other.token, &id, &[])
            .await
            .status()
            .as_u16(),
        404
    );
    let r = s
        .post(
            &format!("/api/{a}/_admin/users"),
            Some(t),
            json!({"email": "u@x.org", "password": "pw", "roles": ["staff"]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let user = s
        .post(
            &format!("/api/{a}/auth/login"),
            None,
            json!({"email": "u@x.org", "password": "pw"}),
        )
        .await;
    let ut = user.data()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        download(s, a, &ut, &small, &[]).await.status().as_u16(),
        200,
        "any app user may download"
    );
    assert_eq!(s.get(&format!("/api/{a}/_files"), Some(&ut)).await.status, 403);
    assert_eq!(
        s.delete(&format!("/api/{a}/_files/{small}"), Some(&ut))
            .await
            .status,
        403
    );

    // Missing field; delete.
    let form = reqwest::multipart::Form::new().text("other", "x");
    let res = s
        .http
        .post(format!("{}/api/{a}/_files/upload", s.url))
        .bearer_auth(t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Missing file in form data");
    let r = s.delete(&format!("/api/{a}/_files/{id}"), Some(t)).await;
    assert_eq!(r.body, json!({"data": {"deleted": true}}));
    assert_eq!(download(s, a, t, &id, &[]).await.status().as_u16(), 404);
    assert_eq!(
        s.delete(&format!("/api/{a}/_files/{id}"), Some(t)).await.status,
        404
    );
    let r = s.delete(&format!("/api/{a}/_files/{small}"), Some(t)).await;
    assert_eq!(r.status, 200);
    assert_eq!(stored(s, a).await, Vec::<String>::new(), "content removed");
    if s.config.storage.driver == "local" {
        assert!(
            !s.config.storage.local_path.join(a).join(&id).exists(),
            "emptied directory removed"
        );
    }
    assert_eq!(download(s, a, t, "not-a-uuid", &[]).await.status().as_u16(), 404);
}

async fn over_limit(store: Store, tweak: impl FnOnce(&mut rocket_config::Config)) {
    let Some(s) = TestServer::start_with(store, |c| {
        c.storage.max_file_size = 1024 * 1024;
        tweak(c);
    })
    .await
    else {
        return;
    };
    let app = s.create_app().await;
    // Declared length over the limit: the answer comes before any body byte is sent.
    let raw = declared_too_large(&s, &app.name, &app.token).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(
        raw.contains("FILE_TOO_LARGE") && raw.contains("(max 1048576)"),
        "{raw}"
    );
    // Chunked body without a length: the 413 comes once the limit is crossed,
    // while the client is still sending (the body is never finished here).
    let raw = chunked_over_limit(&s, &app.name, &app.token).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("FILE_TOO_LARGE"), "{raw}");
    // The same through a regular client (the server may close the connection
    // while the client is still sending, so a send error is acceptable).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..40).map(|_| Ok(payload(64 * 1024))).collect();
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .file_name("s.bin");
    let form = reqwest::multipart::Form::new().part("file", part);
    let fresh = reqwest::Client::new();
    let res = fresh
        .post(format!("{}/api/{}/_files/upload", s.url, app.name))
        .bearer_auth(&app.token)
        .multipart(form)
        .send()
        .await;
    if let Ok(res) = res {
        assert_eq!(res.status().as_u16(), 413);
    }
    // A client that disconnects mid-upload leaves nothing behind either.
    disconnect_mid_upload(&s, &app.name, &app.token).await;
    let list = s
        .get(&format!("/api/{}/_files", app.name), Some(&app.token))
        .await;
    assert_eq!(list.data(), &json!([]), "no rows");
    let mut left = stored(&s, &app.name).await;
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = stored(&s, &app.name).await;
    }
    assert_eq!(left, Vec::<String>::new(), "no partial content");
    // Just under the limit is fine.
    let (st, _) = upload(&s, &app.name, &app.token, "ok.bin", payload(1024 * 1024)).await;
    assert_eq!(st, 201);
    s.stop().await;
}

const PREAMBLE: &str = "--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n\
                        Content-Type: application/octet-stream\r\n\r\n";

/// Streams 1.5 MB of a file (limit 1 MB) with chunked encoding and never
/// finishes the body; returns what the server answered meanwhile.
async fn chunked_over_limit(s: &TestServer, app: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.url.trim_start_matches("http://");
    let conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    let head = format!(
        "POST /api/{app}/_files/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let pre = PREAMBLE.as_bytes();
        wr.write_all(format!("{:x}\r\n", pre.len()).as_bytes()).await?;
        wr.write_all(pre).await?;
        wr.write_all(b"\r\n").await?;
        for _ in 0..24 {
            let data = payload(64 * 1024);
            wr.write_all(format!("{:x}\r\n", data.len()).as_bytes()).await?;
            wr.write_all(&data).await?;
            wr.write_all(b"\r\n").await?;
        }
        // Keep the connection open without ending the body.
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Ok::<_, std::io::Error>(wr)
    });
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), rd.read(&mut buf))
        .await
        .expect("answered before the body ended")
        .unwrap();
    writer.abort();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

/// Declares 900 kB (under the limit), sends 300 kB of it, then hangs up.
async fn disconnect_mid_upload(s: &TestServer, app: &str, token: &str) {
    use tokio::io::AsyncWriteExt;
    let addr = s.url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/{app}/_files/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: 900000\r\n\r\n{PREAMBLE}"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&payload(300_000)).await.unwrap();
    conn.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    drop(conn);
}

/// Sends only the headers of a 3 MB multipart upload and reads the answer.
async fn declared_too_large(s: &TestServer, app: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /api/{app}/_files/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: 3145728\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("answered without the body")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

fn big_files(c: &mut rocket_config::Config) {
    c.storage.max_file_size = 25 * 1024 * 1024;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_local_sqlite() {
    let s = TestServer::start_with(Store::Sqlite, big_files).await.unwrap();
    files_suite(&s).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_local_postgres() {
    if let Some(s) = TestServer::start_with(Store::Postgres, big_files).await {
        files_suite(&s).await;
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_over_limit_sqlite() {
    over_limit(Store::Sqlite, |_| {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_over_limit_postgres() {
    over_limit(Store::Postgres, |_| {}).await;
}

/// A moto S3 server on a free port with one bucket, killed on drop.
struct Moto(Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn moto() -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but moto_server cannot start ({e}); pip install 'moto[server]'");
            }
            eprintln!("SKIPPED: S3 file suite (moto_server not installed: pip install 'moto[server]')");
            return None;
        }
    };
    let m = Moto(child, format!("http://127.0.0.1:{port}"));
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http
            .put(format!("{}/rocket-test", m.1))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Some(m);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("moto_server did not come up");
}

fn s3(endpoint: &str) -> impl Fn(&mut rocket_config::Config) + '_ {
    move |c| {
        c.storage.driver = "s3".into();
        c.storage.s3.bucket = "rocket-test".into();
        c.storage.s3.endpoint = endpoint.to_string();
        c.storage.s3.allow_http = true;
        c.storage.s3.region = "us-east-1".into();
        c.storage.s3.access_key_id = "test".into();
        c.storage.s3.secret_access_key = "test".into();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_s3_sqlite() {
    let Some(m) = moto().await else { return };
    let s = TestServer::start_with(Store::Sqlite, |c| {
        s3(&m.1)(c);
        big_files(c);
    })
    .await
    .unwrap();
    files_suite(&s).await;
    s.stop().await;
    over_limit(Store::Sqlite, s3(&m.1)).await;
}
