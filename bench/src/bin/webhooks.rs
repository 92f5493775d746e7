//! Webhook benchmark: the release `rocket` binary as a child process, a
//! receiver inside this process, and four measurements per store:
//!
//! - create throughput without and with an `after_write` webhook (the cost
//!   of the outbox enqueue on the write path; target >= 0.9x);
//! - delivery throughput: an entity with `--fanout` webhooks, so each create
//!   asks for that many deliveries, timed from the first to the last arrival;
//! - write-to-delivery latency: arrival time minus the payload's `timestamp`
//!   (taken inside the write, so it includes the commit), p50/p99;
//! - fail-fast: creates through a `before_write` webhook whose receiver
//!   hangs, once its circuit is open (no network call; target < 1 ms over a
//!   plain create's cost).
//!
//! Run with `scripts/bench-webhooks` (builds release binaries first).

#[path = "../load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../server.rs"]
#[allow(dead_code)]
mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use load::{run_phase, Limit, Report, Req};
use server::{Child, Store};

#[derive(Parser, Clone)]
struct Args {
    /// sqlite, postgres or all
    #[arg(long, default_value = "all")]
    store: String,
    /// Seconds per create phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Webhooks on the fan-out entity (deliveries per create).
    #[arg(long, default_value_t = 10)]
    fanout: usize,
}

/// What the receiver counts.
struct Seen {
    n: AtomicUsize,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
    lag_us: Mutex<Histogram<u64>>,
}

impl Seen {
    fn new() -> anyhow::Result<Seen> {
        Ok(Seen {
            n: AtomicUsize::new(0),
            first: Mutex::new(None),
            last: Mutex::new(None),
            lag_us: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
        })
    }

    fn reset(&self) {
        self.n.store(0, Ordering::SeqCst);
        *self.first.lock().expect("lock") = None;
        *self.last.lock().expect("lock") = None;
        self.lag_us.lock().expect("lock").reset();
    }
}

async fn receive(State(seen): State<Arc<Seen>>, body: axum::body::Bytes) -> &'static str {
    let now = Instant::now();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(ts) = v["timestamp"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    {
        let lag = chrono::Utc::now().signed_duration_since(ts);
        let _ = seen
            .lag_us
            .lock()
            .expect("lock")
            .record(lag.num_microseconds().unwrap_or(0).max(1) as u64);
    }
    seen.first.lock().expect("lock").get_or_insert(now);
    *seen.last.lock().expect("lock") = Some(now);
    seen.n.fetch_add(1, Ordering::SeqCst);
    "ok"
}

/// Never answers: the sync webhook's attempts time out and open the circuit.
async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "late"
}

async fn receiver(seen: Arc<Seen>) -> anyhow::Result<String> {
    let app = Router::new()
        .route("/ok", post(receive))
        .route("/hang", post(hang))
        .with_state(seen);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", l.local_addr()?);
    tokio::spawn(async move { axum::serve(l, app).await });
    Ok(url)
}

fn entity(name: &str) -> Value {
    json!({"name": name, "table": format!("{name}s"),
        "primary_key": {"field": "id", "type": "uuid", "generated": true},
        "fields": [{"name": "id", "type": "uuid"}, {"name": "title", "type": "string", "required": true},
                   {"name": "n", "type": "int"}]})
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status == 201, "POST {path}: {status} {v}");
        Ok(v)
    }

    async fn creates(&self, app: &str, entity: &str, name: &str, concurrency: usize, secs: u64) -> Report {
        let url = Arc::new(format!("{}/api/{app}/{entity}", self.base));
        run_phase(
            &self.http,
            &self.token,
            name,
            concurrency,
            Limit::Time(Duration::from_secs(secs)),
            move |i| Req::Post(url.to_string(), json!({"title": format!("t{i}"), "n": i})),
        )
        .await
    }
}

async fn wait_for(seen: &Seen, n: usize, max: Duration) -> bool {
    let end = Instant::now() + max;
    while seen.n.load(Ordering::SeqCst) < n {
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

struct Numbers {
    plain: Report,
    hooked: Report,
    fan: Report,
    delivered: usize,
    expected: usize,
    deliveries_per_s: f64,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
    hooked_lag_p50_ms: f64,
    hooked_lag_p99_ms: f64,
    open: Report,
}

async fn bench_store(child: &Child, args: &Args, seen: Arc<Seen>, target: &str) -> anyhow::Result<Numbers> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let base = child.url.clone();
    let login: Value = http
        .post(format!("{base}/api/_platform/auth/login"))
        .json(&json!({"email": "platform@localhost", "password": "changeme"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut api = Api { http, base, token };
    let app = format!("wh{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    api.post(
        "/api/_platform/apps",
        json!({"name": app, "db_driver": child.store.name()}),
    )
    .await?;
    let login: Value = api
        .http
        .post(format!("{}/api/{app}/auth/login", api.base))
        .json(&json!({"email": "admin@localhost", "password": "changeme"}))
        .send()
        .await?
        .json()
        .await?;
    api.token = login["data"]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let admin = format!("/api/{app}/_admin");
    for e in ["plain", "hooked", "fan", "guarded"] {
        api.post(&format!("{admin}/entities"), entity(e)).await?;
    }
    let hook = |e: &str, h: &str, url: String| json!({"entity": e, "hook": h, "url": url});
    api.post(
        &format!("{admin}/webhooks"),
        hook("hooked", "after_write", format!("{target}/ok")),
    )
    .await?;
    for _ in 0..args.fanout {
        api.post(
            &format!("{admin}/webhooks"),
            hook("fan", "after_write", format!("{target}/ok")),
        )
        .await?;
    }
    let mut sync = hook("guarded", "before_write", format!("{target}/hang"));
    sync["async"] = json!(false);
    api.post(&format!("{admin}/webhooks"), sync).await?;
    let name = child.store.name();
    let (c, d) = (args.concurrency, args.duration);

    println!("[{name}] creates without a webhook ...");
    let plain = api.creates(&app, "plain", "create (no webhook)", c, d).await;
    seen.reset();
    println!("[{name}] creates with an after_write webhook ...");
    let hooked = api.creates(&app, "hooked", "create (after_write)", c, d).await;
    let want = hooked.rps as usize * d as usize;
    wait_for(&seen, want.saturating_sub(want / 20), Duration::from_secs(60)).await;
    let (hooked_lag_p50_ms, hooked_lag_p99_ms) = {
        let h = seen.lag_us.lock().expect("lock");
        (
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
        )
    };
    tokio::time::sleep(Duration::from_secs(2)).await;

    seen.reset();
    println!(
        "[{name}] creates with {} after_write webhooks, then the drain ...",
        args.fanout
    );
    let fan = api.creates(&app, "fan", "create (fan-out)", c, d).await;
    let expected = (fan.rps * d as f64).round() as usize * args.fanout;
    wait_for(&seen, expected, Duration::from_secs(300)).await;
    let delivered = seen.n.load(Ordering::SeqCst);
    let span = match (
        *seen.first.lock().expect("lock"),
        *seen.last.lock().expect("lock"),
    ) {
        (Some(a), Some(b)) => (b - a).as_secs_f64().max(1e-3),
        _ => 1.0,
    };
    let (lag_p50_ms, lag_p99_ms) = {
        let h = seen.lag_us.lock().expect("lock");
        (
            h.value_at_quantile(0.5) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
        )
    };

    println!("[{name}] opening the circuit of a hanging before_write receiver ...");
    for i in 0..8 {
        let _ = api
            .http
            .post(format!("{}/api/{app}/guarded", api.base))
            .bearer_auth(&api.token)
            .json(&json!({"title": format!("o{i}")}))
            .send()
            .await;
    }
    let open = api
        .creates(&app, "guarded", "create (circuit open, 502)", c, d.min(5))
        .await;
    Ok(Numbers {
        plain,
        hooked,
        fan,
        delivered,
        expected,
        deliveries_per_s: delivered as f64 / span,
        lag_p50_ms,
        lag_p99_ms,
        hooked_lag_p50_ms,
        hooked_lag_p99_ms,
        open,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stores = Store::parse_list(&args.store);
    println!(
        "rocket-webhook-bench: {} connections, {} s per phase, fan-out {}, {} cores (server, receiver and load share them)",
        args.concurrency,
        args.duration,
        args.fanout,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    let seen = Arc::new(Seen::new()?);
    let target = receiver(seen.clone()).await?;
    let env = [
        // The hanging receiver costs 1 s per attempt until its circuit opens.
        ("ROCKET_WEBHOOKS_TIMEOUT_SECS", "1".to_string()),
        ("ROCKET_WEBHOOKS_BREAKER_COOLDOWN_SECS", "600".to_string()),
        ("RUST_LOG", "error".to_string()),
    ];
    let mut results = Vec::new();
    for store in stores {
        let child = Child::start_with(store, &env).await?;
        let r = bench_store(&child, &args, seen.clone(), &target).await;
        child.stop().await;
        results.push((store, r?));
    }
    println!();
    println!(
        "{:<9} {:<28} {:>9} {:>9} {:>9} {:>8}",
        "store", "phase", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (store, n) in &results {
        for r in [&n.plain, &n.hooked, &n.fan, &n.open] {
            println!(
                "{:<9} {:<28} {:>9.0} {:>9.2} {:>9.2} {:>8}",
                store.name(),
                r.name,
                r.rps,
                r.p50_ms,
                r.p99_ms,
                r.errors
            );
        }
    }
    println!();
    for (store, n) in &results {
        let s = store.name();
        println!(
            "{s}: create with a webhook = {:.2}x of without; write-to-delivery p50 {:.1} ms, p99 {:.1} ms",
            n.hooked.rps / n.plain.rps.max(1.0),
            n.hooked_lag_p50_ms,
            n.hooked_lag_p99_ms
        );
        println!(
            "{s}: fan-out: {} of {} deliveries, {:.0} deliveries/s first to last arrival; write-to-delivery p50 {:.1} ms, p99 {:.1} ms",
            n.delivered, n.expected, n.deliveries_per_s, n.lag_p50_ms, n.lag_p99_ms
        );
        println!(
            "{s}: circuit open: p50 {:.2} ms vs a plain create's {:.2} ms ({:+.2} ms); {} of ~{:.0} answers refused",
            n.open.p50_ms,
            n.plain.p50_ms,
            n.open.p50_ms - n.plain.p50_ms,
            n.open.errors,
            n.open.rps * args.duration.min(5) as f64
        );
    }
    Ok(())
}
