//! The job queue inside the running server: registered kinds consume each
//! app's queue, failing jobs end in dead letters, and the admin API lists,
//! requeues and deletes them; queue gauges and counters are on /metrics.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rocket_apps::{JobKind, Plugins};
use rocket_queue::{Handler, Job, NewJob, RetryPolicy};
use rocket_testkit::{json, Store, TestServer};

struct Counting {
    calls: Arc<AtomicU32>,
    fail: bool,
}

#[async_trait]
impl Handler for Counting {
    async fn handle(&self, _job: &Job) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            Err("receiver said no".into())
        } else {
            Ok(())
        }
    }
}

fn kind(name: &str, calls: &Arc<AtomicU32>, fail: bool) -> JobKind {
    let calls = calls.clone();
    JobKind {
        kind: name.into(),
        options: None,
        retry: Some(RetryPolicy {
            max_attempts: 2,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            jitter: true,
        }),
        make: Arc::new(move |_app| {
            Arc::new(Counting {
                calls: calls.clone(),
                fail,
            })
        }),
    }
}

async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `queue`: None = the store's own driver, else (driver, url).
async fn dead_letters_through_the_admin_api(store: Store, queue: Option<(&str, &str)>) {
    let (ok_calls, fail_calls) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let plugins = Plugins {
        effects: Default::default(),
        jobs: vec![
            kind("test.ok", &ok_calls, false),
            kind("test.fail", &fail_calls, true),
        ],
        ..Default::default()
    };
    if let Some((driver, url)) = queue {
        if !reachable(url).await {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but the {driver} broker at {url} is unreachable");
            }
            eprintln!("SKIPPED: {driver} broker at {url} is unreachable");
            return;
        }
    }
    let Some(s) = TestServer::start_with_plugins(store, plugins, |c| {
        c.queue.poll_interval_ms = 200;
        if let Some((driver, url)) = queue {
            c.queue.driver = driver.into();
            c.queue.url = url.into();
        }
    })
    .await
    else {
        return;
    };
    let app = s.create_app().await;
    let ctx = s.platform().app(&app.name).await.expect("app context");
    let base = format!("/api/{}/_admin/queue", app.name);
    let tok = Some(app.token.as_str());

    let r = s.get(&base, tok).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let want = match (queue, store) {
        (Some((driver, _)), _) => driver,
        (None, Store::Sqlite) => "sqlite",
        (None, Store::Postgres) => "postgres",
    };
    assert_eq!(
        (r.data()["driver"].as_str(), r.data()["durable"].as_bool()),
        (Some(want), Some(true))
    );
    assert_eq!(s.get(&base, None).await.status, 401, "the queue is admin-only");

    ctx.queue
        .enqueue(NewJob::new("test.ok", json!({"n": 1})))
        .await
        .expect("enqueue");
    for i in 0..3 {
        ctx.queue
            .enqueue(NewJob::new("test.fail", json!({"order": i})))
            .await
            .expect("enqueue");
    }
    until("the ok job to run", async || ok_calls.load(Ordering::SeqCst) >= 1).await;
    until("three dead letters", async || {
        s.get(&format!("{base}/dead"), tok)
            .await
            .data()
            .as_array()
            .map_or(0, Vec::len)
            == 3
    })
    .await;
    assert_eq!(
        fail_calls.load(Ordering::SeqCst),
        6,
        "two attempts each, then dead"
    );

    let r = s.get(&format!("{base}/dead?kind=test.fail&limit=2"), tok).await;
    let dead = r.data().as_array().expect("list").clone();
    assert_eq!(dead.len(), 2, "limit applies");
    for d in &dead {
        assert_eq!(d["kind"], "test.fail");
        assert_eq!(d["attempts"], 2);
        assert_eq!(d["last_error"], "receiver said no");
        assert!(d["payload"]["order"].is_number(), "payload kept: {d}");
        assert!(d["died_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{d}");
    }
    let r = s.get(&base, tok).await;
    let kinds = r.data()["kinds"].as_array().expect("kinds").clone();
    let fail = kinds
        .iter()
        .find(|k| k["kind"] == "test.fail")
        .expect("fail kind");
    assert_eq!(
        (fail["dead"].as_u64(), fail["ready"].as_u64()),
        (Some(3), Some(0))
    );

    for bad in ["limit=0", "limit=501", "limit=x"] {
        let r = s.get(&format!("{base}/dead?{bad}"), tok).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_PAYLOAD"), "{bad}");
    }

    let id = dead[0]["id"].as_str().expect("id").to_string();
    let r = s.delete(&format!("{base}/dead/{id}"), tok).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(s.delete(&format!("{base}/dead/{id}"), tok).await.status, 404);
    assert_eq!(
        s.delete(&format!("{base}/dead/not-a-uuid"), tok).await.status,
        404
    );
    let r = s.post(&format!("{base}/dead/{id}/requeue"), tok, json!({})).await;
    assert_eq!((r.status, r.code()), (404, "NOT_FOUND"));

    // Requeue the other two: they run twice more each and die again.
    let r = s
        .post(&format!("{base}/dead/requeue?kind=test.fail"), tok, json!({}))
        .await;
    assert_eq!(r.data()["requeued"], 2, "{:?}", r.body);
    until("the requeued jobs to run again", async || {
        fail_calls.load(Ordering::SeqCst) >= 10
    })
    .await;
    until("them to be dead again", async || {
        s.get(&format!("{base}/dead"), tok)
            .await
            .data()
            .as_array()
            .map_or(0, Vec::len)
            == 2
    })
    .await;

    let text = s
        .http
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let gauge = format!(
        "rocket_queue_jobs{{app=\"{}\",kind=\"test.fail\",state=\"dead\"}} 2",
        app.name
    );
    assert!(text.contains(&gauge), "missing {gauge}");
    assert!(text.contains("rocket_queue_processed_total"), "processed counter");
    assert!(text.contains("rocket_queue_latency_seconds"), "latency histogram");

    let r = s.delete(&format!("{base}/dead"), tok).await;
    assert_eq!(r.data()["deleted"], 2);
    assert_eq!(s.get(&format!("{base}/dead"), tok).await.data(), &json!([]));
    s.stop().await;
}

async fn reachable(url: &str) -> bool {
    let host = url.rsplit('@').next().unwrap_or(url);
    let host = host.split("://").last().unwrap_or(host);
    let addr = host.split('/').next().unwrap_or(host);
    tokio::net::TcpStream::connect(addr).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dead_letters_through_the_admin_api() {
    dead_letters_through_the_admin_api(Store::Sqlite, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dead_letters_through_the_admin_api() {
    dead_letters_through_the_admin_api(Store::Postgres, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dead_letters_through_the_admin_api() {
    dead_letters_through_the_admin_api(Store::Sqlite, Some(("redis", "redis://127.0.0.1:6379"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_each_dependency() {
    for store in [Store::Sqlite, Store::Postgres] {
        let Some(s) = TestServer::start(store).await else {
            continue;
        };
        let r = s.get("/health/ready", None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["checks"]["management_db"]["status"], "up");
        assert_eq!(r.body["checks"]["queue"]["check"]["status"], "up");
        let want = if store == Store::Sqlite {
            "sqlite"
        } else {
            "postgres"
        };
        assert_eq!(r.body["checks"]["queue"]["driver"], want);
        assert_eq!(s.get("/health/live", None).await.status, 200);
        assert_eq!(s.get("/health", None).await.body, json!({"status": "ok"}));
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_dead_letters_through_the_admin_api() {
    let url = "amqp://guest:guest@127.0.0.1:5672/%2f";
    dead_letters_through_the_admin_api(Store::Sqlite, Some(("rabbitmq", url))).await;
}
