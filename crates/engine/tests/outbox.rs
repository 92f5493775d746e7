//! The outbox through the write pipeline: a handler that enqueues a job in
//! `before_commit` gets a job exactly when the record commits — none when the
//! write fails after it (a later handler vetoes) — and the job is reservable
//! right after the write answers.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rocket_engine::effects::{Change, EffectHandler, Effects};
use rocket_engine::migrate::migrate_entity;
use rocket_engine::perm::Caller;
use rocket_engine::write::{self, Limits, WriteCx};
use rocket_error::{Error, Result};
use rocket_meta::{parse_def, EntityDef, Registry};
use rocket_queue::{Driver, NewJob, Policies, Queue, TableDriver};
use rocket_store::migrations::{self, Schema};
use rocket_store::{Db, SqliteDb, SqliteSettings, Tx};
use serde_json::json;

/// Enqueues one job per change, in the write's transaction.
struct Outboxer;

impl EffectHandler for Outboxer {
    fn before_commit<'a>(&'a self, tx: &'a mut Tx, c: &'a Change<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let queue = c.queue.ok_or_else(|| Error::internal("no queue wired"))?;
            let job = NewJob::new(
                "note.changed",
                json!({"action": c.action.as_str(), "title": c.fields.get("title")}),
            );
            queue.enqueue_in(tx, vec![job]).await.map_err(Error::from)
        })
    }

    fn after_commit<'a>(&'a self, c: &'a Change<'a>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(q) = c.queue {
                q.committed();
            }
        })
    }
}

struct Veto;

impl EffectHandler for Veto {
    fn before_commit<'a>(&'a self, _tx: &'a mut Tx, _c: &'a Change<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(Error::validation("vetoed")) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_enqueued_in_a_write_exist_exactly_when_it_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::Sqlite(
        SqliteDb::open(SqliteSettings {
            path: dir.path().join("app.db"),
            readers: 2,
            busy_timeout: Duration::from_secs(5),
            checkout_timeout: Duration::from_secs(5),
        })
        .expect("sqlite opens"),
    );
    migrations::apply(&db, Schema::App).await.expect("system tables");
    let def: EntityDef = parse_def(&json!({
        "name": "note", "table": "notes",
        "primary_key": {"field": "id", "type": "uuid", "generated": true},
        "fields": [{"name": "id", "type": "uuid"}, {"name": "title", "type": "string", "required": true}]
    }))
    .expect("definition parses");
    let mut tx = db.begin().await.expect("begin");
    migrate_entity(&mut tx, &def).await.expect("migrates");
    tx.commit().await.expect("commit");
    let reg = Arc::new(Registry::build(db.dialect(), vec![def], Vec::new()));
    let entity = reg.entity("note").cloned().expect("entity");

    let driver = Arc::new(TableDriver::sqlite(db.clone()));
    let queue = Queue::new("shop", driver.clone(), Arc::new(Policies::default()));
    let caller = Caller {
        id: "u1".into(),
        roles: vec!["admin".into()],
    };
    let vetoed = Effects::new(vec![Arc::new(Outboxer), Arc::new(Veto)]);
    let cx = WriteCx {
        app: "shop",
        caller: &caller,
        limits: Limits::default(),
        effects: &vetoed,
        queue: Some(&queue),
    };
    let err = write::create(&db, &reg, &entity, br#"{"title": "lost"}"#, &cx)
        .await
        .expect_err("vetoed");
    assert_eq!(err.status(), 422);

    let effects = Effects::new(vec![Arc::new(Outboxer)]);
    let cx = WriteCx {
        effects: &effects,
        ..cx
    };
    write::create(&db, &reg, &entity, br#"{"title": "kept"}"#, &cx)
        .await
        .expect("create");

    let jobs = driver
        .reserve("note.changed", 10, Duration::from_secs(30))
        .await
        .expect("reserve");
    assert_eq!(jobs.len(), 1, "one job, for the write that committed: {jobs:?}");
    assert_eq!(jobs[0].payload, json!({"action": "create", "title": "kept"}));
}
