//! End-to-end throughput and latency of the redis driver: enqueue 50,000
//! jobs while a `Workers` pool (concurrency 64) runs and acks them.
//!
//!   cargo run --release -p rocket-queue --example redis_bench
//!
//! Three runs: unbatched (16 tasks enqueue one job per call), batched
//! (batches of 100 from 4 tasks), both as fast as they can, and paced (one
//! producer, a job about every 2 ms: idle wake-up latency). Prints jobs/s
//! (first enqueue to last handler start) and p50/p99 enqueue-to-start
//! latency. In the unpaced runs producers outrun the consumer, so latency
//! there is mostly time spent in the backlog. Set
//! ROCKET_BENCH_REDIS_URL to point elsewhere; ROCKET_BENCH_JOBS to change N.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hdrhistogram::Histogram;
use rocket_queue::{Driver, Handler, Job, KindOptions, NewJob, Policies, Queue, RedisBroker, Workers};
use rocket_store::migrations::{self, Schema};
use rocket_store::{Db, SqliteDb, SqliteSettings};
use serde_json::json;
use tokio::sync::Notify;

fn now_us() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0)
}

struct Measure {
    started: AtomicUsize,
    want: usize,
    latency: Mutex<Histogram<u64>>,
    done: Notify,
}

#[async_trait]
impl Handler for Measure {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        let t = job.payload["t"].as_u64().unwrap_or(0);
        let lat = now_us().saturating_sub(t).max(1);
        if let Ok(mut h) = self.latency.lock() {
            let _ = h.record(lat);
        }
        if self.started.fetch_add(1, Ordering::SeqCst) + 1 == self.want {
            self.done.notify_one();
        }
        Ok(())
    }
}

async fn app_db(dir: &std::path::Path) -> Db {
    let db = Db::Sqlite(
        SqliteDb::open(SqliteSettings {
            path: dir.join("app.db"),
            readers: 2,
            busy_timeout: Duration::from_secs(5),
            checkout_timeout: Duration::from_secs(5),
        })
        .expect("open sqlite"),
    );
    migrations::apply(&db, Schema::App).await.expect("migrate");
    db
}

async fn delete_keys(url: &str, prefix: &str) {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("scan");
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("del");
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

async fn run(
    broker: &RedisBroker,
    url: &str,
    n: usize,
    batch: usize,
    producers: usize,
    pace: Option<Duration>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = app_db(dir.path()).await;
    let app = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let driver = broker.open(&app, db);
    let queue = Queue::new(&app, driver.clone(), Arc::new(Policies::default()));
    let kind = "bench";
    let m = Arc::new(Measure {
        started: AtomicUsize::new(0),
        want: n,
        latency: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram")),
        done: Notify::new(),
    });
    let opts = KindOptions {
        concurrency: 64,
        visibility: Duration::from_secs(60),
        idle_poll: Duration::from_secs(1),
    };
    let workers = Workers::start(queue.clone(), kind, opts, m.clone());
    tokio::time::sleep(Duration::from_millis(200)).await; // consumer idle

    let t0 = Instant::now();
    let per = n / producers;
    let mut tasks = Vec::new();
    for _ in 0..producers {
        let q = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut left = per;
            while left > 0 {
                let take = batch.min(left);
                let jobs: Vec<NewJob> = (0..take)
                    .map(|_| NewJob::new(kind, json!({"t": now_us()})))
                    .collect();
                q.enqueue_many(jobs).await.expect("enqueue");
                left -= take;
                if let Some(p) = pace {
                    tokio::time::sleep(p).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("producer");
    }
    let enqueued = t0.elapsed();
    let waited = tokio::time::timeout(Duration::from_secs(300), async {
        while m.started.load(Ordering::SeqCst) < per * producers {
            tokio::time::timeout(Duration::from_millis(100), m.done.notified())
                .await
                .ok();
        }
    })
    .await;
    let total = t0.elapsed();
    workers.shutdown(Duration::from_secs(10)).await;
    driver.close().await;
    let got = m.started.load(Ordering::SeqCst);
    let h = m.latency.lock().expect("histogram").clone();
    println!(
        "{:<10} jobs={got:>6} batch={batch:<3} producers={producers:<2} enqueue {:>7.0}/s  end-to-end {:>7.0} jobs/s  latency p50={:.2}ms p99={:.2}ms max={:.1}ms{}",
        match (pace.is_some(), batch) {
            (true, _) => "paced",
            (false, 1) => "unbatched",
            _ => "batched",
        },
        got as f64 / enqueued.as_secs_f64(),
        got as f64 / total.as_secs_f64(),
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
        if waited.is_err() { "  (TIMED OUT)" } else { "" },
    );
    delete_keys(url, driver.key_prefix()).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("ROCKET_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let n: usize = std::env::var("ROCKET_BENCH_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let broker = RedisBroker::connect(&url).await.expect("redis");
    run(&broker, &url, n, 1, 16, None).await;
    run(&broker, &url, n, 100, 4, None).await;
    // Light load (one job about every 2 ms): the latency of waking an idle
    // consumer, not of a backlog.
    run(
        &broker,
        &url,
        (n / 10).max(100),
        1,
        1,
        Some(Duration::from_millis(2)),
    )
    .await;
}
