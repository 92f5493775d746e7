//! The conformance suite (`rocket_queue::conformance`) against every driver,
//! on the real services.

mod support;

use std::sync::Arc;

use rocket_queue::conformance::{run_all, Subject};
use rocket_queue::{Driver, MemoryDriver, RedisBroker, TableDriver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_driver_conforms() {
    let s = Subject {
        driver: Arc::new(MemoryDriver::new(10_000)),
        db: None,
    };
    run_all(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_driver_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = support::sqlite_app_db(dir.path()).await;
    let s = Subject {
        driver: Arc::new(TableDriver::sqlite(db.clone())),
        db: Some(db),
    };
    run_all(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_driver_conforms() {
    let Some((db, name)) = support::pg_app_db().await else {
        return;
    };
    let s = Subject {
        driver: Arc::new(TableDriver::postgres(db.clone(), support::pg_config(&db))),
        db: Some(db.clone()),
    };
    run_all(&s).await;
    support::drop_pg(db, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_driver_conforms() {
    let broker = match RedisBroker::connect(&support::redis_url()).await {
        Ok(b) => b,
        Err(e) => {
            let _: Option<()> = support::unreachable("Redis", e);
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = support::sqlite_app_db(dir.path()).await;
    let app = format!("conf-{}", uuid::Uuid::new_v4().simple());
    let driver = broker.open(&app, db.clone());
    let s = Subject {
        driver: driver.clone(),
        db: Some(db),
    };
    run_all(&s).await;
    rocket_queue::Driver::close(driver.as_ref()).await;
    support::delete_redis_keys(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_driver_conforms() {
    let broker = match rocket_queue::RabbitBroker::connect(&support::amqp_url()).await {
        Ok(b) => b,
        Err(e) => return support::unreachable::<()>("RabbitMQ", e).unwrap_or(()),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = support::sqlite_app_db(dir.path()).await;
    let app = format!("conf{}", uuid::Uuid::new_v4().simple());
    let driver = broker.open(&app, db.clone()).await.expect("open");
    let s = Subject {
        driver: driver.clone(),
        db: Some(db),
    };
    run_all(&s).await;
    driver.close().await;
    driver.delete_queues().await.expect("delete queues");
}

#[tokio::test]
async fn memory_queue_is_bounded() {
    use rocket_queue::{NewJob, QueueError};
    let d = MemoryDriver::new(2);
    d.enqueue(vec![
        NewJob::new("k", serde_json::json!(1)),
        NewJob::new("k", serde_json::json!(2)),
    ])
    .await
    .expect("fits");
    let full = d.enqueue(vec![NewJob::new("k", serde_json::json!(3))]).await;
    assert!(matches!(full, Err(QueueError::Full(2))), "{full:?}");
    let e: rocket_error::Error = full.err().map(Into::into).expect("an error");
    assert_eq!((e.status(), e.retry_after), (503, Some(1)));
}
