//! SIGTERM loses no buffered event, against the real binary: events are
//! accepted (202) into a buffer that would not flush for ten minutes, the
//! server gets SIGTERM, and after a restart every one is in `_events`.
//! On SQLite and PostgreSQL.

use reqwest::Method;
use serde_json::{json, Value};

mod support;
use support::{drop_db, pg_admin, pg_env, unique, Rocket};

const BATCHES: usize = 10;
const PER_BATCH: usize = 500;

async fn sigterm_flushes_every_event(driver: &str) {
    let mut env = vec![
        ("ROCKET_INSTRUMENTATION_FLUSH_INTERVAL_MS", "600000".to_string()),
        ("ROCKET_INSTRUMENTATION_BUFFER_SIZE", "100000".to_string()),
        ("ROCKET_INSTRUMENTATION_SAMPLING_RATE", "0".to_string()),
    ];
    let mut pg = None;
    if driver == "postgres" {
        let Some(admin) = pg_admin().await else { return };
        let mgmt = unique("rocket_ef");
        env.extend(pg_env(&mgmt));
        pg = Some((admin, mgmt));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let srv = Rocket::start(dir.path(), &env).await;
    let platform = srv.token().await;
    let app = unique("ef");
    let (status, body) = srv
        .call(
            Method::POST,
            "/api/_platform/apps",
            Some(&platform),
            Some(json!({"name": app, "db_driver": driver})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let t = srv.app_token(&app).await;
    for b in 0..BATCHES {
        let batch: Vec<Value> = (0..PER_BATCH)
            .map(|i| json!({"action": "load.sent", "record_id": format!("{b}-{i}")}))
            .collect();
        let (status, body) = srv
            .call(
                Method::POST,
                &format!("/api/{app}/_events/batch"),
                Some(&t),
                Some(Value::Array(batch)),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    let code = srv.terminate().await;
    assert_eq!(code, Some(0), "graceful exit");

    let srv = Rocket::start(dir.path(), &env).await;
    let t = srv.app_token(&app).await;
    let (status, body) = srv
        .call(
            Method::GET,
            &format!("/api/{app}/_events?action=load.sent&per_page=1"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let stored = body["pagination"]["total"].as_u64().unwrap_or(0) as usize;
    assert_eq!(stored, BATCHES * PER_BATCH, "{driver}: events lost to SIGTERM");
    eprintln!(
        "{driver}: {stored} of {} accepted events stored after SIGTERM, 0 lost",
        BATCHES * PER_BATCH
    );
    srv.kill9().await;
    if let Some((admin, mgmt)) = pg {
        drop_db(&admin, &format!("rocket_{app}")).await;
        drop_db(&admin, &mgmt).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sigterm_flushes_every_event() {
    sigterm_flushes_every_event("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sigterm_flushes_every_event() {
    sigterm_flushes_every_event("postgres").await;
}
