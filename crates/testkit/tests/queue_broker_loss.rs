//! A queue broker lost while the server runs: readiness reports it (503),
//! writes with outbox jobs keep committing, and once the broker is back the
//! relay publishes what piled up and the consumers run it. The broker is a
//! private `redis-server` this test starts and kills.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rocket_apps::{JobKind, Plugins};
use rocket_queue::{Handler, Job, NewJob};
use rocket_testkit::{json, Store, TestServer};

struct Count(Arc<AtomicU32>);

#[async_trait]
impl Handler for Count {
    async fn handle(&self, _job: &Job) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn redis_on(port: u16) -> Option<std::process::Child> {
    let spawned = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(c) => Some(c),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but redis-server cannot start: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: redis-server is not installed ({e})");
            None
        }
    }
}

async fn until(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_broker_is_reported_and_loses_no_job() {
    let port = free_port();
    let Some(mut redis) = redis_on(port) else { return };
    let url = format!("redis://127.0.0.1:{port}");
    let probe = url.clone();
    until("redis-server to listen", 10, async || {
        tokio::net::TcpStream::connect(probe.trim_start_matches("redis://"))
            .await
            .is_ok()
    })
    .await;

    let ran = Arc::new(AtomicU32::new(0));
    let counter = ran.clone();
    let plugins = Plugins {
        effects: Default::default(),
        jobs: vec![JobKind {
            kind: "test.count".into(),
            options: None,
            retry: None,
            make: Arc::new(move |_| Arc::new(Count(counter.clone()))),
        }],
        ..Default::default()
    };
    let Some(s) = TestServer::start_with_plugins(Store::Sqlite, plugins, |c| {
        c.queue.driver = "redis".into();
        c.queue.url = url.clone();
        c.queue.poll_interval_ms = 200;
    })
    .await
    else {
        return;
    };
    let app = s.create_app().await;
    let ctx = s.platform().app(&app.name).await.expect("app");
    assert_eq!(s.get("/health/ready", None).await.status, 200);

    let _ = redis.kill();
    let _ = redis.wait();
    until("readiness to report the broker down", 20, async || {
        let r = s.get("/health/ready", None).await;
        r.status == 503 && r.body["checks"]["queue"]["check"]["status"] == "down"
    })
    .await;

    // Business writes with outbox jobs still commit while the broker is away.
    for i in 0..20 {
        let mut tx = ctx.db.begin().await.expect("begin");
        ctx.queue
            .enqueue_in(&mut tx, vec![NewJob::new("test.count", json!({"i": i}))])
            .await
            .expect("outbox write while the broker is down");
        tx.commit().await.expect("commit");
        ctx.queue.committed();
    }
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "nothing can run without the broker"
    );

    let Some(mut redis) = redis_on(port) else { return };
    until("all 20 jobs to run after the broker returns", 60, async || {
        ran.load(Ordering::SeqCst) >= 20
    })
    .await;
    until("readiness to recover", 20, async || {
        s.get("/health/ready", None).await.status == 200
    })
    .await;
    s.stop().await;
    let _ = redis.kill();
    let _ = redis.wait();
}
