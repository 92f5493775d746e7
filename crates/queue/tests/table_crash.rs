//! Kill -9 in the middle of producing and consuming, then count what was lost
//! (must be 0), for the database drivers (sqlite, postgres).
//!
//! The test re-runs its own binary as a child (`crash_child`, ignored in
//! normal runs). The child commits business rows and their jobs in one
//! transaction (odd ids roll back), and consumes with a worker pool whose
//! handler records each processed id in the same database. The parent kills
//! it with SIGKILL mid-stream, restarts a consumer on the same database and
//! checks: every committed row's job ran at least once, and no rolled-back
//! job ever ran.

mod support;

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rocket_queue::{Driver, Handler, Job, KindOptions, NewJob, Policies, Queue, TableDriver, Workers};
use rocket_store::{Db, PgDb, PgSettings, Value};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

const KIND: &str = "crash";
const SETUP: &str = "CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY); CREATE TABLE IF NOT EXISTS processed (id TEXT NOT NULL, by_child INTEGER NOT NULL)";

struct Record {
    db: Db,
    child: bool,
}

#[async_trait]
impl Handler for Record {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        let id = job.payload["id"].as_str().unwrap_or_default().to_string();
        // Slow enough that the kill finds jobs in flight.
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.db
            .execute(
                "INSERT INTO processed (id, by_child) VALUES ($1, $2)",
                &[Value::text(id), Value::Int(i64::from(self.child))],
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn driver(kind: &str, db: &Db) -> Arc<dyn Driver> {
    match (kind, db) {
        ("postgres", Db::Pg(pg)) => Arc::new(TableDriver::postgres(db.clone(), pg.config().clone())),
        _ => Arc::new(TableDriver::sqlite(db.clone())),
    }
}

async fn open(kind: &str, target: &str) -> Db {
    if kind == "postgres" {
        let mut cfg: tokio_postgres::Config = support::pg_url().parse().expect("url");
        cfg.dbname(target);
        Db::Pg(
            PgDb::connect(PgSettings {
                config: cfg,
                max_size: 8,
                checkout_timeout: Duration::from_secs(10),
            })
            .expect("pool"),
        )
    } else {
        support::sqlite_app_db(std::path::Path::new(target)).await
    }
}

fn opts() -> KindOptions {
    KindOptions {
        concurrency: 8,
        visibility: Duration::from_secs(2),
        idle_poll: Duration::from_millis(200),
    }
}

/// The child: produce and consume until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by the crash tests as their child process"]
async fn crash_child() {
    let (Ok(kind), Ok(target)) = (std::env::var("CRASH_DRIVER"), std::env::var("CRASH_TARGET")) else {
        return;
    };
    let db = open(&kind, &target).await;
    let queue = Queue::new("crash", driver(&kind, &db), Arc::new(Policies::default()));
    let _workers = Workers::start(
        queue.clone(),
        KIND,
        opts(),
        Arc::new(Record {
            db: db.clone(),
            child: true,
        }),
    );
    for i in 0u64.. {
        let id = format!("r{i}");
        let mut tx = db.begin().await.expect("begin");
        tx.execute("INSERT INTO t (id) VALUES ($1)", &[Value::text(&id)])
            .await
            .expect("row");
        queue
            .enqueue_in(&mut tx, vec![NewJob::new(KIND, json!({"id": id}))])
            .await
            .expect("enqueue_in");
        if i % 2 == 0 {
            tx.commit().await.expect("commit");
            queue.committed();
            println!("committed {id}");
        } else {
            tx.rollback().await.expect("rollback");
        }
    }
}

async fn crash_and_count(kind: &str, target: &str, db: &Db) {
    db.batch(SETUP).await.expect("setup");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = tokio::process::Command::new(exe)
        .args(["--exact", "crash_child", "--nocapture", "--include-ignored"])
        .env("CRASH_DRIVER", kind)
        .env("CRASH_TARGET", target)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = 0;
    let end = Instant::now() + Duration::from_secs(60);
    while printed < 400 && Instant::now() < end {
        match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
            Ok(Ok(Some(l))) if l.starts_with("committed ") => printed += 1,
            Ok(Ok(Some(_))) => {}
            _ => break,
        }
    }
    assert!(printed >= 400, "{kind}: the child committed only {printed} rows");
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;

    // Restart: a fresh consumer on the same database.
    let queue = Queue::new("crash", driver(kind, db), Arc::new(Policies::default()));
    let workers = Workers::start(
        queue.clone(),
        KIND,
        opts(),
        Arc::new(Record {
            db: db.clone(),
            child: false,
        }),
    );
    let ids = |sql: &'static str| async move {
        db.query(sql, &[])
            .await
            .expect("read")
            .into_iter()
            .filter_map(|r| r.str("id"))
            .collect::<Vec<String>>()
    };
    let committed: HashSet<String> = ids("SELECT id FROM t").await.into_iter().collect();
    let end = Instant::now() + Duration::from_secs(60);
    let mut processed: Vec<String>;
    loop {
        processed = ids("SELECT id FROM processed").await;
        let seen: HashSet<&String> = processed.iter().collect();
        if committed.iter().all(|c| seen.contains(c)) || Instant::now() > end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    workers.shutdown(Duration::from_secs(5)).await;
    let seen: HashSet<&String> = processed.iter().collect();
    let lost: Vec<&String> = committed.iter().filter(|c| !seen.contains(c)).collect();
    let ghosts: Vec<&&String> = seen.iter().filter(|p| !committed.contains(**p)).collect();
    let by_parent = db
        .query_opt("SELECT COUNT(*) AS n FROM processed WHERE by_child = 0", &[])
        .await
        .expect("count")
        .and_then(|r| r.i64("n"))
        .unwrap_or(0);
    eprintln!(
        "{kind}: {} committed, {} processed ({} after the restart), {} duplicates, {} lost, {} rolled-back ran",
        committed.len(),
        processed.len(),
        by_parent,
        processed.len() - seen.len(),
        lost.len(),
        ghosts.len()
    );
    assert!(lost.is_empty(), "{kind}: committed jobs lost: {lost:?}");
    assert!(ghosts.is_empty(), "{kind}: rolled-back jobs ran: {ghosts:?}");
    assert!(
        by_parent > 0,
        "{kind}: the kill left nothing for the restart; the test proves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_loses_nothing_on_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().to_str().expect("utf-8 path").to_string();
    let db = open("sqlite", &target).await;
    crash_and_count("sqlite", &target, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_loses_nothing_on_kill_9() {
    let Some((db, name)) = support::pg_app_db().await else {
        return;
    };
    crash_and_count("postgres", &name, &db).await;
    support::drop_pg(db, &name).await;
}
