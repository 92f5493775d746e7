//! Hardening (issue 19, the HTTP, security and connection part): one test per
//! class of defect a hostile probe found, written to fail if the class returns.

use std::time::{Duration, Instant};

use rocket_testkit::{json, store_tests, Method, Store, TestServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

store_tests!(
    auth_bodies_must_be_objects,
    active_files_are_not_served_inline,
    unknown_emails_cost_a_password_check,
);

// ---------------------------------------------------------------- helpers

fn addr(s: &TestServer) -> String {
    s.url.trim_start_matches("http://").to_string()
}

/// A raw HTTP/1.1 exchange: status, lower-cased head, body. Reads until the
/// server closes or `wait` passes.
async fn raw(addr: &str, request: Vec<u8>, wait: Duration) -> (u16, String, Vec<u8>) {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = sock.split();
    let write = async {
        // The server may answer and close before it has read everything.
        let _ = wr.write_all(&request).await;
    };
    let read = async {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(wait, rd.read_to_end(&mut out)).await;
        out
    };
    let ((), out) = tokio::join!(write, read);
    parse_response(&out)
}

fn parse_response(out: &[u8]) -> (u16, String, Vec<u8>) {
    let text = String::from_utf8_lossy(out);
    let Some((head, _)) = text.split_once("\r\n\r\n") else {
        return (0, text.to_string(), Vec::new());
    };
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out[head.len() + 4..].to_vec();
    (status, head.to_ascii_lowercase(), body)
}

fn envelope_code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    assert!(v["error"]["message"].is_string(), "not an envelope: {v}");
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

fn forge(secret: &str, iat: i64, nbf: Option<i64>) -> String {
    rocket_auth::sign(
        secret,
        &rocket_auth::Claims {
            sub: uuid::Uuid::new_v4().to_string(),
            roles: vec!["platform_admin".into()],
            iat,
            exp: iat.max(nbf.unwrap_or(iat)) + 600,
            nbf,
        },
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ------------------------------------------------ 1. errors outside the envelope

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_an_envelope() {
    let s = TestServer::start(Store::Sqlite).await.unwrap();
    let app = s.create_app().await;
    let t = Some(app.token.as_str());
    // The method router: 405 with Allow kept.
    let r = s.call(Method::DELETE, "/health", None, None).await;
    assert_eq!((r.status, r.code()), (405, "METHOD_NOT_ALLOWED"), "{:?}", r.body);
    assert!(r.headers.contains_key("allow"));
    let platform = s.platform_token().await;
    let r = s
        .call(Method::PATCH, "/api/_platform/apps", Some(&platform), None)
        .await;
    assert_eq!((r.status, r.code()), (405, "METHOD_NOT_ALLOWED"));
    let r = s
        .call(
            Method::PATCH,
            &format!("/api/{}/_admin/entities", app.name),
            t,
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (405, "METHOD_NOT_ALLOWED"));
    // Path extractor rejections: invalid UTF-8 in a segment.
    for path in [
        format!("/api/{}/_files/%FF", app.name),
        format!("/api/{}/_admin/entities/%C3%28", app.name),
        format!("/api/{}/things/%FF%FE", app.name),
        "/api/_platform/apps/%FF".to_string(),
    ] {
        let token = if path.starts_with("/api/_platform") {
            Some(platform.as_str())
        } else {
            t
        };
        let r = s.get(&path, token).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "INVALID_PAYLOAD"),
            "{path}: {:?}",
            r.body
        );
        assert_eq!(r.headers["content-type"], "application/json", "{path}");
    }
    // The body limit.
    let big = format!("{{\"email\":\"{}\"}}", "a".repeat(3 * 1024 * 1024));
    let res = s
        .http
        .post(format!("{}/api/_platform/auth/login", s.url))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    assert_eq!(envelope_code(&res.bytes().await.unwrap()), "PAYLOAD_TOO_LARGE");
    // hyper's own answers to requests it cannot parse.
    let wait = Duration::from_secs(10);
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let (status, head, body) = raw(&addr(&s), long_uri.into_bytes(), wait).await;
    assert_eq!(status, 414, "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(envelope_code(&body), "URI_TOO_LONG");
    let bad_header = b"GET /health HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n".to_vec();
    let (status, _, body) = raw(&addr(&s), bad_header, wait).await;
    assert_eq!((status, envelope_code(&body)), (400, "INVALID_PAYLOAD".into()));
    let huge_head = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(500_000)
    );
    let (status, _, body) = raw(&addr(&s), huge_head.into_bytes(), wait).await;
    assert_eq!((status, envelope_code(&body)), (431, "HEADERS_TOO_LARGE".into()));
    // A good request on a fresh connection is untouched by the rewriting.
    let ok = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec();
    let (status, _, body) = raw(&addr(&s), ok, wait).await;
    assert_eq!((status, body), (200, br#"{"status":"ok"}"#.to_vec()));
    s.stop().await;
}

// --------------------------------------------- 2. non-object bodies on auth routes

async fn auth_bodies_must_be_objects(s: &TestServer) {
    let app = s.create_app().await;
    let a = &app.name;
    let paths = [
        "/api/_platform/auth/login".to_string(),
        "/api/_platform/auth/refresh".to_string(),
        "/api/_platform/auth/logout".to_string(),
        format!("/api/{a}/auth/login"),
        format!("/api/{a}/auth/refresh"),
        format!("/api/{a}/auth/logout"),
        format!("/api/{a}/auth/accept-invite"),
    ];
    // Positional arrays used to deserialize into the credentials struct.
    let bodies = [
        "[]",
        r#"["platform@localhost", "changeme"]"#,
        r#"["admin@localhost", "changeme"]"#,
        r#""x""#,
        "1",
        "null",
        "true",
    ];
    for p in &paths {
        for b in bodies {
            let r = s.call_raw(Method::POST, p, None, b).await;
            assert_eq!(
                (r.status, r.code()),
                (400, "INVALID_PAYLOAD"),
                "{p} {b}: {:?}",
                r.body
            );
        }
    }
}

// ------------------------------------------------------- 3. public default secrets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_secrets_are_not_accepted() {
    let s = TestServer::start(Store::Sqlite).await.unwrap();
    for published in ["changeme-platform-secret", "changeme-secret"] {
        let r = s
            .get("/api/_platform/apps", Some(&forge(published, now(), None)))
            .await;
        assert_eq!(r.status, 401, "a token signed with {published} is refused");
    }
    // Generated, private, and what the server signs with.
    let running = s.running_config().unwrap().clone();
    let file = s.config.database.path.join("platform_jwt_secret.key");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(saved.trim(), running.platform_jwt_secret);
    assert_eq!(saved.trim().len(), 64, "32 random bytes, hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let r = s
        .get(
            "/api/_platform/apps",
            Some(&forge(&running.platform_jwt_secret, now(), None)),
        )
        .await;
    assert_eq!(r.status, 200);
    // A later start on the same data directory keeps the secret: old tokens work.
    let token = s.platform_token().await;
    let second = rocket_server::start(s.config.clone()).await.unwrap();
    let res = s
        .http
        .get(format!("http://{}/api/_platform/apps", second.addr))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        second.platform.config.platform_jwt_secret,
        running.platform_jwt_secret
    );
    second.stop().await;
    s.stop().await;
}

// ------------------------------------------------------------- 4. nbf and iat

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_the_future_are_refused() {
    const SECRET: &str = "a-configured-platform-secret-of-40-bytes!";
    let s = TestServer::start_with(Store::Sqlite, |c| c.platform_jwt_secret = SECRET.into())
        .await
        .unwrap();
    let app = s.create_app().await;
    let in_app = format!("/api/{}/_admin/entities", app.name);
    let cases = [
        ("now", forge(SECRET, now(), None), 200),
        ("nbf reached", forge(SECRET, now() - 10, Some(now() - 5)), 200),
        ("nbf in 10 minutes", forge(SECRET, now(), Some(now() + 600)), 401),
        ("iat in 10 minutes", forge(SECRET, now() + 600, None), 401),
    ];
    for (what, token, want) in cases {
        let r = s.get("/api/_platform/apps", Some(&token)).await;
        assert_eq!(r.status, want, "platform route, {what}");
        let r = s.get(&in_app, Some(&token)).await;
        assert_eq!(r.status, want, "app route (dual auth), {what}");
    }
    s.stop().await;
}

// ------------------------------------------------------------------- 5. metrics

async fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("{url}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_open_to_anyone() {
    // The default: not served on the main listener at all.
    let s = TestServer::start_with(Store::Sqlite, |c| c.metrics.public = false)
        .await
        .unwrap();
    let (status, body) = scrape(&s.url, None).await;
    assert_eq!(status, 404, "{body}");
    s.stop().await;

    // A token.
    let s = TestServer::start_with(Store::Sqlite, |c| {
        c.metrics.public = false;
        c.metrics.token = "scrape-token-0123456789abcdef".into();
    })
    .await
    .unwrap();
    s.get("/health", None).await;
    assert_eq!(scrape(&s.url, None).await.0, 401);
    assert_eq!(scrape(&s.url, Some("wrong")).await.0, 401);
    let (status, body) = scrape(&s.url, Some("scrape-token-0123456789abcdef")).await;
    assert_eq!(status, 200);
    assert!(body.contains("rocket_http_requests_total"), "{body}");
    s.stop().await;

    // A separate listener: the main one no longer serves it.
    let s = TestServer::start_with(Store::Sqlite, |c| {
        c.metrics.public = true;
        c.metrics.listen = "127.0.0.1:0".into();
    })
    .await
    .unwrap();
    let metrics = s.metrics_url().unwrap();
    assert_eq!(scrape(&s.url, None).await.0, 404);
    let (status, body) = scrape(&metrics, None).await;
    assert_eq!(status, 200);
    assert!(body.contains("rocket_db_pool_size"), "{body}");
    let r = reqwest::get(format!("{metrics}/health")).await.unwrap();
    assert_eq!(r.status().as_u16(), 404, "only /metrics there");
    s.stop().await;
}

// ------------------------------------------------------- 6. stored XSS via files

async fn active_files_are_not_served_inline(s: &TestServer) {
    let app = s.create_app().await;
    let cases = [
        ("text/html", "x.html", false),
        ("text/html; charset=utf-8", "x.htm", false),
        ("image/svg+xml", "x.svg", false),
        ("application/javascript", "x.js", false),
        ("text/javascript", "x.mjs", false),
        ("text/xml", "x.xml", false),
        ("application/xhtml+xml", "x.xhtml", false),
        ("application/x-unheard-of", "x.bin", false),
        ("image/png", "x.png", true),
        ("application/pdf", "x.pdf", true),
    ];
    for (mime, name, inline) in cases {
        let part = reqwest::multipart::Part::bytes(b"<script>alert(1)</script>".to_vec())
            .file_name(name)
            .mime_str(mime)
            .unwrap();
        let res = s
            .http
            .post(format!("{}/api/{}/_files/upload", s.url, app.name))
            .bearer_auth(&app.token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{mime}");
        let body: Value = res.json().await.unwrap();
        let id = body["data"]["id"].as_str().unwrap();
        let res = s
            .http
            .get(format!("{}/api/{}/_files/{id}", s.url, app.name))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{mime}");
        let disposition = h["content-disposition"].to_str().unwrap();
        let want = if inline { "inline;" } else { "attachment;" };
        assert!(disposition.starts_with(want), "{mime}: {disposition}");
        let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap());
        if mime == "application/pdf" {
            assert_eq!(csp, None, "browsers will not show a sandboxed PDF");
        } else {
            assert!(csp.is_some_and(|c| c.contains("sandbox")), "{mime}: {csp:?}");
        }
    }
}

// ------------------------------------------------------------- 7. login timing

/// Coarse on purpose (the machine may be loaded): the fastest of several
/// unknown-email logins must take at least a fifth of the fastest
/// wrong-password login. Without the dummy hash it takes well under a
/// twentieth of it (no password check at all). The unit test in `auth` pins
/// the dummy's parameters to the real ones.
async fn unknown_emails_cost_a_password_check(s: &TestServer) {
    let app = s.create_app().await;
    for (path, known) in [
        ("/api/_platform/auth/login".to_string(), "platform@localhost"),
        (format!("/api/{}/auth/login", app.name), "admin@localhost"),
    ] {
        let fastest = |email: &'static str| {
            let path = path.clone();
            async move {
                let mut best = Duration::MAX;
                for _ in 0..5 {
                    let started = Instant::now();
                    let r = s
                        .post(&path, None, json!({"email": email, "password": "wrong"}))
                        .await;
                    best = best.min(started.elapsed());
                    assert_eq!(r.status, 401, "{path} {email}");
                    assert_eq!(r.message(), "Invalid email or password");
                }
                best
            }
        };
        let real = fastest(known).await;
        let unknown = fastest("nobody-here@localhost").await;
        assert!(
            unknown * 5 >= real,
            "{path}: unknown email {unknown:?} vs wrong password {real:?}"
        );
    }
}

// ------------------------------------------------------ 8. slow and idle clients

/// Time until the server closes `sock` (read gives EOF or an error).
async fn time_to_close(sock: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("connection still open after {limit:?}"),
        }
    }
}

/// Reads one response with a Content-Length body off a kept-alive connection.
async fn read_response(sock: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
            .await
            .expect("response in time")
            .unwrap();
        assert!(n > 0, "closed before the response");
        got.extend_from_slice(&buf[..n]);
        let (status, head, body) = parse_response(&got);
        if status == 0 {
            continue;
        }
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if body.len() >= len {
            return status;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_are_cut_off() {
    let s = TestServer::start_with(Store::Sqlite, |c| {
        c.server.header_read_timeout_ms = 300;
        c.server.idle_timeout_secs = 60;
    })
    .await
    .unwrap();
    // Half a request line, then nothing.
    let mut sock = TcpStream::connect(addr(&s)).await.unwrap();
    sock.write_all(b"GET /hea").await.unwrap();
    let took = time_to_close(&mut sock, Duration::from_secs(20)).await;
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    // Dripping a byte every 50 ms does not extend the deadline.
    let mut sock = TcpStream::connect(addr(&s)).await.unwrap();
    let started = Instant::now();
    let drip = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut closed = false;
    for b in drip.iter().chain(std::iter::repeat(&b'a')).take(400) {
        if sock.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(50), sock.read(&mut buf)).await {
            assert!(matches!(r, Ok(0) | Err(_)), "no response to half a head");
            closed = true;
            break;
        }
    }
    assert!(closed, "a dripping client was never cut off");
    assert!(started.elapsed() < Duration::from_secs(15));
    // Connecting and sending nothing counts as a slow head too.
    let mut sock = TcpStream::connect(addr(&s)).await.unwrap();
    time_to_close(&mut sock, Duration::from_secs(20)).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let s = TestServer::start_with(Store::Sqlite, |c| {
        c.server.header_read_timeout_ms = 400;
        c.server.idle_timeout_secs = 3;
    })
    .await
    .unwrap();
    let mut sock = TcpStream::connect(addr(&s)).await.unwrap();
    let req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    sock.write_all(req).await.unwrap();
    assert_eq!(read_response(&mut sock).await, 200);
    // Idle longer than the head timeout: still open, since no head has begun.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    sock.write_all(req).await.unwrap();
    assert_eq!(
        read_response(&mut sock).await,
        200,
        "kept alive past the head timeout"
    );
    let idle = time_to_close(&mut sock, Duration::from_secs(30)).await;
    assert!(idle >= Duration::from_millis(2500), "closed after {idle:?} idle");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait() {
    let s = TestServer::start_with(Store::Sqlite, |c| {
        c.server.max_connections = 2;
        c.server.header_read_timeout_ms = 60_000;
    })
    .await
    .unwrap();
    let first = TcpStream::connect(addr(&s)).await.unwrap();
    let _second = TcpStream::connect(addr(&s)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(addr(&s)).await.unwrap();
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let early = tokio::time::timeout(Duration::from_millis(800), third.read(&mut buf)).await;
    assert!(early.is_err(), "the third connection was served over the cap");
    drop(first);
    assert_eq!(read_response(&mut third).await, 200, "served once a slot frees");
    s.stop().await;
}
