//! Queue benchmark: jobs/s end to end (enqueue, reserve, run, ack) per
//! driver, batched and unbatched, with enqueue-to-start latency, and the
//! wake-up latency of an idle consumer. Run with `scripts/bench-queue`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::Parser;
use hdrhistogram::Histogram;
use rocket_queue::{Backend, BackendSettings, Handler, Job, KindOptions, NewJob, Policies, Queue, Workers};
use rocket_store::migrations::{self, Schema};
use rocket_store::{Db, PgDb, PgSettings, SqliteDb, SqliteSettings};
use serde_json::json;
use tokio::sync::Notify;

#[derive(Parser)]
struct Args {
    /// Comma-separated: memory,sqlite,postgres,redis,rabbitmq (or all)
    #[arg(long, default_value = "all")]
    driver: String,
    /// Jobs per throughput phase.
    #[arg(long, default_value_t = 50_000)]
    jobs: usize,
    /// Consumer concurrency.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg_url: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
}

/// Records enqueue-to-start latency and signals when `want` jobs ran.
struct Probe {
    hist: Mutex<Histogram<u64>>,
    done: Mutex<usize>,
    want: Mutex<usize>,
    all: Notify,
}

#[async_trait]
impl Handler for Probe {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        let us = (rocket_queue::now_ms() - job.run_at).max(0) as u64 * 1000;
        let _ = self.hist.lock().map_err(|e| e.to_string())?.record(us.max(1));
        let mut done = self.done.lock().map_err(|e| e.to_string())?;
        *done += 1;
        if *done >= *self.want.lock().map_err(|e| e.to_string())? {
            self.all.notify_one();
        }
        Ok(())
    }
}

impl Probe {
    fn reset(&self, want: usize) {
        if let Ok(mut h) = self.hist.lock() {
            h.reset();
        }
        *self.done.lock().expect("lock") = 0;
        *self.want.lock().expect("lock") = want;
    }
    fn pct(&self, q: f64) -> f64 {
        self.hist
            .lock()
            .map(|h| h.value_at_quantile(q) as f64 / 1000.0)
            .unwrap_or(0.0)
    }
}

struct Row {
    driver: String,
    phase: &'static str,
    jobs_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn app_db(driver: &str, args: &Args, dir: &std::path::Path) -> anyhow::Result<(Db, Option<String>)> {
    if driver == "postgres" {
        let admin: tokio_postgres::Config = args.pg_url.parse()?;
        let (client, conn) = admin.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        let name = format!("rocket_qbench_{}", uuid::Uuid::new_v4().simple());
        client.batch_execute(&format!("CREATE DATABASE {name}")).await?;
        let mut cfg = admin.clone();
        cfg.dbname(&name);
        let db = Db::Pg(PgDb::connect(PgSettings {
            config: cfg,
            max_size: 16,
            checkout_timeout: Duration::from_secs(10),
        })?);
        migrations::apply(&db, Schema::App).await?;
        return Ok((db, Some(name)));
    }
    let db = Db::Sqlite(SqliteDb::open(SqliteSettings {
        path: dir.join(format!("{driver}.db")),
        readers: 4,
        busy_timeout: Duration::from_secs(5),
        checkout_timeout: Duration::from_secs(5),
    })?);
    migrations::apply(&db, Schema::App).await?;
    Ok((db, None))
}

async fn throughput(queue: &Queue, probe: &Probe, jobs: usize, batched: bool) -> anyhow::Result<f64> {
    probe.reset(jobs);
    let start = Instant::now();
    if batched {
        for chunk in (0..jobs).collect::<Vec<_>>().chunks(100) {
            let batch = chunk
                .iter()
                .map(|i| NewJob::new("bench", json!({"i": i})))
                .collect();
            queue.enqueue_many(batch).await?;
        }
    } else {
        let producers = 16;
        let mut tasks = Vec::new();
        for p in 0..producers {
            let q = queue.clone();
            tasks.push(tokio::spawn(async move {
                for i in (p..jobs).step_by(producers) {
                    q.enqueue(NewJob::new("bench", json!({"i": i}))).await?;
                }
                Ok::<_, rocket_queue::QueueError>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
    }
    tokio::time::timeout(Duration::from_secs(600), probe.all.notified()).await?;
    Ok(jobs as f64 / start.elapsed().as_secs_f64())
}

async fn wake_ups(queue: &Queue, probe: &Probe, n: usize) -> anyhow::Result<()> {
    probe.reset(usize::MAX);
    for _ in 0..n {
        tokio::time::sleep(Duration::from_millis(30)).await;
        queue.enqueue(NewJob::new("bench", json!({}))).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(())
}

async fn bench_driver(driver: &str, args: &Args, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = match driver {
        "redis" => args.redis_url.clone(),
        "rabbitmq" => args.amqp_url.clone(),
        _ => String::new(),
    };
    let backend = Backend::connect(&BackendSettings {
        driver: driver.to_string(),
        url,
        memory_capacity: args.jobs * 2,
    })
    .await?;
    let (db, pg_name) = app_db(driver, args, dir.path()).await?;
    let app = format!("bench{}", uuid::Uuid::new_v4().simple());
    let queue = Queue::new(
        &app,
        backend.open(&app, &db).await?,
        Arc::new(Policies::default()),
    );
    let probe = Arc::new(Probe {
        hist: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
        done: Mutex::new(0),
        want: Mutex::new(usize::MAX),
        all: Notify::new(),
    });
    let opts = KindOptions {
        concurrency: args.concurrency,
        visibility: Duration::from_secs(60),
        idle_poll: Duration::from_secs(5),
    };
    let workers = Workers::start(queue.clone(), "bench", opts, probe.clone());
    for (phase, batched) in [("batched x100", true), ("unbatched", false)] {
        let rate = throughput(&queue, &probe, args.jobs, batched).await?;
        rows.push(Row {
            driver: driver.into(),
            phase,
            jobs_per_sec: rate,
            p50_ms: probe.pct(0.5),
            p99_ms: probe.pct(0.99),
        });
    }
    wake_ups(&queue, &probe, 200).await?;
    rows.push(Row {
        driver: driver.into(),
        phase: "idle wake-up",
        jobs_per_sec: 0.0,
        p50_ms: probe.pct(0.5),
        p99_ms: probe.pct(0.99),
    });
    workers.shutdown(Duration::from_secs(5)).await;
    queue.driver().close().await;
    db.close();
    if let Some(name) = pg_name {
        let admin: tokio_postgres::Config = args.pg_url.parse()?;
        let (client, conn) = admin.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let all = ["memory", "sqlite", "postgres", "redis", "rabbitmq"];
    let drivers: Vec<&str> = if args.driver == "all" {
        all.to_vec()
    } else {
        args.driver.split(',').map(str::trim).collect()
    };
    println!(
        "rocket-queue-bench: {} jobs per phase, consumer concurrency {}, {} cores",
        args.jobs,
        args.concurrency,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    let mut rows = Vec::new();
    for d in drivers {
        if let Err(e) = bench_driver(d, &args, &mut rows).await {
            println!("{d}: skipped ({e})");
        }
    }
    println!(
        "\n{:<10} {:<14} {:>10} {:>10} {:>10}",
        "driver", "phase", "jobs/s", "p50 ms", "p99 ms"
    );
    for r in rows {
        let rate = if r.jobs_per_sec > 0.0 {
            format!("{:.0}", r.jobs_per_sec)
        } else {
            "-".into()
        };
        println!(
            "{:<10} {:<14} {:>10} {:>10.2} {:>10.2}",
            r.driver, r.phase, rate, r.p50_ms, r.p99_ms
        );
    }
    println!("\nlatency: enqueue to handler start (ms resolution of job timestamps)");
    Ok(())
}
