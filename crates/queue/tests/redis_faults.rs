//! The redis driver under faults: Redis down at start, and every connection
//! cut in the middle of a run (through a proxy) and restored. Nothing may be
//! lost: every job is processed at least once and the outbox drains.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rocket_queue::outbox::RelayOptions;
use rocket_queue::{
    Driver, Handler, Job, KindOptions, NewJob, Policies, Queue, QueueError, RedisBroker, Workers,
};
use serde_json::json;
use support::proxy::Proxy;

#[tokio::test]
async fn broker_down_at_start_is_unavailable() {
    let err = RedisBroker::connect("redis://127.0.0.1:1")
        .await
        .expect_err("nothing listens on port 1");
    match &err {
        QueueError::Unavailable { driver, message } => {
            assert_eq!(*driver, "redis");
            assert!(message.contains("127.0.0.1:1"), "names the URL: {message}");
        }
        other => panic!("want Unavailable, got {other:?}"),
    }
    let err = RedisBroker::connect("redis://user:hunter2@127.0.0.1:1")
        .await
        .expect_err("down");
    assert!(!err.to_string().contains("hunter2"), "password hidden: {err}");
}

struct Record(Mutex<Vec<String>>);

#[async_trait]
impl Handler for Record {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let id = job.payload["id"].as_str().unwrap_or_default().to_string();
        self.0.lock().expect("lock").push(id);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_loses_nothing() {
    if let Err(e) = RedisBroker::connect(&support::redis_url()).await {
        let _: Option<()> = support::unreachable("Redis", e);
        return;
    }
    let upstream = support::redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_string();
    let proxy = Proxy::start(&upstream).await;
    let broker = RedisBroker::connect(&format!("redis://{}", proxy.addr))
        .await
        .expect("connect through the proxy");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = support::sqlite_app_db(dir.path()).await;
    let app = format!("faults-{}", uuid::Uuid::new_v4().simple());
    let relay = RelayOptions {
        batch: 100,
        claim_for: Duration::from_secs(2),
        poll: Duration::from_millis(200),
    };
    let driver = broker.open_with(&app, db.clone(), relay);
    let queue = Queue::new(&app, driver.clone(), Arc::new(Policies::default()));
    let kind = "faulty";
    let seen = Arc::new(Record(Mutex::new(Vec::new())));
    let opts = KindOptions {
        concurrency: 16,
        // Leases of deliveries whose ack was lost come back quickly.
        visibility: Duration::from_secs(3),
        idle_poll: Duration::from_millis(200),
    };
    let workers = Workers::start(queue.clone(), kind, opts, seen.clone());

    let total = 500;
    let producer = {
        let (queue, db) = (queue.clone(), db.clone());
        tokio::spawn(async move {
            let (mut failed_enqueues, mut slowest) = (0, Duration::ZERO);
            for batch in 0..50 {
                let jobs: Vec<NewJob> = (0..10)
                    .map(|i| NewJob::new(kind, json!({"id": format!("{}", batch * 10 + i)})))
                    .collect();
                if batch % 2 == 0 {
                    // A direct enqueue fails while Redis is cut off; the
                    // producer retries with the same ids (at-least-once).
                    let t = Instant::now();
                    while queue.enqueue_many(jobs.clone()).await.is_err() {
                        failed_enqueues += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    slowest = slowest.max(t.elapsed());
                } else {
                    let mut tx = db.begin().await.expect("begin");
                    queue.enqueue_in(&mut tx, jobs).await.expect("enqueue_in");
                    tx.commit().await.expect("commit");
                    queue.committed();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (failed_enqueues, slowest)
        })
    };

    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.restore();
    let (failed, slowest) = producer.await.expect("producer");

    let end = Instant::now() + Duration::from_secs(60);
    let (mut distinct, mut pending) = (0, u64::MAX);
    while Instant::now() < end {
        distinct = seen.0.lock().expect("lock").iter().collect::<HashSet<_>>().len();
        pending = driver.outbox_pending().await.unwrap_or(u64::MAX);
        if distinct == total && pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deliveries = seen.0.lock().expect("lock").len();
    eprintln!(
        "faults: {distinct} distinct of {total}, {deliveries} deliveries ({} duplicates); {failed} enqueue calls failed, slowest enqueue {slowest:?}",
        deliveries - distinct
    );
    workers.shutdown(Duration::from_secs(5)).await;
    driver.close().await;
    support::delete_redis_keys(&app).await;
    assert_eq!(distinct, total, "every job processed at least once");
    assert_eq!(pending, 0, "the outbox drained");
}
