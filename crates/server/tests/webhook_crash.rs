//! No webhook delivery is lost to a crash or a cut connection, against the
//! real binary. A load of creates runs with an `after_write` webhook whose
//! receiver answers 503 (so deliveries sit in the outbox, the queue and the
//! retry schedule); the server is killed with SIGKILL mid-load and started
//! again; the receiver turns healthy; then every record the database holds
//! must have reached the receiver, and no delivery may exist for a record
//! the database does not hold. Once per durable queue driver: sqlite,
//! postgres, redis, rabbitmq. A second test cuts the receiver's connections
//! mid-load through a TCP proxy and counts the same way.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use reqwest::Method;
use serde_json::{json, Value};

mod support;
use support::{drop_db, pg_admin, pg_env, unique, unreachable, Rocket};

#[allow(dead_code)]
#[path = "../../queue/tests/support/proxy.rs"]
mod proxy;

/// What the receiver saw: idempotency keys per record id.
#[derive(Default)]
struct Seen {
    keys: Mutex<HashMap<String, HashSet<String>>>,
    hits: AtomicUsize,
    healthy: AtomicBool,
}

async fn receive(State(seen): State<Arc<Seen>>, body: axum::body::Bytes) -> Response {
    seen.hits.fetch_add(1, Ordering::Relaxed);
    if !seen.healthy.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "later").into_response();
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = v["record"]["id"].as_str().unwrap_or_default().to_string();
    let key = v["idempotency_key"].as_str().unwrap_or_default().to_string();
    seen.keys.lock().expect("lock").entry(id).or_default().insert(key);
    "ok".into_response()
}

async fn receiver(healthy: bool) -> (Arc<Seen>, String) {
    let seen = Arc::new(Seen::default());
    seen.healthy.store(healthy, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(seen.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let addr = l.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(l, app).await });
    (seen, addr)
}

/// Where the app's data and jobs live.
struct Setup {
    env: Vec<(&'static str, String)>,
    db_driver: &'static str,
    /// Databases to drop at the end (PostgreSQL runs).
    pg: Option<(tokio_postgres::Client, String)>,
}

async fn reachable(service: &str, addr: &str) -> bool {
    let ok = tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
        .await
        .is_ok_and(|r| r.is_ok());
    ok || unreachable::<()>(service, addr).is_some()
}

async fn setup(driver: &str) -> Option<Setup> {
    let mut env = vec![
        ("ROCKET_WEBHOOKS_RETRY_BASE_SECS", "0.2".to_string()),
        ("ROCKET_WEBHOOKS_BREAKER_COOLDOWN_SECS", "0.5".to_string()),
        ("ROCKET_WEBHOOKS_LOG_FLUSH_MS", "50".to_string()),
        ("ROCKET_QUEUE_POLL_INTERVAL_MS", "100".to_string()),
        // A delivery the killed process held comes back after the attempt
        // timeout + 10 s (rabbitmq: at once, the connection closed).
        ("ROCKET_WEBHOOKS_TIMEOUT_SECS", "2".to_string()),
        ("ROCKET_QUEUE_VISIBILITY_TIMEOUT_SECS", "3".to_string()),
        ("ROCKET_QUEUE_DRIVER", driver.to_string()),
        ("ROCKET_METRICS_TOKEN", "scrape".to_string()),
    ];
    let mut s = Setup {
        env: Vec::new(),
        db_driver: "sqlite",
        pg: None,
    };
    match driver {
        "postgres" => {
            let pg = pg_admin().await?;
            let mgmt = unique("rocket_wc");
            env.extend(pg_env(&mgmt));
            s.db_driver = "postgres";
            s.pg = Some((pg, mgmt));
        }
        "redis" => {
            let url =
                std::env::var("ROCKET_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
            if !reachable("Redis", "127.0.0.1:6379").await {
                return None;
            }
            env.push(("ROCKET_QUEUE_URL", url));
        }
        "rabbitmq" => {
            let url = std::env::var("ROCKET_TEST_AMQP_URL")
                .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
            if !reachable("RabbitMQ", "127.0.0.1:5672").await {
                return None;
            }
            env.push(("ROCKET_QUEUE_URL", url));
        }
        _ => {}
    }
    s.env = env;
    Some(s)
}

impl Setup {
    async fn cleanup(self, app: &str) {
        if let Some((pg, mgmt)) = self.pg {
            drop_db(&pg, &format!("rocket_{app}")).await;
            drop_db(&pg, &mgmt).await;
        }
    }
}

/// An app with an `order` entity and an `after_write` webhook to `target`.
async fn order_app(srv: &Rocket, db_driver: &str, target: &str) -> (String, String) {
    let platform = srv.token().await;
    let name = unique("wc");
    let (status, body) = srv
        .call(
            Method::POST,
            "/api/_platform/apps",
            Some(&platform),
            Some(json!({"name": name, "db_driver": db_driver})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let t = srv.app_token(&name).await;
    let base = format!("/api/{name}/_admin");
    let entity = json!({"name": "order", "table": "orders",
        "primary_key": {"field": "id", "type": "uuid", "generated": true},
        "fields": [{"name": "id", "type": "uuid"}, {"name": "n", "type": "int"}]});
    let (status, body) = srv
        .call(Method::POST, &format!("{base}/entities"), Some(&t), Some(entity))
        .await;
    assert_eq!(status, 201, "{body}");
    let hook = json!({"entity": "order", "hook": "after_write", "url": format!("http://{target}/hook"),
        "retry": {"max_attempts": 100, "backoff": "linear"}});
    let (status, body) = srv
        .call(Method::POST, &format!("{base}/webhooks"), Some(&t), Some(hook))
        .await;
    assert_eq!(status, 201, "{body}");
    (name, t)
}

/// Creates from `workers` clients until `stop`; counts the 201s and any
/// other answer (there must be none).
fn load(srv: &Rocket, app: &str, token: &str, workers: usize, stop: Arc<AtomicBool>) -> Load {
    let (done, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for w in 0..workers {
        let (http, url) = (srv.http.clone(), format!("{}/api/{app}/order", srv.url));
        let (t, stop, done, bad) = (token.to_string(), stop.clone(), done.clone(), bad.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let r = http
                    .post(&url)
                    .bearer_auth(&t)
                    .json(&json!({"n": w * 1_000_000 + i}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => {
                        eprintln!("create answered {}", r.status());
                        bad.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => return, // the server is gone
                }
            }
        });
    }
    Load { done, bad }
}

struct Load {
    done: Arc<AtomicUsize>,
    bad: Arc<AtomicUsize>,
}

/// Every record id the database holds.
async fn stored_ids(srv: &Rocket, app: &str, t: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    for page in 1.. {
        let path = format!("/api/{app}/order?sort=id&per_page=100&page={page}");
        let (status, body) = srv.call(Method::GET, &path, Some(t), None).await;
        assert_eq!(status, 200, "{body}");
        let rows = body["data"].as_array().cloned().unwrap_or_default();
        ids.extend(rows.iter().filter_map(|r| r["id"].as_str().map(String::from)));
        if rows.len() < 100 {
            break;
        }
    }
    ids
}

/// Waits until every stored record reached the receiver; then checks that
/// nothing else did and each record got one idempotency key.
async fn all_delivered(seen: &Seen, stored: &HashSet<String>, what: &str) {
    let started = Instant::now();
    let end = started + Duration::from_secs(120);
    loop {
        let missing = {
            let keys = seen.keys.lock().expect("lock");
            stored.iter().filter(|id| !keys.contains_key(*id)).count()
        };
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < end,
            "{what}: {missing} of {} deliveries lost",
            stored.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{what}: the last delivery arrived {:?} after the check began",
        started.elapsed()
    );
    let keys = seen.keys.lock().expect("lock");
    let phantom: Vec<&String> = keys.keys().filter(|id| !stored.contains(*id)).collect();
    assert!(
        phantom.is_empty(),
        "{what}: deliveries for records never stored: {phantom:?}"
    );
    let split: Vec<_> = keys.iter().filter(|(_, k)| k.len() != 1).collect();
    assert!(
        split.is_empty(),
        "{what}: a record with several idempotency keys: {split:?}"
    );
}

async fn killed_mid_load_loses_no_delivery(driver: &str) {
    let Some(setup) = setup(driver).await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let (seen, target) = receiver(false).await;
    let srv = Rocket::start(dir.path(), &setup.env).await;
    let (app, t) = order_app(&srv, setup.db_driver, &target).await;

    let stop = Arc::new(AtomicBool::new(false));
    let l = load(&srv, &app, &t, 8, stop.clone());
    wait_count(&l.done, 2000).await;
    let failing_attempts = seen.hits.load(Ordering::SeqCst);
    srv.kill9().await; // creates still in flight
    stop.store(true, Ordering::SeqCst);
    let acked = l.done.load(Ordering::SeqCst);
    assert_eq!(
        l.bad.load(Ordering::SeqCst),
        0,
        "{driver}: creates refused before the kill"
    );
    assert!(
        failing_attempts > 0,
        "{driver}: no attempt reached the receiver before the kill"
    );

    seen.healthy.store(true, Ordering::SeqCst);
    let srv = Rocket::start(dir.path(), &setup.env).await;
    let t = srv.app_token(&app).await;
    let stored = stored_ids(&srv, &app, &t).await;
    assert!(
        stored.len() >= acked,
        "{driver}: {acked} acknowledged, {} stored",
        stored.len()
    );
    all_delivered(&seen, &stored, driver).await;
    eprintln!(
        "{driver}: {acked} creates acknowledged before SIGKILL, {} stored, all delivered, 0 lost ({} receiver hits)",
        stored.len(),
        seen.hits.load(Ordering::SeqCst)
    );
    srv.kill9().await;
    setup.cleanup(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_queue_killed_mid_load() {
    killed_mid_load_loses_no_delivery("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_queue_killed_mid_load() {
    killed_mid_load_loses_no_delivery("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_queue_killed_mid_load() {
    killed_mid_load_loses_no_delivery("redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_queue_killed_mid_load() {
    killed_mid_load_loses_no_delivery("rabbitmq").await;
}

/// The receiver's connections are cut (and refused) for 1.5 s mid-load:
/// attempts fail, the breaker opens, and every delivery still arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_receiver_connection_loses_no_delivery() {
    let Some(setup) = setup("sqlite").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (seen, target) = receiver(true).await;
    let cut = proxy::Proxy::start(&target).await;
    let srv = Rocket::start(dir.path(), &setup.env).await;
    let (app, t) = order_app(&srv, setup.db_driver, &cut.addr.to_string()).await;

    let stop = Arc::new(AtomicBool::new(false));
    let l = load(&srv, &app, &t, 8, stop.clone());
    wait_count(&l.done, 200).await;
    cut.cut();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cut.restore();
    wait_count(&l.done, 400).await;
    stop.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await; // in-flight creates answer
    assert_eq!(l.bad.load(Ordering::SeqCst), 0, "creates refused");

    let stored = stored_ids(&srv, &app, &t).await;
    all_delivered(&seen, &stored, "cut connection").await;
    let failed = metric(&srv, "rocket_webhook_attempts_total{result=\"failed\"}").await;
    assert!(failed > 0.0, "the cut made no attempt fail: it did not cut");
    eprintln!(
        "cut connection: {} stored, all delivered, 0 lost ({} receiver hits, {failed} failed attempts)",
        stored.len(),
        seen.hits.load(Ordering::SeqCst)
    );
    srv.kill9().await;
    setup.cleanup(&app).await;
}

/// The value of the `/metrics` sample named `series` (labels included).
async fn metric(srv: &Rocket, series: &str) -> f64 {
    let text = srv
        .http
        .get(format!("{}/metrics", srv.url))
        .bearer_auth("scrape")
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

async fn wait_count(n: &AtomicUsize, at_least: usize) {
    let end = Instant::now() + Duration::from_secs(60);
    while n.load(Ordering::SeqCst) < at_least {
        assert!(
            Instant::now() < end,
            "only {} creates within 60 s",
            n.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
