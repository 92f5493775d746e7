//! A queue broker that is down when the server starts: the server says which
//! one and exits non-zero; it never falls back to another driver silently.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

async fn start_against(driver: &str, url: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = Command::new(env!("CARGO_BIN_EXE_rocket"))
        .env("ROCKET_SERVER_HOST", "127.0.0.1")
        .env("ROCKET_SERVER_PORT", "0")
        .env("ROCKET_DATABASE_DRIVER", "sqlite")
        .env("ROCKET_DATABASE_PATH", dir.path().join("data"))
        .env("ROCKET_STORAGE_LOCAL_PATH", dir.path().join("uploads"))
        .env("ROCKET_QUEUE_DRIVER", driver)
        .env("ROCKET_QUEUE_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn rocket");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the server gave up within 60 s")
        .expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn a_redis_broker_that_is_down_stops_the_start() {
    let (code, err) = start_against("redis", "redis://127.0.0.1:1").await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("redis unavailable"), "names the broker: {err}");
    assert!(err.contains("127.0.0.1:1"), "names where it looked: {err}");
}

#[tokio::test]
async fn a_rabbitmq_broker_that_is_down_stops_the_start() {
    let (code, err) = start_against("rabbitmq", "amqp://guest:secret@127.0.0.1:1/%2f").await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("rabbitmq unavailable"), "names the broker: {err}");
    assert!(
        !err.contains("secret"),
        "the password stays out of the message: {err}"
    );
}
