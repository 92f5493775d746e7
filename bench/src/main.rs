//! Load benchmark: starts the release `rocket` binary as a child process on
//! each store, seeds rows over HTTP, then drives fixed-duration phases at a
//! fixed concurrency and prints throughput and latency percentiles.
//!
//! Run with `scripts/bench` (builds release binaries first).

mod load;
mod server;

use std::time::Duration;

use clap::Parser;
use serde_json::json;

use crate::load::{run_phase, Report};
use crate::server::{Child, Store};

#[derive(Parser, Clone)]
struct Args {
    /// sqlite, postgres or all
    #[arg(long, default_value = "all")]
    store: String,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Rows seeded before the read phases.
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// Comma-separated phases: get,list,filter,create,nested,download
    #[arg(long, default_value = "get,list,filter,create,nested,download")]
    phases: String,
}

const ORDER: &str = r#"{"name": "order", "table": "orders",
  "primary_key": {"field": "id", "type": "uuid", "generated": true},
  "fields": [{"name": "id", "type": "uuid"}, {"name": "title", "type": "string", "required": true}]}"#;
const LINE: &str = r#"{"name": "line", "table": "lines",
  "primary_key": {"field": "id", "type": "uuid", "generated": true},
  "fields": [{"name": "id", "type": "uuid"}, {"name": "order_id", "type": "uuid", "required": true},
             {"name": "sku", "type": "string", "required": true}, {"name": "qty", "type": "int"}]}"#;
const LINES: &str = r#"{"name": "lines", "type": "one_to_many", "source": "order", "target": "line",
  "target_key": "order_id", "on_delete": "cascade"}"#;

const ENTITY: &str = r#"{"name": "item", "table": "items",
  "primary_key": {"field": "id", "type": "uuid", "generated": true},
  "fields": [
    {"name": "id", "type": "uuid", "required": true},
    {"name": "name", "type": "string", "required": true},
    {"name": "category", "type": "string", "indexed": true},
    {"name": "price", "type": "decimal", "precision": 2},
    {"name": "qty", "type": "int"},
    {"name": "active", "type": "boolean", "default": true},
    {"name": "created_at", "type": "timestamp", "auto": "create"}]}"#;

fn item(i: usize) -> serde_json::Value {
    json!({"name": format!("item {i}"), "category": format!("c{}", i % 20),
           "price": (i % 1000) as f64 / 4.0, "qty": (i % 97) as i64})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stores = Store::parse_list(&args.store);
    println!(
        "rocket-bench: {} rows, {} connections, {} s per phase, {} cores",
        args.rows,
        args.concurrency,
        args.duration,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    let mut reports: Vec<(Store, Report)> = Vec::new();
    for store in stores {
        let child = Child::start(store).await?;
        let result = bench_store(&child, &args).await;
        child.stop().await;
        for r in result? {
            reports.push((store, r));
        }
    }
    println!();
    println!(
        "{:<10} {:<22} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "store", "phase", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for (store, r) in &reports {
        println!(
            "{:<10} {:<22} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>8}",
            store.name(),
            r.name,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.errors
        );
    }
    Ok(())
}

/// Uploads `size` bytes and returns the download URL.
async fn upload_file(
    http: &reqwest::Client,
    base: &str,
    app: &str,
    token: &str,
    size: usize,
) -> anyhow::Result<String> {
    let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let part = reqwest::multipart::Part::bytes(bytes).file_name("bench.bin");
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = http
        .post(format!("{base}/api/{app}/_files/upload"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "upload: {}", r.text().await?);
    let v: serde_json::Value = r.json().await?;
    Ok(format!("{base}{}", v["data"]["url"].as_str().unwrap_or_default()))
}

async fn bench_store(child: &Child, args: &Args) -> anyhow::Result<Vec<Report>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let base = child.url.clone();
    let login = http
        .post(format!("{base}/api/_platform/auth/login"))
        .json(&json!({"email": "platform@localhost", "password": "changeme"}))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    let token = login["data"]["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let app = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let r = http
        .post(format!("{base}/api/_platform/apps"))
        .bearer_auth(&token)
        .json(&json!({"name": app, "db_driver": child.store.name()}))
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "create app: {}", r.text().await?);
    let r = http
        .post(format!("{base}/api/{app}/_admin/entities"))
        .bearer_auth(&token)
        .body(ENTITY)
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "create entity: {}", r.text().await?);
    for (path, body) in [("entities", ORDER), ("entities", LINE), ("relations", LINES)] {
        let r = http
            .post(format!("{base}/api/{app}/_admin/{path}"))
            .bearer_auth(&token)
            .body(body)
            .send()
            .await?;
        anyhow::ensure!(r.status().as_u16() == 201, "create {path}: {}", r.text().await?);
    }
    let orders = std::sync::Arc::new(format!("{base}/api/{app}/order"));
    let api = std::sync::Arc::new(format!("{base}/api/{app}/item"));

    // Seed over HTTP (this is also a create-throughput measurement).
    print!("[{}] seeding {} rows ... ", child.store.name(), args.rows);
    let a = api.clone();
    let seed = run_phase(
        &http,
        &token,
        "seed (create)",
        args.concurrency,
        load::Limit::Count(args.rows),
        move |i| load::Req::Post(a.to_string(), item(i)),
    )
    .await;
    println!("{:.0} req/s", seed.rps);
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        let mut page = 1;
        loop {
            let v: serde_json::Value = http
                .get(format!("{api}?per_page=100&page={page}"))
                .bearer_auth(&token)
                .send()
                .await?
                .json()
                .await?;
            let rows = v["data"].as_array().cloned().unwrap_or_default();
            if rows.is_empty() || ids.len() >= 2000 {
                break;
            }
            ids.extend(rows.iter().filter_map(|r| r["id"].as_str().map(String::from)));
            page += 1;
        }
        ids
    };
    anyhow::ensure!(!ids.is_empty(), "no rows seeded");
    let ids = std::sync::Arc::new(ids);

    let dur = load::Limit::Time(Duration::from_secs(args.duration));
    let mut out = vec![seed];
    for phase in args.phases.split(',') {
        let (api, ids) = (api.clone(), ids.clone());
        let r = match phase.trim() {
            "get" => {
                run_phase(&http, &token, "get by id", args.concurrency, dur, move |i| {
                    load::Req::Get(format!("{api}/{}", ids[i.wrapping_mul(7919) % ids.len()]))
                })
                .await
            }
            "list" => {
                run_phase(&http, &token, "list 25", args.concurrency, dur, move |i| {
                    load::Req::Get(format!("{api}?page={}&per_page=25", 1 + i % 40))
                })
                .await
            }
            "filter" => {
                run_phase(&http, &token, "filter+sort 25", args.concurrency, dur, move |i| {
                    load::Req::Get(format!(
                        "{api}?filter%5Bcategory%5D=c{}&filter%5Bqty.gte%5D=10&sort=-price,name&per_page=25",
                        i % 20
                    ))
                })
                .await
            }
            "create" => {
                run_phase(&http, &token, "create", args.concurrency, dur, move |i| {
                    load::Req::Post(api.to_string(), item(i + 1_000_000))
                })
                .await
            }
            "nested" => {
                let orders = orders.clone();
                run_phase(
                    &http,
                    &token,
                    "nested create (1+10)",
                    args.concurrency,
                    dur,
                    move |i| {
                        let lines: Vec<serde_json::Value> = (0..10)
                            .map(|n| json!({"sku": format!("s{i}-{n}"), "qty": n}))
                            .collect();
                        load::Req::Post(
                            orders.to_string(),
                            json!({"title": format!("o{i}"), "lines": {"data": lines}}),
                        )
                    },
                )
                .await
            }
            "download" => {
                let file = upload_file(&http, &base, &app, &token, 10 * 1024 * 1024).await?;
                run_phase(&http, &token, "download 10 MB x100", 100, dur, move |_| {
                    load::Req::Get(file.clone())
                })
                .await
            }
            other => anyhow::bail!("unknown phase {other}"),
        };
        println!(
            "[{}] {:<20} {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}{}",
            child.store.name(),
            r.name,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            if r.bytes_per_sec > 1e6 {
                format!(
                    "  {:.0} MB/s  server peak RSS {} MiB",
                    r.bytes_per_sec / 1e6,
                    child.peak_rss_kb().map_or("?".into(), |k| (k / 1024).to_string())
                )
            } else {
                String::new()
            }
        );
        out.push(r);
    }
    Ok(out)
}
