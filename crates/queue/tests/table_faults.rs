//! The postgres driver when the connection to PostgreSQL is cut mid-run (a
//! TCP proxy inside the test): consumers and the LISTEN connection recover,
//! and every job whose enqueue succeeded is processed.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rocket_queue::{Handler, Job, KindOptions, NewJob, Policies, Queue, TableDriver, Workers};
use rocket_store::{Db, PgDb, PgSettings};
use serde_json::json;

struct Seen(Mutex<HashSet<String>>);

#[async_trait]
impl Handler for Seen {
    async fn handle(&self, job: &Job) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|e| e.to_string())?
            .insert(job.payload["n"].to_string());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_a_cut_connection() {
    let Some((direct, name)) = support::pg_app_db().await else {
        return;
    };
    let proxy = support::proxy::Proxy::start("127.0.0.1:5432").await;
    // A fresh Config: host() and port() append to a parsed one.
    let mut cfg = tokio_postgres::Config::new();
    cfg.user("postgres")
        .dbname(&name)
        .host("127.0.0.1")
        .port(proxy.addr.port());
    cfg.connect_timeout(Duration::from_secs(2));
    let db = Db::Pg(
        PgDb::connect(PgSettings {
            config: cfg.clone(),
            max_size: 8,
            checkout_timeout: Duration::from_secs(2),
        })
        .expect("pool"),
    );
    let queue = Queue::new(
        "faults",
        Arc::new(TableDriver::postgres(db.clone(), cfg)),
        Arc::new(Policies::default()),
    );
    let seen = Arc::new(Seen(Mutex::new(HashSet::new())));
    let opts = KindOptions {
        concurrency: 8,
        visibility: Duration::from_secs(3),
        idle_poll: Duration::from_millis(500),
    };
    let workers = Workers::start(queue.clone(), "k", opts, seen.clone());

    let mut accepted = HashSet::new();
    let mut refused = 0;
    for n in 0..500 {
        if n == 200 {
            proxy.cut();
        }
        if n == 260 {
            proxy.restore();
        }
        let job = NewJob::new("k", json!({"n": n}));
        let ok = if n % 2 == 0 {
            queue.enqueue(job).await.is_ok()
        } else {
            match db.begin().await {
                Ok(mut tx) => match queue.enqueue_in(&mut tx, vec![job]).await {
                    Ok(()) => tx.commit().await.is_ok(),
                    Err(_) => false,
                },
                Err(_) => false,
            }
        };
        if ok {
            accepted.insert(n.to_string());
        } else {
            refused += 1;
        }
        if (200..260).contains(&n) {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    queue.committed();
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let done = seen.0.lock().expect("lock").clone();
        if accepted.iter().all(|a| done.contains(a)) || Instant::now() > end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    workers.shutdown(Duration::from_secs(5)).await;
    let done = seen.0.lock().expect("lock").clone();
    let lost: Vec<_> = accepted.iter().filter(|a| !done.contains(*a)).collect();
    eprintln!(
        "postgres cut: {} accepted, {refused} refused while cut, {} lost",
        accepted.len(),
        lost.len()
    );
    assert!(
        refused > 0,
        "the cut did not reach the client; the test proves nothing"
    );
    assert!(accepted.len() >= 400, "writes did not resume after the restore");
    assert!(lost.is_empty(), "accepted jobs lost: {lost:?}");
    db.close();
    support::drop_pg(direct, &name).await;
}
