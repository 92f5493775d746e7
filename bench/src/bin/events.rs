//! Event ingestion benchmark (seed 003's load test, scaled to this machine):
//! the release `rocket` binary as a child process per store, batches of
//! `--batch` events posted to `POST /api/:app/_events/batch` from
//! `--concurrency` clients for `--duration` seconds; prints accepted
//! events/s, request p50/p99, how long the buffer took to land everything
//! in `_events` after the load stopped, stored events/s over the whole run,
//! and the uncached stats query's latency over what was stored.
//!
//! Run with `scripts/bench-events` (builds release binaries first).

#[path = "../load.rs"]
#[allow(dead_code)]
mod load;
#[path = "../server.rs"]
#[allow(dead_code)]
mod server;

use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

use load::{run_phase, Limit, Req};
use server::{Child, Store};

#[derive(Parser, Clone)]
struct Args {
    /// sqlite, postgres or all
    #[arg(long, default_value = "all")]
    store: String,
    #[arg(long, default_value_t = 30)]
    duration: u64,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

async fn login(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<String> {
    let v: Value = http.post(url).json(&body).send().await?.json().await?;
    Ok(v["data"]["access_token"].as_str().unwrap_or_default().to_string())
}

async fn stored(http: &reqwest::Client, base: &str, app: &str, t: &str) -> anyhow::Result<u64> {
    let v: Value = http
        .get(format!("{base}/api/{app}/_events?event_type=business&per_page=1"))
        .bearer_auth(t)
        .send()
        .await?
        .json()
        .await?;
    Ok(v["pagination"]["total"].as_u64().unwrap_or(0))
}

async fn bench_store(child: &Child, args: &Args) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let base = child.url.clone();
    let platform = login(
        &http,
        &format!("{base}/api/_platform/auth/login"),
        json!({"email": "platform@localhost", "password": "changeme"}),
    )
    .await?;
    let app = format!("ev{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let r = http
        .post(format!("{base}/api/_platform/apps"))
        .bearer_auth(&platform)
        .json(&json!({"name": app, "db_driver": child.store.name()}))
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "create app: {}", r.text().await?);
    let t = login(
        &http,
        &format!("{base}/api/{app}/auth/login"),
        json!({"email": "admin@localhost", "password": "changeme"}),
    )
    .await?;
    let batch: Vec<Value> = (0..args.batch)
        .map(|i| {
            json!({"action": format!("page.view.{}", i % 20), "entity": "page", "record_id": i.to_string(),
                   "metadata": {"path": format!("/p/{}", i % 500), "ms": i % 97}})
        })
        .collect();
    let body = bytes::Bytes::from(serde_json::to_vec(&batch)?);
    let url = format!("{base}/api/{app}/_events/batch");
    let name = child.store.name();
    println!(
        "[{name}] {} s of batches of {} events from {} clients ...",
        args.duration, args.batch, args.concurrency
    );
    let started = Instant::now();
    let r = run_phase(
        &http,
        &t,
        "ingest",
        args.concurrency,
        Limit::Time(Duration::from_secs(args.duration)),
        move |_| Req::PostRaw(url.clone(), body.clone()),
    )
    .await;
    let load_end = Instant::now();
    let accepted = ((r.rps * args.duration as f64).round() as u64 - r.errors as u64) * args.batch as u64;
    let mut rows = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        rows = stored(&http, &base, &app, &t).await?;
        if rows >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = load_end.elapsed();
    let total = started.elapsed().as_secs_f64();
    let mut stats_ms = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let s = http
            .get(format!("{base}/api/{app}/_events/stats"))
            .bearer_auth(&t)
            .send()
            .await?;
        anyhow::ensure!(s.status().is_success(), "stats: {}", s.status());
        let _ = s.bytes().await?;
        stats_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    stats_ms.sort_by(f64::total_cmp);
    println!(
        "{name}: accepted {:.0} events/s ({:.0} req/s of {} events, {} of them refused with 503 while the buffer was full), request p50 {:.2} ms p99 {:.2} ms",
        accepted as f64 / args.duration as f64,
        r.rps,
        args.batch,
        r.errors,
        r.p50_ms,
        r.p99_ms
    );
    println!(
        "{name}: {rows} of ~{accepted} stored; the last landed {:.2} s after the load stopped; {:.0} stored events/s over the run",
        drained.as_secs_f64(),
        rows as f64 / total
    );
    println!(
        "{name}: stats over {rows} events (uncached, raw rows): median {:.1} ms",
        stats_ms[stats_ms.len() / 2]
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stores = Store::parse_list(&args.store);
    println!(
        "rocket-events-bench: {} cores (server and load share them)",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    let env = [
        ("ROCKET_INSTRUMENTATION_SAMPLING_RATE", "0".to_string()),
        ("ROCKET_INSTRUMENTATION_BUFFER_SIZE", "5000".to_string()),
        ("RUST_LOG", "error".to_string()),
    ];
    for store in stores {
        let child = Child::start_with(store, &env).await?;
        let r = bench_store(&child, &args).await;
        child.stop().await;
        r?;
    }
    Ok(())
}
