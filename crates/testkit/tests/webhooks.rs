//! Webhooks over HTTP on both stores (semantics.md §12, http-api.md
//! §9.9-9.10), against a real receiver server inside the test: each hook,
//! sync rejection and rollback, conditions, the payload field by field,
//! logs, the retry schedule (time-scaled), manual retry, the circuit
//! breaker, Standard Webhooks signatures, env header templates, bad
//! definitions, bad receivers and the private-target guard.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine;
use hmac::{KeyInit, Mac};
use rocket_config::Config;
use rocket_testkit::{json, Store, TestServer};
use serde_json::Value;

#[derive(Debug, Clone)]
struct Hit {
    path: String,
    headers: HashMap<String, String>,
    body: Value,
    at: Instant,
}

#[derive(Default)]
struct Receiver {
    hits: Mutex<Vec<Hit>>,
    calls: Mutex<HashMap<String, u32>>,
    /// `/switch` fails while this is set.
    failing: AtomicBool,
}

type Rx = Arc<Receiver>;

async fn handle(
    State(rx): State<Rx>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let n = {
        let mut calls = rx.calls.lock().expect("lock");
        let c = calls.entry(path.clone()).or_insert(0);
        *c += 1;
        *c
    };
    rx.hits.lock().expect("lock").push(Hit {
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    });
    let seg: Vec<&str> = path.split('/').collect();
    match seg.as_slice() {
        ["ok", ..] => "fine".into_response(),
        ["reject", ..] => (StatusCode::CONFLICT, "no").into_response(),
        ["fail", ..] => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        ["flaky", k, ..] => {
            let k: u32 = k.parse().unwrap_or(0);
            if n <= k {
                (StatusCode::SERVICE_UNAVAILABLE, "later").into_response()
            } else {
                "fine".into_response()
            }
        }
        ["switch", ..] => {
            if rx.failing.load(Ordering::SeqCst) {
                (StatusCode::BAD_GATEWAY, "down").into_response()
            } else {
                "fine".into_response()
            }
        }
        ["slow", ..] => {
            tokio::time::sleep(Duration::from_secs(20)).await;
            "late".into_response()
        }
        ["big", ..] => {
            // 10 MB, streamed.
            let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
            let s = futures::stream::iter((0..160).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
            Response::new(Body::from_stream(s))
        }
        _ => (StatusCode::NOT_FOUND, "?").into_response(),
    }
}

async fn receiver() -> (Rx, String) {
    let rx: Rx = Arc::new(Receiver::default());
    let app = Router::new()
        .route("/{*path}", any(handle))
        .with_state(rx.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(l, app).await });
    (rx, url)
}

impl Receiver {
    fn on(&self, path: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .expect("lock")
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    async fn wait(&self, path: &str, n: usize) -> Vec<Hit> {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.on(path);
            if got.len() >= n || Instant::now() > end {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A closed port: connection refused.
async fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    format!("http://{a}/gone")
}

fn fast(c: &mut Config) {
    c.webhooks.retry_base_secs = 0.2;
    c.webhooks.log_flush_ms = 20;
    c.webhooks.breaker_failures = 3;
    c.webhooks.breaker_cooldown_secs = 0.6;
    c.webhooks.timeout_secs = 2;
    c.queue.poll_interval_ms = 100;
}

macro_rules! webhook_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(s) = rocket_testkit::TestServer::start_with(rocket_testkit::Store::Sqlite, super::fast).await {
                        super::$name(&s).await;
                        s.stop().await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(s) = rocket_testkit::TestServer::start_with(rocket_testkit::Store::Postgres, super::fast).await {
                        super::$name(&s).await;
                        s.stop().await;
                    }
                }
            }
        )*
    };
}

webhook_tests!(
    async_hooks_payload_conditions_and_logs,
    sync_hooks_reject_and_roll_back,
    retries_follow_the_schedule_and_manual_retry,
    the_breaker_opens_fails_fast_and_closes,
    deliveries_are_signed_and_secrets_rotate,
    bad_definitions_are_refused,
    bad_receivers_cost_at_most_their_timeout,
);

struct App {
    base: String,
    token: String,
}

impl App {
    fn t(&self) -> Option<&str> {
        Some(self.token.as_str())
    }
}

async fn order_app(s: &TestServer) -> App {
    let app = s.create_app().await;
    let base = format!("/api/{}", app.name);
    let r = s
        .post(
            &format!("{base}/_admin/entities"),
            Some(&app.token),
            json!({"name": "order", "table": "orders",
                "primary_key": {"field": "id", "type": "uuid", "generated": true},
                "fields": [{"name": "id", "type": "uuid"}, {"name": "status", "type": "string"},
                           {"name": "total", "type": "int"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    App {
        base,
        token: app.token,
    }
}

async fn hook(s: &TestServer, a: &App, def: Value) -> String {
    let r = s.post(&format!("{}/_admin/webhooks", a.base), a.t(), def).await;
    assert_eq!(r.status, 201, "create webhook: {:?}", r.body);
    r.data()["id"].as_str().expect("id").to_string()
}

/// The logs of a webhook once `pred` holds for them (the writer batches).
async fn logs_until(s: &TestServer, a: &App, webhook: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let r = s
            .get(
                &format!("{}/_admin/webhook-logs?webhook_id={webhook}", a.base),
                a.t(),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let logs = r.data().as_array().cloned().unwrap_or_default();
        if pred(&logs) || Instant::now() > end {
            return logs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn async_hooks_payload_conditions_and_logs(s: &TestServer) {
    std::env::set_var("ROCKET_WH_TEST_KEY", "k-123");
    let (rx, url) = receiver().await;
    let a = order_app(s).await;
    let all = hook(
        s,
        &a,
        json!({"entity": "order", "url": format!("{url}/ok/all"),
               "headers": {"X-Key": "{{env.ROCKET_WH_TEST_KEY}}", "X-Plain": "p"}}),
    )
    .await;
    let shipped = hook(
        s,
        &a,
        json!({"entity": "order", "url": format!("{url}/ok/shipped"), "condition": "record.status == 'shipped'"}),
    )
    .await;
    hook(
        s,
        &a,
        json!({"entity": "order", "hook": "after_delete", "url": format!("{url}/ok/deleted")}),
    )
    .await;
    // A sync after_write webhook never fires (metadata.md §8).
    hook(
        s,
        &a,
        json!({"entity": "order", "url": format!("{url}/ok/never"), "async": false}),
    )
    .await;

    let r = s
        .post(
            &format!("{}/order", a.base),
            a.t(),
            json!({"status": "placed", "total": 10}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["id"].as_str().expect("id").to_string();
    let created = rx.wait("ok/all", 1).await;
    assert_eq!(created.len(), 1);
    let p = &created[0].body;
    assert_eq!(p["event"], "after_write");
    assert_eq!(p["entity"], "order");
    assert_eq!(p["action"], "create");
    assert_eq!(p["record"]["id"], json!(id));
    assert_eq!(p["record"]["status"], "placed");
    assert!(p.get("old").is_none(), "no old on create: {p}");
    assert_eq!(p["changes"]["status"], json!({"old": null, "new": "placed"}));
    assert!(p["user"]["id"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(p["user"]["roles"], json!(["admin"]));
    let ts = p["timestamp"].as_str().expect("timestamp");
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'),
        "{ts}"
    );
    let key = p["idempotency_key"].as_str().expect("key");
    assert!(
        key.starts_with("wh_") && uuid::Uuid::parse_str(&key[3..]).is_ok(),
        "{key}"
    );
    let h = &created[0].headers;
    assert_eq!(
        h.get("x-key").map(String::as_str),
        Some("k-123"),
        "env template resolved"
    );
    assert_eq!(h.get("x-plain").map(String::as_str), Some("p"));
    assert!(h
        .get("content-type")
        .is_some_and(|c| c.starts_with("application/json")));

    let r = s
        .put(
            &format!("{}/order/{id}", a.base),
            a.t(),
            json!({"status": "shipped"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let both = rx.wait("ok/all", 2).await;
    let p = &both[1].body;
    assert_eq!(p["action"], "update");
    assert_eq!(p["old"]["status"], "placed");
    assert_eq!(p["record"]["status"], "shipped");
    assert_eq!(
        p["changes"],
        json!({"status": {"old": "placed", "new": "shipped"}})
    );
    assert_ne!(p["idempotency_key"], json!(key), "a new key per invocation");
    let sh = rx.wait("ok/shipped", 1).await;
    assert_eq!(sh.len(), 1, "the condition let only the update through");
    assert_eq!(
        sh[0].body["idempotency_key"], p["idempotency_key"],
        "shared by the invocation"
    );

    let r = s.delete(&format!("{}/order/{id}", a.base), a.t()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let del = rx.wait("ok/deleted", 1).await;
    assert_eq!(del.len(), 1);
    let p = &del[0].body;
    assert_eq!(
        (p["event"].as_str(), p["action"].as_str()),
        (Some("after_delete"), Some("delete"))
    );
    assert_eq!(p["record"]["status"], "shipped");
    assert!(p.get("old").is_none() && p.get("changes").is_none(), "{p}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.on("ok/never").is_empty(), "a sync after_write webhook fired");
    assert_eq!(rx.on("ok/shipped").len(), 1);

    let logs = logs_until(s, &a, &all, |l| l.len() >= 2).await;
    assert_eq!(logs.len(), 2, "{logs:?}");
    let l = &logs[0];
    for k in [
        "id",
        "webhook_id",
        "entity",
        "hook",
        "url",
        "method",
        "request_headers",
        "request_body",
        "response_status",
        "response_body",
        "status",
        "attempt",
        "max_attempts",
        "next_retry_at",
        "error",
        "idempotency_key",
        "created_at",
        "updated_at",
    ] {
        assert!(l.get(k).is_some(), "log row lacks {k}: {l}");
    }
    assert_eq!(l["status"], "delivered");
    assert_eq!(l["attempt"], 1);
    assert_eq!(l["max_attempts"], 3);
    assert_eq!(l["response_status"], 200);
    assert_eq!(l["response_body"], "fine");
    assert_eq!(l["hook"], "after_write");
    assert_eq!(l["method"], "POST");
    assert_eq!(l["next_retry_at"], Value::Null);
    assert_eq!(
        l["request_headers"]["X-Key"], "{{env.ROCKET_WH_TEST_KEY}}",
        "the stored header keeps the template, never the secret"
    );
    assert_eq!(l["request_body"]["action"], "update", "newest first");
    let one = s
        .get(
            &format!(
                "{}/_admin/webhook-logs/{}",
                a.base,
                l["id"].as_str().unwrap_or("")
            ),
            a.t(),
        )
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.data()["id"], l["id"]);
    let filtered = s
        .get(
            &format!("{}/_admin/webhook-logs?status=failed&webhook_id={all}", a.base),
            a.t(),
        )
        .await;
    assert_eq!(filtered.data(), &json!([]));
    let logs = logs_until(s, &a, &shipped, |l| !l.is_empty()).await;
    assert_eq!(logs.len(), 1);
    let missing = s
        .get(
            &format!("{}/_admin/webhook-logs/{}", a.base, uuid::Uuid::new_v4()),
            a.t(),
        )
        .await;
    assert_eq!((missing.status, missing.code()), (404, "NOT_FOUND"));
    let junk = s
        .get(&format!("{}/_admin/webhook-logs/not-a-uuid", a.base), a.t())
        .await;
    assert_eq!(junk.status, 404);
}

async fn count(s: &TestServer, a: &App) -> usize {
    let r = s.get(&format!("{}/order", a.base), a.t()).await;
    r.data().as_array().map_or(0, Vec::len)
}

async fn sync_hooks_reject_and_roll_back(s: &TestServer) {
    let (rx, url) = receiver().await;
    let a = order_app(s).await;
    let w = hook(
        s,
        &a,
        json!({"entity": "order", "hook": "before_write", "async": false, "url": format!("{url}/reject/w"),
               "retry": {"max_attempts": 1}}),
    )
    .await;
    let r = s
        .post(&format!("{}/order", a.base), a.t(), json!({"status": "new"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "{:?}", r.body);
    let d = &r.body["error"]["details"][0];
    assert_eq!(d["rule"], "webhook");
    assert_eq!(d["message"], "Webhook rejected the write (HTTP 409)");
    assert_eq!(count(s, &a).await, 0, "the write rolled back");
    let hit = rx.wait("reject/w", 1).await;
    assert_eq!(hit[0].body["event"], "before_write");
    assert_eq!(
        hit[0].body["record"]["status"], "new",
        "record = the payload fields"
    );
    let logs = logs_until(s, &a, &w, |l| !l.is_empty()).await;
    assert_eq!(logs.len(), 1, "the log survives the rollback");
    assert_eq!(logs[0]["status"], "failed");
    assert_eq!(logs[0]["error"], "HTTP 409");
    assert_eq!(logs[0]["response_status"], 409);

    // A network error is 502 WEBHOOK_FAILED.
    let dead = dead_url().await;
    let r = s
        .put(
            &format!("{}/_admin/webhooks/{w}", a.base),
            a.t(),
            json!({"entity": "order", "hook": "before_write", "async": false, "url": dead, "retry": {"max_attempts": 1}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s
        .post(&format!("{}/order", a.base), a.t(), json!({"status": "new"}))
        .await;
    assert_eq!((r.status, r.code()), (502, "WEBHOOK_FAILED"), "{:?}", r.body);
    assert_eq!(count(s, &a).await, 0);

    // 2xx lets the write through.
    let r = s
        .put(
            &format!("{}/_admin/webhooks/{w}", a.base),
            a.t(),
            json!({"entity": "order", "hook": "before_write", "async": false, "url": format!("{url}/ok/w")}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .post(&format!("{}/order", a.base), a.t(), json!({"status": "new"}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["id"].as_str().expect("id").to_string();
    let r = s
        .put(&format!("{}/order/{id}", a.base), a.t(), json!({"total": 5}))
        .await;
    assert_eq!(r.status, 200);
    let ok = rx.wait("ok/w", 2).await;
    assert_eq!(ok[1].body["old"]["status"], "new", "old = the stored row");
    assert_eq!(
        ok[1].body["record"],
        json!({"total": 5}),
        "record = the payload fields"
    );

    // before_delete: a rejection keeps the row.
    hook(
        s,
        &a,
        json!({"entity": "order", "hook": "before_delete", "async": false, "url": format!("{url}/reject/d"),
               "retry": {"max_attempts": 1}}),
    )
    .await;
    let r = s.delete(&format!("{}/order/{id}", a.base), a.t()).await;
    assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"), "{:?}", r.body);
    assert_eq!(count(s, &a).await, 1, "the delete rolled back");
    let hit = rx.wait("reject/d", 1).await;
    assert_eq!(hit[0].body["event"], "before_delete");
    assert_eq!(hit[0].body["record"]["id"], json!(id));
}

async fn retries_follow_the_schedule_and_manual_retry(s: &TestServer) {
    let (rx, url) = receiver().await;
    let a = order_app(s).await;
    // Two failures, then success: attempt 1 now, 2 after base (0.2 s),
    // 3 after base x 2^2 (0.8 s).
    let w = hook(
        s,
        &a,
        json!({"entity": "order", "url": format!("{url}/flaky/2"), "retry": {"max_attempts": 3}}),
    )
    .await;
    let r = s
        .post(&format!("{}/order", a.base), a.t(), json!({"status": "x"}))
        .await;
    assert_eq!(r.status, 201);
    let hits = rx.wait("flaky/2", 3).await;
    assert_eq!(hits.len(), 3, "three attempts");
    let key = &hits[0].body["idempotency_key"];
    assert!(
        hits.iter().all(|h| &h.body["idempotency_key"] == key),
        "one key across retries"
    );
    let (g1, g2) = (hits[1].at - hits[0].at, hits[2].at - hits[1].at);
    assert!(
        g1 >= Duration::from_millis(190),
        "first retry after the base: {g1:?}"
    );
    assert!(g2 >= Duration::from_millis(780), "second after base x 4: {g2:?}");
    let logs = logs_until(s, &a, &w, |l| {
        l.first().is_some_and(|l| l["status"] == "delivered")
    })
    .await;
    assert_eq!(logs.len(), 1, "one row per delivery, updated by retries");
    assert_eq!(logs[0]["status"], "delivered");
    assert_eq!(logs[0]["attempt"], 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.on("flaky/2").len(), 3, "no attempt after success");

    // Linear backoff: base x attempt.
    let lin = hook(
        s,
        &a,
        json!({"entity": "order", "url": format!("{url}/flaky/3"), "retry": {"max_attempts": 4, "backoff": "linear"}}),
    )
    .await;
    let _ = lin;
    // Exhausted: failed, then a manual retry gives one more attempt.
    let f = hook(
        s,
        &a,
        json!({"entity": "order", "url": format!("{url}/fail/m"), "retry": {"max_attempts": 2}}),
    )
    .await;
    let r = s
        .post(&format!("{}/order", a.base), a.t(), json!({"status": "y"}))
        .await;
    assert_eq!(r.status, 201);
    let lh = rx.wait("flaky/3", 4).await;
    assert_eq!(lh.len(), 4);
    let g3 = lh[3].at - lh[2].at;
    assert!(
        g3 >= Duration::from_millis(590),
        "linear: third retry after base x 3: {g3:?}"
    );
    assert!(
        g3 < Duration::from_millis(1500),
        "linear, not exponential (1.6 s): {g3:?}"
    );
    let logs = logs_until(s, &a, &f, |l| l.first().is_some_and(|l| l["status"] == "failed")).await;
    let log = &logs[0];
    assert_eq!(
        (log["status"].as_str(), log["attempt"].as_i64()),
        (Some("failed"), Some(2)),
        "{log}"
    );
    assert_eq!(log["error"], "HTTP 500");
    assert_eq!(log["response_body"], "boom");
    let lid = log["id"].as_str().expect("id").to_string();
    let r = s
        .post(
            &format!("{}/_admin/webhook-logs/{lid}/retry", a.base),
            a.t(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let d = r.data();
    assert_eq!(d["status"], "retrying");
    assert_eq!(d["attempt"], 2, "the counter is not reset");
    assert!(d["next_retry_at"].is_string());
    let keys: Vec<&str> = d
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for k in [
        "id",
        "webhook_id",
        "entity",
        "hook",
        "url",
        "method",
        "status",
        "attempt",
        "max_attempts",
        "next_retry_at",
        "updated_at",
    ] {
        assert!(keys.contains(&k), "retry answer lacks {k}: {d}");
    }
    assert_eq!(rx.wait("fail/m", 3).await.len(), 3, "one more attempt");
    let logs = logs_until(s, &a, &f, |l| l.first().is_some_and(|l| l["attempt"] == 3)).await;
    assert_eq!(
        (logs[0]["status"].as_str(), logs[0]["attempt"].as_i64()),
        (Some("failed"), Some(3))
    );
    // Only failed or retrying logs.
    let done = logs_until(s, &a, &w, |_| true).await;
    let did = done[0]["id"].as_str().expect("id");
    let r = s
        .post(
            &format!("{}/_admin/webhook-logs/{did}/retry", a.base),
            a.t(),
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status, r.message()),
        (422, "Can only retry failed or retrying webhook logs")
    );
    let r = s
        .post(
            &format!("{}/_admin/webhook-logs/{}/retry", a.base, uuid::Uuid::new_v4()),
            a.t(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
}

async fn the_breaker_opens_fails_fast_and_closes(s: &TestServer) {
    let (rx, url) = receiver().await;
    let a = order_app(s).await;
    rx.failing.store(true, Ordering::SeqCst);
    let w = hook(
        s,
        &a,
        json!({"entity": "order", "url": format!("{url}/switch"), "retry": {"max_attempts": 20, "backoff": "linear"}}),
    )
    .await;
    for i in 0..3 {
        let r = s
            .post(&format!("{}/order", a.base), a.t(), json!({"total": i}))
            .await;
        assert_eq!(r.status, 201);
    }
    rx.wait("switch", 3).await;
    // Three consecutive failures opened the circuit: new deliveries are
    // not sent, they are logged with the reason.
    let before = rx.on("switch").len();
    let r = s
        .post(&format!("{}/order", a.base), a.t(), json!({"total": 9}))
        .await;
    assert_eq!(r.status, 201);
    let logs = logs_until(s, &a, &w, |l| {
        l.iter()
            .any(|x| x["error"].as_str().is_some_and(|e| e.contains("circuit open")))
    })
    .await;
    assert!(
        logs.iter().any(
            |x| x["error"].as_str().is_some_and(|e| e.contains("circuit open")) && x["status"] == "retrying"
        ),
        "a fast-failed delivery is logged with the reason: {logs:?}"
    );
    let during = rx.on("switch").len();
    assert!(
        during <= before + 1,
        "at most one probe while open ({before} -> {during})"
    );
    // The receiver recovers: the half-open probe succeeds and everything
    // is delivered.
    rx.failing.store(false, Ordering::SeqCst);
    let logs = logs_until(s, &a, &w, |l| {
        l.len() == 4 && l.iter().all(|x| x["status"] == "delivered")
    })
    .await;
    assert!(
        logs.iter().all(|x| x["status"] == "delivered"),
        "all delivered after the circuit closed: {logs:?}"
    );

    // A sync webhook on an open circuit fails fast with 502.
    let dead = dead_url().await;
    hook(
        s,
        &a,
        json!({"entity": "order", "hook": "before_write", "async": false, "url": dead, "retry": {"max_attempts": 1}}),
    )
    .await;
    for _ in 0..3 {
        let r = s.post(&format!("{}/order", a.base), a.t(), json!({})).await;
        assert_eq!(r.status, 502);
    }
    let r = s.post(&format!("{}/order", a.base), a.t(), json!({})).await;
    assert_eq!((r.status, r.code()), (502, "WEBHOOK_FAILED"));
    assert!(r.message().contains("circuit open"), "{}", r.message());
}

fn verify(secret: &str, h: &Hit) -> Vec<bool> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret bytes");
    let id = h.headers.get("webhook-id").expect("webhook-id");
    let ts = h.headers.get("webhook-timestamp").expect("webhook-timestamp");
    let body = serde_json::to_vec(&h.body).expect("body");
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&body);
    let want = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    h.headers
        .get("webhook-signature")
        .expect("webhook-signature")
        .split(' ')
        .map(|s| s == want)
        .collect()
}

async fn deliveries_are_signed_and_secrets_rotate(s: &TestServer) {
    let (rx, url) = receiver().await;
    let a = order_app(s).await;
    let w = hook(
        s,
        &a,
        json!({"entity": "order", "url": format!("{url}/ok/signed")}),
    )
    .await;
    let r = s
        .post(&format!("{}/order", a.base), a.t(), json!({"total": 1}))
        .await;
    assert_eq!(r.status, 201);
    let first = rx.wait("ok/signed", 1).await;
    assert!(
        !first[0].headers.contains_key("webhook-signature"),
        "no secret, no signature"
    );

    let r = s
        .post(
            &format!("{}/_admin/webhooks/{w}/secret", a.base),
            a.t(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let s1 = r.data()["secret"].as_str().expect("secret").to_string();
    assert!(s1.starts_with("whsec_"));
    let read = s.get(&format!("{}/_admin/webhooks/{w}", a.base), a.t()).await;
    assert!(
        !read.body.to_string().contains(&s1[6..]),
        "a read never shows the secret"
    );
    let list = s.get(&format!("{}/_admin/webhooks", a.base), a.t()).await;
    assert!(!list.body.to_string().contains(&s1[6..]));
    let export = s.get(&format!("{}/_admin/export", a.base), a.t()).await;
    assert!(!export.body.to_string().contains(&s1[6..]), "nor does an export");

    s.post(&format!("{}/order", a.base), a.t(), json!({"total": 2}))
        .await;
    let hits = rx.wait("ok/signed", 2).await;
    let h = &hits[1];
    assert_eq!(
        h.headers.get("webhook-id"),
        h.body["idempotency_key"].as_str().map(String::from).as_ref()
    );
    let ts: i64 = h
        .headers
        .get("webhook-timestamp")
        .and_then(|t| t.parse().ok())
        .expect("ts");
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    assert_eq!(
        verify(&s1, h),
        vec![true],
        "verifies with the Standard Webhooks algorithm"
    );

    // Rotation: the new secret signs, the old one too during the grace.
    let mine = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let r = s
        .post(
            &format!("{}/_admin/webhooks/{w}/secret", a.base),
            a.t(),
            json!({"secret": mine}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["secret"], mine);
    s.post(&format!("{}/order", a.base), a.t(), json!({"total": 3}))
        .await;
    let hits = rx.wait("ok/signed", 3).await;
    assert_eq!(verify(mine, &hits[2]), vec![true, false]);
    assert_eq!(verify(&s1, &hits[2]), vec![false, true]);

    let r = s
        .post(
            &format!("{}/_admin/webhooks/{w}/secret", a.base),
            a.t(),
            json!({"secret": "plain"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "VALIDATION_FAILED"));
    let r = s
        .post(
            &format!("{}/_admin/webhooks/{}/secret", a.base, uuid::Uuid::new_v4()),
            a.t(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = s
        .delete(&format!("{}/_admin/webhooks/{w}/secret", a.base), a.t())
        .await;
    assert_eq!(r.status, 200);
    s.post(&format!("{}/order", a.base), a.t(), json!({"total": 4}))
        .await;
    let hits = rx.wait("ok/signed", 4).await;
    assert!(!hits[3].headers.contains_key("webhook-signature"));
}

async fn bad_definitions_are_refused(s: &TestServer) {
    let a = order_app(s).await;
    let base = json!({"entity": "order", "url": "https://x.test/h"});
    let with = |k: &str, v: Value| {
        let mut d = base.clone();
        d[k] = v;
        d
    };
    for (def, why) in [
        (
            with("url", json!("ftp://x.test")),
            "url must start with http:// or https://",
        ),
        (with("url", json!("http://")), "url"),
        (with("url", json!("http://exa mple.com/")), "url"),
        (with("method", json!("FETCH")), "method must be"),
        (with("hook", json!("sometimes")), "hook must be"),
        (with("headers", json!("X: y")), "headers"),
        (with("headers", json!({"bad name": "x"})), "header name"),
        (with("headers", json!({"X-N": 5})), "must be a string"),
        (
            with("headers", json!({"X-N": "a\r\nInjected: 1"})),
            "control character",
        ),
        (with("retry", json!({"max_attempts": 0})), "max_attempts"),
        (with("retry", json!({"max_attempts": "3"})), "max_attempts"),
        (with("retry", json!({"backoff": "random"})), "backoff"),
        (with("retry", json!({"tries": 3})), "unknown key"),
        (with("condition", json!("record.(")), "invalid condition"),
    ] {
        let r = s
            .post(&format!("{}/_admin/webhooks", a.base), a.t(), def.clone())
            .await;
        assert_eq!(
            (r.status, r.code()),
            (422, "VALIDATION_FAILED"),
            "{def}: {:?}",
            r.body
        );
        assert!(
            r.body.to_string().contains(why),
            "{def}: {:?} should mention {why}",
            r.body
        );
    }
    let r = s.post(&format!("{}/_admin/webhooks", a.base), a.t(), base).await;
    assert_eq!(r.status, 201);
}

async fn bad_receivers_cost_at_most_their_timeout(s: &TestServer) {
    let (rx, url) = receiver().await;
    let a = order_app(s).await;
    // A receiver that hangs: the sync hook answers 502 at the timeout (2 s).
    let w = hook(
        s,
        &a,
        json!({"entity": "order", "hook": "before_write", "async": false, "url": format!("{url}/slow/s"),
               "retry": {"max_attempts": 1}}),
    )
    .await;
    let t0 = Instant::now();
    let r = s.post(&format!("{}/order", a.base), a.t(), json!({})).await;
    let took = t0.elapsed();
    assert_eq!((r.status, r.code()), (502, "WEBHOOK_FAILED"), "{:?}", r.body);
    assert!(r.message().contains("timed out"), "{}", r.message());
    assert!(took < Duration::from_secs(8), "bounded by the timeout: {took:?}");
    s.delete(&format!("{}/_admin/webhooks/{w}", a.base), a.t()).await;
    // 10 MB answer: 64 KiB kept.
    let big = hook(s, &a, json!({"entity": "order", "url": format!("{url}/big/b")})).await;
    let r = s.post(&format!("{}/order", a.base), a.t(), json!({})).await;
    assert_eq!(r.status, 201);
    let logs = logs_until(s, &a, &big, |l| !l.is_empty()).await;
    assert_eq!(logs[0]["status"], "delivered");
    assert_eq!(logs[0]["response_body"].as_str().map(str::len), Some(64 * 1024));
    assert_eq!(rx.on("big/b").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_private_target_guard_refuses_local_addresses() {
    let Some(s) = TestServer::start_with(Store::Sqlite, |c| {
        fast(c);
        c.webhooks.block_private = true;
    })
    .await
    else {
        return;
    };
    let (rx, url) = receiver().await;
    let a = order_app(&s).await;
    let port = url.rsplit(':').next().unwrap_or("1").to_string();
    let w = hook(
        &s,
        &a,
        json!({"entity": "order", "hook": "before_write", "async": false, "url": format!("{url}/ok/g"),
               "retry": {"max_attempts": 1}}),
    )
    .await;
    let r = s.post(&format!("{}/order", a.base), a.t(), json!({})).await;
    assert_eq!((r.status, r.code()), (502, "WEBHOOK_FAILED"), "{:?}", r.body);
    assert!(r.message().contains("private"), "{}", r.message());
    // A name that resolves inside is refused at DNS.
    let r = s
        .put(
            &format!("{}/_admin/webhooks/{w}", a.base),
            a.t(),
            json!({"entity": "order", "hook": "before_write", "async": false,
                   "url": format!("http://localhost:{port}/ok/g"), "retry": {"max_attempts": 1}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s.post(&format!("{}/order", a.base), a.t(), json!({})).await;
    assert_eq!((r.status, r.code()), (502, "WEBHOOK_FAILED"), "{:?}", r.body);
    assert!(rx.on("ok/g").is_empty(), "nothing reached the local receiver");
    s.stop().await;
}
