//! End-to-end throughput of the rabbitmq driver: enqueue (confirmed) →
//! consume with `Workers` (concurrency 64) → ack, for 50,000 jobs, batched
//! (100 per enqueue) and unbatched (one per enqueue, from 16 tasks), with
//! the enqueue-to-start latency. Needs RabbitMQ (ROCKET_TEST_AMQP_URL, else
//! amqp://guest:guest@127.0.0.1:5672/%2f).
//!
//!     cargo run --release -p rocket-queue --example rabbit_bench

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hdrhistogram::Histogram;
use rocket_queue::{
    now_ms, Driver, Handler, Job, KindOptions, NewJob, Policies, Queue, RabbitBroker, Workers,
};
use rocket_store::migrations::{self, Schema};
use rocket_store::{Db, SqliteDb, SqliteSettings};
use serde_json::json;
use tokio::sync::Notify;

const N: usize = 50_000;

struct Count {
    n: AtomicUsize,
    want: usize,
    done: Notify,
    latency: Mutex<Histogram<u64>>,
}

#[async_trait]
impl Handler for Count {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        let ms = (now_ms() - job.run_at.max(job.enqueued_at)).max(0) as u64;
        if let Ok(mut h) = self.latency.lock() {
            let _ = h.record(ms);
        }
        if self.n.fetch_add(1, Ordering::SeqCst) + 1 == self.want {
            self.done.notify_one();
        }
        Ok(())
    }
}

async fn run(
    broker: &RabbitBroker,
    db: &Db,
    label: &str,
    batched: bool,
    producers_n: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let app = format!("bench{}", uuid::Uuid::new_v4().simple());
    let driver = broker.open(&app, db.clone()).await?;
    let queue = Queue::new(&app, driver.clone(), Arc::new(Policies::default()));
    let kind = "bench";
    let count = Arc::new(Count {
        n: AtomicUsize::new(0),
        want: N,
        done: Notify::new(),
        latency: Mutex::new(Histogram::new_with_bounds(1, 600_000, 3)?),
    });
    let opts = KindOptions {
        concurrency: 64,
        visibility: Duration::from_secs(60),
        idle_poll: Duration::from_millis(200),
    };
    // Declare the queue and subscribe before the clock starts.
    queue.enqueue(NewJob::new("warmup", json!(0))).await?;
    let workers = Workers::start(queue.clone(), kind, opts, count.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    let start = Instant::now();
    let mut producers = Vec::new();
    let tasks = producers_n;
    for t in 0..tasks {
        let q = queue.clone();
        producers.push(tokio::spawn(async move {
            let mine = N / tasks + usize::from(t < N % tasks);
            if batched {
                for chunk in (0..mine).collect::<Vec<_>>().chunks(100) {
                    let jobs = chunk.iter().map(|i| NewJob::new(kind, json!({"i": i}))).collect();
                    q.enqueue_many(jobs).await?;
                }
            } else {
                for i in 0..mine {
                    q.enqueue(NewJob::new(kind, json!({"i": i}))).await?;
                }
            }
            Ok::<_, rocket_queue::QueueError>(())
        }));
    }
    for p in producers {
        p.await??;
    }
    let enqueued = start.elapsed();
    let _ = tokio::time::timeout(Duration::from_secs(300), count.done.notified()).await;
    let total = start.elapsed();
    let processed = count.n.load(Ordering::SeqCst);
    workers.shutdown(Duration::from_secs(5)).await;
    let h = count.latency.lock().map_err(|_| "lock")?.clone();
    println!(
        "{label}: {processed} jobs in {:.2}s = {:.0} jobs/s end to end (enqueue alone {:.0} jobs/s); enqueue-to-start p50 {} ms, p99 {} ms, max {} ms",
        total.as_secs_f64(),
        processed as f64 / total.as_secs_f64(),
        N as f64 / enqueued.as_secs_f64(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
    driver.close().await;
    driver.delete_queues().await?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("ROCKET_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let broker = RabbitBroker::connect(&url).await?;
    let dir = tempfile::tempdir()?;
    let db = Db::Sqlite(SqliteDb::open(SqliteSettings {
        path: dir.path().join("app.db"),
        readers: 2,
        busy_timeout: Duration::from_secs(5),
        checkout_timeout: Duration::from_secs(5),
    })?);
    migrations::apply(&db, Schema::App).await?;
    run(&broker, &db, "batched (100/enqueue, 1 producer)", true, 1).await?;
    // Several producers overlap one batch's confirms with the next batch's
    // publishing (a single producer waits out every fsync).
    run(&broker, &db, "batched (100/enqueue, 4 producers)", true, 4).await?;
    run(&broker, &db, "unbatched (1/enqueue, 16 tasks)", false, 16).await?;
    broker.close();
    Ok(())
}
