//! Instrumentation and the events API over HTTP on both stores
//! (semantics.md §18, http-api.md §10.4): business events, per-request
//! traces with X-Trace-ID, untraced 401s, every list filter, pagination
//! bounds, sorting, the trace tree, stats against a known data set,
//! sampling 0 and disabled instrumentation, the batch endpoint (array,
//! NDJSON, 413, 503 on saturation) and admin-only reads.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use reqwest::Method;
use rocket_config::Config;
use rocket_events::row::{Event, EVENTS};
use rocket_testkit::{json, Store, TestApp, TestServer};
use serde_json::Value;
use uuid::Uuid;

fn fast(c: &mut Config) {
    c.instrumentation.flush_interval_ms = 20;
}

fn unsampled(c: &mut Config) {
    fast(c);
    c.instrumentation.sampling_rate = 0.0;
}

fn disabled(c: &mut Config) {
    fast(c);
    c.instrumentation.enabled = false;
}

fn quick_retention(c: &mut Config) {
    fast(c);
    c.instrumentation.sampling_rate = 0.0;
    c.instrumentation.retention_days = 7;
    c.instrumentation.retention_interval_secs = 1;
}

fn tiny_buffer(c: &mut Config) {
    // Nothing flushes on its own while the test fills the buffer, and no
    // span takes a slot.
    c.instrumentation.sampling_rate = 0.0;
    c.instrumentation.flush_interval_ms = 60_000;
    c.instrumentation.buffer_size = 1_000;
    c.instrumentation.buffer_capacity = 5;
    c.instrumentation.batch_max_events = 10;
}

macro_rules! on_both {
    ($($name:ident: $tweak:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(s) = rocket_testkit::TestServer::start_with(rocket_testkit::Store::Sqlite, super::$tweak).await {
                        super::$name(&s).await;
                        s.stop().await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(s) = rocket_testkit::TestServer::start_with(rocket_testkit::Store::Postgres, super::$tweak).await {
                        super::$name(&s).await;
                        s.stop().await;
                    }
                }
            }
        )*
    };
}

on_both!(
    business_events_are_recorded: fast,
    requests_are_traced_with_their_spans: fast,
    list_filters_pagination_and_sort: fast,
    stats_over_a_known_data_set: unsampled,
    sampling_zero_records_no_spans: unsampled,
    disabled_instrumentation_still_records_business_events: disabled,
    batches_are_accepted_bounded_and_refused_when_full: tiny_buffer,
    retention_deletes_only_expired_events: quick_retention,
);

async fn events(s: &TestServer, a: &TestApp, query: &str) -> Value {
    let r = s
        .get(&format!("/api/{}/_events?{query}", a.name), Some(&a.token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The list body once `pred` holds (the buffer flushes every 20 ms).
async fn events_until(s: &TestServer, a: &TestApp, query: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let b = events(s, a, query).await;
        if pred(&b) || Instant::now() > end {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn total(b: &Value) -> i64 {
    b["pagination"]["total"].as_i64().unwrap_or(-1)
}

async fn order_entity(s: &TestServer, a: &TestApp) {
    let r = s
        .post(
            &format!("/api/{}/_admin/entities", a.name),
            Some(&a.token),
            json!({"name": "order", "table": "orders",
                "primary_key": {"field": "id", "type": "uuid", "generated": true},
                "fields": [{"name": "id", "type": "uuid"}, {"name": "status", "type": "string"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

async fn business_events_are_recorded(s: &TestServer) {
    let a = s.create_app().await;
    let path = format!("/api/{}/_events", a.name);
    let r = s
        .post(
            &path,
            Some(&a.token),
            json!({"action": "order.shipped", "entity": "order", "record_id": "o-1", "metadata": {"carrier": "ups"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!({"data": {"status": "ok"}}));

    let r = s.post(&path, Some(&a.token), json!({"entity": "order"})).await;
    assert_eq!(
        (r.status, r.code(), r.message()),
        (422, "VALIDATION_FAILED", "action is required")
    );
    let r = s.call_raw(Method::POST, &path, Some(&a.token), "{not json").await;
    assert_eq!((r.status, r.message()), (400, "Invalid JSON body"));
    let r = s.post(&path, None, json!({"action": "x"})).await;
    assert_eq!(r.status, 401);

    let b = events_until(s, &a, "event_type=business", |b| total(b) == 1).await;
    assert_eq!(total(&b), 1, "{b}");
    let e = &b["data"][0];
    assert_eq!(e["event_type"], "business");
    assert_eq!(e["source"], "business");
    assert_eq!(e["component"], "api");
    assert_eq!(e["action"], "order.shipped");
    assert_eq!(e["entity"], "order");
    assert_eq!(e["record_id"], "o-1");
    assert_eq!(e["metadata"], json!({"carrier": "ups"}));
    assert!(e["duration_ms"].is_null() && e["status"].is_null(), "{e}");
    assert!(!e["user_id"].is_null(), "the caller is recorded: {e}");
    // The request was traced: the event hangs under its root span.
    assert!(!e["parent_span_id"].is_null(), "{e}");
    for k in ["id", "trace_id", "span_id", "created_at"] {
        assert!(e[k].is_string(), "{k}: {e}");
    }
}

async fn requests_are_traced_with_their_spans(s: &TestServer) {
    let a = s.create_app().await;
    order_entity(s, &a).await;
    let created = s
        .post(
            &format!("/api/{}/order", a.name),
            Some(&a.token),
            json!({"status": "new"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.data()["id"].as_str().expect("id").to_string();

    let trace = Uuid::new_v4().to_string();
    let r = s
        .http
        .get(format!("{}/api/{}/order/{id}", s.url, a.name))
        .bearer_auth(&a.token)
        .header("X-Trace-ID", &trace)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-trace-id"].to_str().ok(),
        Some(trace.as_str()),
        "echoed"
    );

    // A refused authentication is not traced.
    let untraced = Uuid::new_v4().to_string();
    let r = s
        .http
        .get(format!("{}/api/{}/order/{id}", s.url, a.name))
        .bearer_auth("nope")
        .header("X-Trace-ID", &untraced)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);

    let end = Instant::now() + Duration::from_secs(10);
    let t = loop {
        let r = s
            .get(&format!("/api/{}/_events/trace/{trace}", a.name), Some(&a.token))
            .await;
        if r.status == 200 || Instant::now() > end {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(t.status, 200, "{:?}", t.body);
    let d = t.data();
    assert_eq!(d["trace_id"], trace.as_str());
    let root = &d["root_span"];
    assert_eq!(
        (root["source"].as_str(), root["action"].as_str()),
        (Some("http"), Some("request"))
    );
    assert!(root["parent_span_id"].is_null());
    assert_eq!(root["metadata"]["method"], "GET");
    assert_eq!(root["metadata"]["status_code"], 200);
    assert_eq!(root["status"], "ok");
    assert_eq!(d["total_duration_ms"], root["duration_ms"]);
    let kids = root["children"].as_array().cloned().unwrap_or_default();
    let get = kids
        .iter()
        .find(|k| k["action"] == "record.get")
        .unwrap_or_else(|| panic!("no record.get child: {root}"));
    assert_eq!(get["source"], "engine");
    assert_eq!(get["entity"], "order");
    assert_eq!(get["record_id"], id.as_str());
    assert_eq!(get["children"], json!([]));
    let spans = d["spans"].as_array().cloned().unwrap_or_default();
    assert_eq!(spans.len(), 1 + kids.len());
    // user_id is on every span of an authenticated request.
    assert!(spans.iter().all(|sp| sp["user_id"].is_string()), "{spans:?}");

    let r = s
        .get(
            &format!("/api/{}/_events/trace/{untraced}", a.name),
            Some(&a.token),
        )
        .await;
    assert_eq!(
        (r.status, r.message().to_string()),
        (404, format!("Trace not found: {untraced}"))
    );
    let r = s
        .get(
            &format!("/api/{}/_events/trace/not-a-uuid", a.name),
            Some(&a.token),
        )
        .await;
    assert_eq!(r.status, 404);

    // A failing request: the root span is an error.
    let missing = Uuid::new_v4();
    let r = s
        .get(&format!("/api/{}/order/{missing}", a.name), Some(&a.token))
        .await;
    assert_eq!(r.status, 404);
    let b = events_until(s, &a, "source=http&status=error", |b| total(b) >= 1).await;
    assert!(
        b["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|e| e["metadata"]["status_code"] == 404)),
        "{b}"
    );
}

/// Writes known events straight into the app's table (the tests' data set).
async fn seed(s: &TestServer, a: &TestApp, events: Vec<Event>) {
    let app = s.platform().app(&a.name).await.expect("app");
    let rows: Vec<_> = events.into_iter().map(Event::into_row).collect();
    app.db.insert_many(&EVENTS, &rows).await.expect("seed events");
}

fn ev(
    source: &str,
    action: &str,
    entity: Option<&str>,
    ms: Option<f64>,
    status: Option<&'static str>,
    minute: u32,
) -> Event {
    Event {
        trace_id: Uuid::new_v4(),
        span_id: Uuid::new_v4(),
        parent_span_id: None,
        event_type: if ms.is_some() { "system" } else { "business" },
        source: source.into(),
        component: "c".into(),
        action: action.into(),
        entity: entity.map(String::from),
        record_id: None,
        user_id: None,
        duration_ms: ms,
        status,
        metadata: None,
        created_at: Utc
            .with_ymd_and_hms(2026, 1, 1, 10, minute, 0)
            .single()
            .expect("time"),
    }
}

async fn list_filters_pagination_and_sort(s: &TestServer) {
    let a = s.create_app().await;
    let mut set = vec![
        ev("engine", "order.created", Some("order"), Some(1.0), Some("ok"), 1),
        ev("engine", "order.shipped", Some("order"), Some(2.0), Some("ok"), 2),
        ev("engine", "order_x", Some("order"), Some(3.0), Some("error"), 3),
        ev("storage", "file.upload", None, Some(4.0), Some("ok"), 4),
    ];
    let user = Uuid::new_v4();
    set[3].user_id = Some(user);
    let trace = set[0].trace_id;
    seed(s, &a, set).await;
    let window = "from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z";
    let count = |b: &Value| total(b);
    assert_eq!(count(&events(s, &a, window).await), 4);
    for (q, n) in [
        ("source=engine", 3),
        ("component=c", 4),
        ("action=order.shipped", 1),
        ("action=order.*", 2), // the `_` of order_x is no wildcard
        ("entity=order", 3),
        ("event_type=system", 4),
        ("status=error", 1),
        (&*format!("trace_id={trace}"), 1),
        (&*format!("user_id={user}"), 1),
        ("user_id=not-a-uuid", 0),
        ("from=2026-01-01T10:02:00Z&to=2026-01-01T10:03:00Z", 2),
    ] {
        let b = events(s, &a, &format!("{window}&{q}")).await;
        assert_eq!(count(&b), n, "{q}: {b}");
        assert_eq!(b["data"].as_array().map(Vec::len), Some(n as usize), "{q}");
    }
    let r = s
        .get(&format!("/api/{}/_events?from=yesterday", a.name), Some(&a.token))
        .await;
    assert_eq!(r.status, 400);

    let b = events(s, &a, &format!("{window}&per_page=2&page=2")).await;
    assert_eq!(b["pagination"], json!({"page": 2, "per_page": 2, "total": 4}));
    // Default order: newest first; page 2 of 2 holds minutes 2 and 1.
    assert_eq!(b["data"][0]["action"], "order.shipped");
    assert_eq!(b["data"][1]["action"], "order.created");
    let b = events(s, &a, &format!("{window}&sort=created_at&per_page=1")).await;
    assert_eq!(b["data"][0]["action"], "order.created", "ascending");
    for (pp, want) in [("0", 50), ("-3", 50), ("500", 100), ("x", 50)] {
        let b = events(s, &a, &format!("{window}&per_page={pp}")).await;
        assert_eq!(b["pagination"]["per_page"], want, "per_page={pp}");
    }
    let b = events(s, &a, &format!("{window}&page=0")).await;
    assert_eq!(b["pagination"]["page"], 1);

    // Reads are the admin's.
    let t = s.platform_token().await;
    let r = s
        .post(
            &format!("/api/{}/_admin/users", a.name),
            Some(&a.token),
            json!({"email": "reader@example.com", "password": "changeme1", "roles": ["reader"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = s
        .post(
            &format!("/api/{}/auth/login", a.name),
            None,
            json!({"email": "reader@example.com", "password": "changeme1"}),
        )
        .await;
    let reader = r.data()["access_token"].as_str().expect("token").to_string();
    for p in [
        "_events",
        "_events/stats",
        "_events/trace/00000000-0000-0000-0000-000000000000",
    ] {
        let r = s.get(&format!("/api/{}/{p}", a.name), Some(&reader)).await;
        assert_eq!(r.status, 403, "{p}");
    }
    // Any user may emit.
    let r = s
        .post(
            &format!("/api/{}/_events", a.name),
            Some(&reader),
            json!({"action": "x"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s
        .get(&format!("/api/{}/_events?{window}", a.name), Some(&t))
        .await;
    assert_eq!(r.status, 200, "the platform admin reads too");
}

async fn stats_over_a_known_data_set(s: &TestServer) {
    let a = s.create_app().await;
    let mut set: Vec<Event> = (1..=20)
        .map(|i| {
            ev(
                "engine",
                "record.get",
                Some("order"),
                Some(f64::from(i)),
                Some(if i <= 2 { "error" } else { "ok" }),
                5,
            )
        })
        .collect();
    set.push(ev("http", "request", None, Some(100.0), Some("ok"), 6));
    set.push(ev("business", "order.shipped", Some("order"), None, None, 7));
    seed(s, &a, set).await;
    let path = format!(
        "/api/{}/_events/stats?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
        a.name
    );
    let r = s.get(&path, Some(&a.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let d = r.data();
    assert_eq!(d["total_events"], 22);
    // (210 + 100) / 21 durations.
    let avg = d["avg_latency_ms"].as_f64().expect("avg");
    assert!((avg - 310.0 / 21.0).abs() < 1e-9, "{avg}");
    assert_eq!(d["error_rate"], json!(0.0909)); // 2 / 22
    let p95 = d["p95_latency_ms"].as_f64().expect("p95");
    match s.store {
        // percentile_cont over 1..20 and 100: position 0.95 * 20 = 19 -> 20.
        Store::Postgres => assert!((p95 - 20.0).abs() < 1e-9, "{p95}"),
        // index floor(0.95 * 21) = 19 of the sorted durations -> 20.
        Store::Sqlite => assert_eq!(p95, 20.0),
    }
    let by = d["by_source"].as_array().cloned().unwrap_or_default();
    assert_eq!(by.len(), 2, "business events have no duration: {by:?}");
    assert_eq!(by[0]["source"], "engine");
    assert_eq!(by[0]["count"], 20);
    assert_eq!(by[0]["error_count"], 2);
    assert_eq!(by[0]["avg_duration_ms"], json!(10.5));
    assert_eq!(
        by[1],
        json!({"source": "http", "count": 1, "avg_duration_ms": 100.0, "p95_duration_ms": 100.0, "error_count": 0})
    );
    let p = by[0]["p95_duration_ms"].as_f64().expect("p95");
    assert!((19.0..=20.0).contains(&p), "{p}");

    let r = s.get(&format!("{path}&entity=order"), Some(&a.token)).await;
    assert_eq!(r.data()["total_events"], 21);
    let r = s
        .get(
            &format!("/api/{}/_events/stats?from=2030-01-01T00:00:00Z", a.name),
            Some(&a.token),
        )
        .await;
    assert_eq!(r.data()["total_events"], 0);
    assert_eq!(r.data()["error_rate"], json!(0.0));
    assert!(r.data()["avg_latency_ms"].is_null() && r.data()["p95_latency_ms"].is_null());
    assert_eq!(r.data()["by_source"], json!([]));
}

async fn sampling_zero_records_no_spans(s: &TestServer) {
    let a = s.create_app().await;
    order_entity(s, &a).await;
    for _ in 0..5 {
        assert_eq!(
            s.get(&format!("/api/{}/order", a.name), Some(&a.token))
                .await
                .status,
            200
        );
    }
    let r = s
        .post(
            &format!("/api/{}/_events", a.name),
            Some(&a.token),
            json!({"action": "kept"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let b = events_until(s, &a, "", |b| total(b) >= 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b2 = events(s, &a, "").await;
    assert_eq!(total(&b2), 1, "only the business event: {b} {b2}");
    assert_eq!(b2["data"][0]["action"], "kept");
    assert!(
        b2["data"][0]["parent_span_id"].is_null(),
        "untraced request: no parent"
    );
}

async fn disabled_instrumentation_still_records_business_events(s: &TestServer) {
    sampling_zero_records_no_spans(s).await;
}

async fn batches_are_accepted_bounded_and_refused_when_full(s: &TestServer) {
    let a = s.create_app().await;
    let path = format!("{}/api/{}/_events/batch", s.url, a.name);
    let post = |body: String, ndjson: bool| {
        s.http
            .post(&path)
            .bearer_auth(&a.token)
            .header(
                "content-type",
                if ndjson {
                    "application/x-ndjson"
                } else {
                    "application/json"
                },
            )
            .body(body)
            .send()
    };
    // Refusals of bad batches, while the buffer has room.
    let many: Vec<Value> = (0..11).map(|i| json!({"action": format!("x{i}")})).collect();
    let r = post(Value::Array(many).to_string(), false).await.expect("post");
    assert_eq!(r.status(), 413);
    let r = post(r#"[{"action":"ok"},{"nope":1}]"#.into(), false)
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["message"], "event 1: action is required");
    let r = post("{}".into(), false).await.expect("post");
    assert_eq!(r.status(), 400);
    let r = post(r#"[{"action":"a"},{"action":"b"}]"#.into(), false)
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["data"]["accepted"], 2);
    let r = post("{\"action\":\"c\"}\n{\"action\":\"d\"}\n".into(), true)
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    // Four of five slots are taken: two more do not fit, and neither is queued.
    let r = post(r#"[{"action":"e"},{"action":"f"}]"#.into(), false)
        .await
        .expect("post");
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "OVERLOADED");
    // The single emit answers 503 too while the buffer is full.
    let one = s
        .post(
            &format!("/api/{}/_events", a.name),
            Some(&a.token),
            json!({"action": "g"}),
        )
        .await;
    assert_eq!(one.status, 200, "one slot was left");
    let one = s
        .post(
            &format!("/api/{}/_events", a.name),
            Some(&a.token),
            json!({"action": "h"}),
        )
        .await;
    assert_eq!(one.status, 503);
}

async fn retention_deletes_only_expired_events(s: &TestServer) {
    let a = s.create_app().await;
    let now = Utc::now();
    let mut set = Vec::new();
    for days in [30, 8, 6, 0] {
        let mut e = ev("engine", &format!("age.{days}"), None, Some(1.0), Some("ok"), 0);
        e.created_at = now - chrono::Duration::days(days) - chrono::Duration::minutes(1);
        set.push(e);
    }
    seed(s, &a, set).await;
    // Retention runs every second here (hourly by default).
    let b = events_until(s, &a, "source=engine", |b| total(b) == 2).await;
    assert_eq!(total(&b), 2, "events older than 7 days are gone: {b}");
    let kept: Vec<&str> = b["data"]
        .as_array()
        .map(|d| d.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kept, vec!["age.0", "age.6"]);
}
