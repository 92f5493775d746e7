//! The conformance suite every driver passes (run from `tests/conformance.rs`
//! against the real services). Each check uses its own kind, so drivers that
//! share a broker between runs do not see each other's jobs.
//!
//! Timing is only used to wait for something to become true (with generous
//! deadlines), never as a pass/fail bound.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rocket_store::Db;
use serde_json::json;

use crate::driver::Driver;
use crate::job::{now_ms, Enqueued, Job, NewJob};
use crate::queue::{Policies, Queue};
use crate::retry::RetryPolicy;
use crate::worker::{Handler, KindOptions, Workers};

/// A driver under test; `db` is the app database its outbox writes into
/// (None for drivers without one).
pub struct Subject {
    pub driver: Arc<dyn Driver>,
    pub db: Option<Db>,
}

fn kind(check: &str) -> String {
    format!("{check}-{}", uuid::Uuid::new_v4().simple())
}

const VIS: Duration = Duration::from_secs(30);

/// Reserves until `n` jobs arrived or `within` passed.
pub async fn reserve_n(d: &dyn Driver, kind: &str, n: usize, vis: Duration, within: Duration) -> Vec<Job> {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < end {
        match d.reserve(kind, n - got.len(), vis).await {
            Ok(mut jobs) if !jobs.is_empty() => got.append(&mut jobs),
            _ => d.wait(kind, Duration::from_millis(50)).await,
        }
    }
    got
}

pub async fn run_all(s: &Subject) {
    let d = s.driver.as_ref();
    enqueue_reserve_ack(d).await;
    delayed_jobs_wait_for_their_time(d).await;
    retry_comes_back_later_with_the_next_attempt(d).await;
    dead_letters_keep_payload_and_error(d).await;
    dedupe_key_suppresses_live_duplicates(d).await;
    visibility_timeout_redelivers(d).await;
    concurrent_consumers_never_share_a_job(d).await;
    workers_retry_then_dead_letter_poison_jobs(s.driver.clone()).await;
    shutdown_drains_in_flight_jobs(s.driver.clone()).await;
    if let Some(db) = &s.db {
        outbox_follows_the_transaction(d, db).await;
    }
}

pub async fn enqueue_reserve_ack(d: &dyn Driver) {
    let k = kind("basic");
    let jobs: Vec<NewJob> = (0..3).map(|i| NewJob::new(&k, json!({"n": i}))).collect();
    let ids: Vec<_> = jobs.iter().map(|j| j.id).collect();
    let out = d.enqueue(jobs).await.expect("enqueue");
    assert!(out.iter().all(Enqueued::is_new), "basic: {out:?}");
    let got = reserve_n(d, &k, 3, VIS, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3, "basic: reserve returns every due job");
    let mut seen: Vec<_> = got.iter().map(|j| j.id).collect();
    seen.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(seen, want, "basic: stable ids");
    for j in &got {
        assert_eq!(j.attempt, 1, "basic: first delivery is attempt 1");
        assert_eq!(j.kind, k);
        let i = ids.iter().position(|id| *id == j.id).expect("known id");
        assert_eq!(j.payload, json!({"n": i}), "basic: payload intact");
    }
    assert!(
        d.reserve(&k, 10, VIS).await.expect("reserve").is_empty(),
        "basic: held jobs are invisible"
    );
    for j in &got {
        d.ack(j).await.expect("ack");
    }
    let stats = d.stats().await.expect("stats");
    let mine = stats.iter().find(|s| s.kind == k);
    assert!(
        mine.is_none_or(|s| s.ready + s.in_flight + s.delayed + s.dead == 0),
        "basic: acked jobs are gone: {mine:?}"
    );
}

pub async fn delayed_jobs_wait_for_their_time(d: &dyn Driver) {
    let k = kind("delay");
    let at = now_ms() + 700;
    d.enqueue(vec![NewJob::new(&k, json!(1)).run_at(at)])
        .await
        .expect("enqueue");
    let early = d.reserve(&k, 1, VIS).await.expect("reserve");
    assert!(
        early.is_empty() || now_ms() >= at,
        "delay: handed out before run_at"
    );
    let stats = d.stats().await.expect("stats");
    if now_ms() < at {
        let s = stats.iter().find(|s| s.kind == k).cloned().unwrap_or_default();
        assert_eq!((s.delayed, s.ready), (1, 0), "delay: counted as delayed");
    }
    let got = reserve_n(d, &k, 1, VIS, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "delay: delivered once due");
    assert!(now_ms() >= at, "delay: not before run_at");
    d.ack(&got[0]).await.expect("ack");
}

pub async fn retry_comes_back_later_with_the_next_attempt(d: &dyn Driver) {
    let k = kind("retry");
    let job = NewJob::new(&k, json!({"x": 1}));
    let id = job.id;
    d.enqueue(vec![job]).await.expect("enqueue");
    let first = reserve_n(d, &k, 1, VIS, Duration::from_secs(10)).await;
    assert_eq!(first.len(), 1);
    let at = now_ms() + 500;
    d.retry(&first[0], "boom", at).await.expect("retry");
    let again = reserve_n(d, &k, 1, VIS, Duration::from_secs(10)).await;
    assert_eq!(again.len(), 1, "retry: delivered again");
    assert!(now_ms() >= at, "retry: not before the retry time");
    assert_eq!(again[0].id, id, "retry: same id");
    assert_eq!(again[0].attempt, 2, "retry: attempt counts up");
    d.ack(&again[0]).await.expect("ack");
}

pub async fn dead_letters_keep_payload_and_error(d: &dyn Driver) {
    let k = kind("dead");
    let job = NewJob::new(&k, json!({"keep": "me"}));
    let id = job.id;
    d.enqueue(vec![job]).await.expect("enqueue");
    let got = reserve_n(d, &k, 1, VIS, Duration::from_secs(10)).await;
    d.bury(&got[0], "it failed for good").await.expect("bury");
    let dead = d.dead(Some(&k), 10).await.expect("dead");
    assert_eq!(dead.len(), 1, "dead: listed");
    assert_eq!((dead[0].id, &dead[0].payload), (id, &json!({"keep": "me"})));
    assert_eq!(dead[0].last_error, "it failed for good");
    assert_eq!(dead[0].attempts, 1);
    assert!(
        d.reserve(&k, 1, VIS).await.expect("reserve").is_empty(),
        "dead: not handed out"
    );
    let s = d
        .stats()
        .await
        .expect("stats")
        .into_iter()
        .find(|s| s.kind == k)
        .unwrap_or_default();
    assert_eq!(s.dead, 1, "dead: counted");

    assert_eq!(d.requeue_dead(Some(&k), Some(id)).await.expect("requeue"), 1);
    let back = reserve_n(d, &k, 1, VIS, Duration::from_secs(10)).await;
    assert_eq!(back.len(), 1, "dead: requeued job runs again");
    assert_eq!(
        (back[0].id, back[0].attempt),
        (id, 1),
        "dead: requeue starts the attempts over"
    );
    d.bury(&back[0], "again").await.expect("bury");
    assert_eq!(d.delete_dead(Some(&k), None).await.expect("delete"), 1);
    assert!(
        d.dead(Some(&k), 10).await.expect("dead").is_empty(),
        "dead: deleted"
    );
}

pub async fn dedupe_key_suppresses_live_duplicates(d: &dyn Driver) {
    let k = kind("dedupe");
    let a = NewJob::new(&k, json!("a")).dedupe("order-1");
    let a_id = a.id;
    let out = d.enqueue(vec![a]).await.expect("enqueue");
    assert_eq!(out, vec![Enqueued::New(a_id)]);
    let out = d
        .enqueue(vec![NewJob::new(&k, json!("b")).dedupe("order-1")])
        .await
        .expect("enqueue");
    assert!(!out[0].is_new(), "dedupe: second enqueue suppressed: {out:?}");
    if let Enqueued::Duplicate(Some(id)) = out[0] {
        assert_eq!(id, a_id, "dedupe: names the kept job");
    }
    // Another kind may use the same key.
    let other = kind("dedupe-other");
    let out = d
        .enqueue(vec![NewJob::new(&other, json!("c")).dedupe("order-1")])
        .await
        .expect("enqueue");
    assert!(out[0].is_new(), "dedupe: keys are per kind");
    let got = reserve_n(d, &k, 2, VIS, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1, "dedupe: one job");
    assert_eq!(got[0].payload, json!("a"));
    d.ack(&got[0]).await.expect("ack");
    let out = d
        .enqueue(vec![NewJob::new(&k, json!("d")).dedupe("order-1")])
        .await
        .expect("enqueue");
    assert!(out[0].is_new(), "dedupe: key is free once the job is done");
    for kd in [&k, &other] {
        for j in reserve_n(d, kd, 1, VIS, Duration::from_secs(10)).await {
            d.ack(&j).await.expect("ack");
        }
    }
}

pub async fn visibility_timeout_redelivers(d: &dyn Driver) {
    let k = kind("visibility");
    let job = NewJob::new(&k, json!(1));
    let id = job.id;
    d.enqueue(vec![job]).await.expect("enqueue");
    let short = Duration::from_millis(600);
    let first = reserve_n(d, &k, 1, short, Duration::from_secs(10)).await;
    assert_eq!(first.len(), 1);
    let held_until = now_ms() + 400;
    let during = d.reserve(&k, 1, VIS).await.expect("reserve");
    assert!(
        during.is_empty() || now_ms() > held_until,
        "visibility: handed out while held"
    );
    let again = reserve_n(d, &k, 1, VIS, Duration::from_secs(15)).await;
    assert_eq!(again.len(), 1, "visibility: an unacked job comes back");
    assert_eq!((again[0].id, again[0].attempt), (id, 2));
    d.ack(&again[0]).await.expect("ack");
}

pub async fn concurrent_consumers_never_share_a_job(d: &dyn Driver) {
    let k = kind("concurrent");
    let n = 200;
    let jobs: Vec<NewJob> = (0..n).map(|i| NewJob::new(&k, json!(i))).collect();
    d.enqueue(jobs).await.expect("enqueue");
    let seen = Mutex::new(Vec::new());
    let consumer = || async {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if seen.lock().expect("lock").len() >= n || Instant::now() > end {
                return;
            }
            match d.reserve(&k, 10, VIS).await {
                Ok(jobs) if !jobs.is_empty() => {
                    for j in jobs {
                        seen.lock().expect("lock").push(j.id);
                        d.ack(&j).await.expect("ack");
                    }
                }
                _ => d.wait(&k, Duration::from_millis(20)).await,
            }
        }
    };
    futures_util::join!(consumer(), consumer(), consumer(), consumer());
    let seen = seen.into_inner().expect("lock");
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(
        distinct.len(),
        seen.len(),
        "concurrent: a job was handed to two consumers"
    );
    assert_eq!(seen.len(), n, "concurrent: every job delivered");
}

struct Scripted {
    calls: AtomicU32,
    mode: &'static str,
    done: Mutex<Vec<serde_json::Value>>,
}

#[async_trait]
impl Handler for Scripted {
    async fn handle(&self, job: &Job) -> std::result::Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match (self.mode, job.payload.get("poison").and_then(|v| v.as_str())) {
            (_, Some("fail")) => Err("always fails".into()),
            (_, Some("panic")) => panic!("poison job"),
            ("slow", _) => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                self.done.lock().expect("lock").push(job.payload.clone());
                Ok(())
            }
            _ => {
                self.done.lock().expect("lock").push(job.payload.clone());
                Ok(())
            }
        }
    }
}

fn fast_retries(max: u32) -> Arc<Policies> {
    Arc::new(Policies {
        default: RetryPolicy {
            max_attempts: max,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(100),
            jitter: true,
        },
        kinds: Default::default(),
    })
}

pub async fn workers_retry_then_dead_letter_poison_jobs(d: Arc<dyn Driver>) {
    let k = kind("poison");
    let queue = Queue::new("conformance", d.clone(), fast_retries(3));
    let h = Arc::new(Scripted {
        calls: AtomicU32::new(0),
        mode: "ok",
        done: Mutex::new(Vec::new()),
    });
    let opts = KindOptions {
        concurrency: 4,
        visibility: Duration::from_secs(30),
        idle_poll: Duration::from_millis(200),
    };
    let w = Workers::start(queue.clone(), &k, opts, h.clone());
    queue
        .enqueue(NewJob::new(&k, json!({"poison": "fail"})))
        .await
        .expect("enqueue");
    queue
        .enqueue(NewJob::new(&k, json!({"poison": "panic"})))
        .await
        .expect("enqueue");
    for i in 0..20 {
        queue
            .enqueue(NewJob::new(&k, json!({"ok": i})))
            .await
            .expect("enqueue");
    }
    let end = Instant::now() + Duration::from_secs(30);
    let mut dead = Vec::new();
    while Instant::now() < end {
        dead = d.dead(Some(&k), 10).await.expect("dead");
        if dead.len() == 2 && h.done.lock().expect("lock").len() == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    w.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        h.done.lock().expect("lock").len(),
        20,
        "poison: the other jobs of the kind ran"
    );
    assert_eq!(dead.len(), 2, "poison: both poison jobs dead-lettered: {dead:?}");
    for j in &dead {
        assert_eq!(j.attempts, 3, "poison: used all attempts");
    }
    let errors: HashSet<_> = dead.iter().map(|j| j.last_error.as_str()).collect();
    assert!(
        errors.contains("always fails"),
        "poison: last error kept: {errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("panicked")),
        "poison: panic recorded: {errors:?}"
    );
    d.delete_dead(Some(&k), None).await.expect("cleanup");
}

pub async fn shutdown_drains_in_flight_jobs(d: Arc<dyn Driver>) {
    let k = kind("drain");
    let queue = Queue::new("conformance", d.clone(), fast_retries(5));
    let h = Arc::new(Scripted {
        calls: AtomicU32::new(0),
        mode: "slow",
        done: Mutex::new(Vec::new()),
    });
    let opts = KindOptions {
        concurrency: 3,
        visibility: Duration::from_secs(30),
        idle_poll: Duration::from_millis(200),
    };
    let n = 9;
    for i in 0..n {
        queue
            .enqueue(NewJob::new(&k, json!({"i": i})))
            .await
            .expect("enqueue");
    }
    let w = Workers::start(queue.clone(), &k, opts, h.clone());
    // Wait until the first jobs are running, then stop.
    let end = Instant::now() + Duration::from_secs(10);
    while h.calls.load(Ordering::SeqCst) == 0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    w.shutdown(Duration::from_secs(10)).await;
    let started = h.calls.load(Ordering::SeqCst) as usize;
    let done = h.done.lock().expect("lock").len();
    assert!(
        started > 0 && started < n,
        "drain: shutdown stopped reserving ({started} of {n} started)"
    );
    assert_eq!(
        done, started,
        "drain: every started job finished before shutdown returned"
    );
    // The rest are still there, for the next consumer.
    let rest = reserve_n(d.as_ref(), &k, n, VIS, Duration::from_secs(10)).await;
    assert_eq!(rest.len(), n - done, "drain: unstarted jobs were left queued");
    for j in rest {
        d.ack(&j).await.expect("ack");
    }
}

pub async fn outbox_follows_the_transaction(d: &dyn Driver, db: &Db) {
    let k = kind("outbox");
    let rolled = NewJob::new(&k, json!("rolled back"));
    let mut tx = db.begin().await.expect("begin");
    d.enqueue_in(&mut tx, &[rolled]).await.expect("enqueue_in");
    tx.rollback().await.expect("rollback");

    let kept = NewJob::new(&k, json!("committed"));
    let id = kept.id;
    let mut tx = db.begin().await.expect("begin");
    d.enqueue_in(&mut tx, &[kept]).await.expect("enqueue_in");
    tx.commit().await.expect("commit");
    d.committed();

    let got = reserve_n(d, &k, 2, VIS, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "outbox: exactly the committed job");
    assert_eq!((got[0].id, &got[0].payload), (id, &json!("committed")));
    d.ack(&got[0]).await.expect("ack");
    let late = reserve_n(d, &k, 1, VIS, Duration::from_millis(500)).await;
    assert!(late.is_empty(), "outbox: the rolled-back job never appears");
}
