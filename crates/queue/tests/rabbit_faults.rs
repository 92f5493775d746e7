//! The rabbitmq driver under broker faults: down at start, and a dropped
//! connection in the middle of a run (through a TCP proxy we can cut).

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rocket_queue::{
    Driver, Handler, Job, KindOptions, NewJob, Policies, Queue, QueueError, RabbitBroker, Workers,
};
use serde_json::json;
use support::proxy::Proxy;

#[tokio::test]
async fn broker_down_at_start_is_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let r = RabbitBroker::connect("amqp://guest:s3cret@127.0.0.1:1/%2f").await;
    match r {
        Err(QueueError::Unavailable { driver, message }) => {
            assert_eq!(driver, "rabbitmq");
            assert!(message.contains("127.0.0.1:1"), "names the host: {message}");
            assert!(!message.contains("s3cret"), "no password: {message}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("connected to nothing"),
    }
}

struct Record(Mutex<Vec<uuid::Uuid>>);

#[async_trait]
impl Handler for Record {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        self.0.lock().expect("lock").push(job.id);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_loses_no_job() {
    if let Err(e) = RabbitBroker::connect(&support::amqp_url()).await {
        return support::unreachable::<()>("RabbitMQ", e).unwrap_or(());
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter("rocket_queue=debug,lapin=warn")
        .with_test_writer()
        .try_init();
    let proxy = Arc::new(Proxy::start(&support::amqp_host()).await);
    let broker = RabbitBroker::connect(&support::amqp_url_via(proxy.addr))
        .await
        .expect("connect through proxy");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = support::sqlite_app_db(dir.path()).await;
    let app = format!("faults{}", uuid::Uuid::new_v4().simple());
    let driver = broker.open(&app, db.clone()).await.expect("open");
    let queue = Queue::new(&app, driver.clone(), Arc::new(Policies::default()));
    let kind = "work";
    let seen = Arc::new(Record(Mutex::new(Vec::new())));
    let opts = KindOptions {
        concurrency: 16,
        visibility: Duration::from_secs(30),
        idle_poll: Duration::from_millis(200),
    };
    let workers = Workers::start(queue.clone(), kind, opts, seen.clone());

    let n = 500;
    let mut want = HashSet::new();
    let mut refused = 0;
    for i in 0..n {
        if i == 200 {
            // Mid-run: every connection drops and reconnects are refused
            // for 1.5 s, while producers and consumers keep going.
            proxy.cut();
            let p = proxy.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                p.restore();
            });
        }
        let job = NewJob::new(kind, json!({"i": i}));
        want.insert(job.id);
        if i % 2 == 0 {
            // A direct enqueue fails while the broker is away: retry it.
            let end = Instant::now() + Duration::from_secs(30);
            loop {
                match queue.enqueue(job.clone()).await {
                    Ok(_) => break,
                    Err(_) if Instant::now() < end => {
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("enqueue never recovered: {e}"),
                }
            }
        } else {
            // The outbox does not need the broker: the relay catches up.
            let mut tx = db.begin().await.expect("begin");
            queue.enqueue_in(&mut tx, vec![job]).await.expect("enqueue_in");
            tx.commit().await.expect("commit");
            queue.committed();
        }
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    let end = Instant::now() + Duration::from_secs(60);
    let (mut done, mut pending) = (0, u64::MAX);
    while Instant::now() < end {
        let got: HashSet<_> = seen.0.lock().expect("lock").iter().copied().collect();
        done = want.intersection(&got).count();
        pending = driver.outbox_pending().await.expect("pending");
        if done == n && pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if done < n {
        eprintln!("DIAG stats {:?}", driver.stats().await);
    }
    workers.shutdown(Duration::from_secs(5)).await;
    let total = seen.0.lock().expect("lock").len();
    eprintln!(
        "faults: {done} of {n} distinct jobs processed ({total} runs, {} duplicates); {refused} enqueues refused during the cut",
        total - done
    );
    assert!(refused > 0, "the cut reached the driver");
    assert_eq!(done, n, "every job processed at least once");
    assert_eq!(pending, 0, "the outbox ends empty");
    driver.close().await;
    driver.delete_queues().await.expect("delete queues");
}
