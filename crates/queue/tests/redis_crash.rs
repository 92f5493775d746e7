//! kill -9 of a process that commits business rows with outbox jobs: after
//! a restart (a fresh broker connection whose relay drains what was left),
//! every committed row's job is processed at least once and no rolled-back
//! row's job ever is. The table `t` in the app database is the source of
//! truth for what committed, not what the child managed to print.
//!
//! The parent re-runs this test binary as the child (`crash_child`, ignored
//! in normal runs) and kills it with SIGKILL mid-stream.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rocket_queue::outbox::RelayOptions;
use rocket_queue::{Driver, Handler, Job, KindOptions, NewJob, Policies, Queue, RedisBroker, Workers};
use rocket_store::Value;
use serde_json::json;
use tokio::io::AsyncBufReadExt;

const CHILD: &str = "ROCKET_QUEUE_CRASH_CHILD";
const DIR: &str = "ROCKET_QUEUE_CRASH_DIR";
const APP: &str = "ROCKET_QUEUE_CRASH_APP";
const KIND: &str = "crash";
const CREATE: &str = "CREATE TABLE IF NOT EXISTS t (id TEXT)";
const INSERT: &str = "INSERT INTO t (id) VALUES ($1)";
const SELECT: &str = "SELECT id FROM t";

/// A short claim, so rows the killed relay had claimed come back quickly.
fn relay() -> RelayOptions {
    RelayOptions {
        batch: 200,
        claim_for: Duration::from_secs(2),
        poll: Duration::from_millis(200),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child half of kill_9_mid_stream_loses_no_committed_job"]
async fn crash_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let dir = std::path::PathBuf::from(std::env::var(DIR).expect("dir"));
    let app = std::env::var(APP).expect("app");
    let db = support::sqlite_app_db(&dir).await;
    let broker = RedisBroker::connect(&support::redis_url()).await.expect("redis");
    let driver = broker.open_with(&app, db.clone(), relay());
    let queue = Queue::new(&app, driver, Arc::new(Policies::default()));
    use std::io::Write;
    let end = Instant::now() + Duration::from_secs(60);
    for id in 0..1_000_000u64 {
        if Instant::now() > end {
            break;
        }
        let mut tx = db.begin().await.expect("begin");
        tx.execute(INSERT, &[Value::text(id.to_string())])
            .await
            .expect("insert");
        let job = NewJob::new(KIND, json!({"id": id.to_string()}));
        queue.enqueue_in(&mut tx, vec![job]).await.expect("enqueue_in");
        if id % 2 == 0 {
            tx.commit().await.expect("commit");
            queue.committed();
            let mut out = std::io::stdout().lock();
            writeln!(out, "COMMITTED {id}").expect("stdout");
            out.flush().expect("flush");
        } else {
            tx.rollback().await.expect("rollback");
        }
    }
}

struct Record(Mutex<Vec<String>>);

#[async_trait]
impl Handler for Record {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        let id = job.payload["id"].as_str().unwrap_or_default().to_string();
        self.0.lock().expect("lock").push(id);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_no_committed_job() {
    if let Err(e) = RedisBroker::connect(&support::redis_url()).await {
        let _: Option<()> = support::unreachable("Redis", e);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let app = format!("crash-{}", uuid::Uuid::new_v4().simple());
    {
        let db = support::sqlite_app_db(dir.path()).await;
        db.execute(CREATE, &[]).await.expect("create t");
        db.close();
    }

    let exe = std::env::current_exe().expect("test binary");
    let mut child = tokio::process::Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--include-ignored"])
        .env(CHILD, "1")
        .env(DIR, dir.path())
        .env(APP, &app)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut printed = 0usize;
    let deadline = Instant::now() + Duration::from_secs(90);
    while printed < 300 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
            Ok(Ok(Some(line))) if line.starts_with("COMMITTED ") => printed += 1,
            Ok(Ok(Some(_))) => {}
            _ => break,
        }
    }
    child.start_kill().expect("SIGKILL the child");
    let _ = child.wait().await;
    assert!(
        printed >= 300,
        "the child committed only {printed} before it stopped"
    );

    // Restart: a fresh broker connection; the relay drains the outbox.
    let db = support::sqlite_app_db(dir.path()).await;
    let broker = RedisBroker::connect(&support::redis_url()).await.expect("redis");
    let driver = broker.open_with(&app, db.clone(), relay());
    let queue = Queue::new(&app, driver.clone(), Arc::new(Policies::default()));
    let seen = Arc::new(Record(Mutex::new(Vec::new())));
    let opts = KindOptions {
        concurrency: 32,
        visibility: Duration::from_secs(30),
        idle_poll: Duration::from_millis(200),
    };
    let workers = Workers::start(queue, KIND, opts, seen.clone());

    let committed: HashSet<String> = db
        .query(SELECT, &[])
        .await
        .expect("select t")
        .into_iter()
        .filter_map(|r| r.str("id"))
        .collect();
    let end = Instant::now() + Duration::from_secs(60);
    let mut pending = u64::MAX;
    while Instant::now() < end {
        pending = driver.outbox_pending().await.unwrap_or(u64::MAX);
        let done: HashSet<String> = seen.0.lock().expect("lock").iter().cloned().collect();
        if pending == 0 && committed.is_subset(&done) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more, so a stray rolled-back job would have shown up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    workers.shutdown(Duration::from_secs(5)).await;
    driver.close().await;
    support::delete_redis_keys(&app).await;

    let all = seen.0.lock().expect("lock").clone();
    let done: HashSet<&String> = all.iter().collect();
    let lost: Vec<&String> = committed.iter().filter(|id| !done.contains(id)).collect();
    let rolled_back: Vec<&&String> = done
        .iter()
        .filter(|id| id.parse::<u64>().map_or(true, |n| n % 2 == 1))
        .collect();
    eprintln!(
        "crash: child printed {printed} commits, table t has {} rows, {} jobs processed ({} distinct, {} duplicates), outbox left {pending}",
        committed.len(),
        all.len(),
        done.len(),
        all.len() - done.len()
    );
    assert!(committed.len() >= printed, "every printed id is in t");
    assert!(lost.is_empty(), "lost committed jobs: {lost:?}");
    assert!(rolled_back.is_empty(), "rolled-back jobs ran: {rolled_back:?}");
    assert_eq!(pending, 0, "the outbox drained");
}
