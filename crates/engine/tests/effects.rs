//! The effect seam of the write pipeline: every top-level create, update
//! and delete reaches the registered handlers before commit (inside the
//! transaction) and after commit, with the change described; an error before
//! commit rolls the whole write back, including rows a handler wrote in the
//! same transaction.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use rocket_engine::effects::{Change, EffectHandler, Effects};
use rocket_engine::migrate::migrate_entity;
use rocket_engine::perm::Caller;
use rocket_engine::write::{self, Limits, WriteCx};
use rocket_error::{Error, Result};
use rocket_meta::{parse_def, EntityDef, Registry};
use rocket_store::{Db, SqliteDb, SqliteSettings, Tx, Value};
use serde_json::json;

/// Records what it sees; writes an audit row in the write's transaction.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
}

impl EffectHandler for Recorder {
    fn before_commit<'a>(&'a self, tx: &'a mut Tx, c: &'a Change<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let title = c.fields.get("title").cloned().unwrap_or_default();
            let old = c.old.and_then(|o| o.get("title").cloned()).unwrap_or_default();
            let has_row = c.row.is_some();
            self.seen.lock().map_err(Error::internal)?.push(format!(
                "before {} {} {} title={title} old={old} row={has_row} user={}",
                c.app,
                c.action.as_str(),
                c.entity.name,
                c.user.id
            ));
            tx.execute(
                "INSERT INTO audit (what) VALUES ($1)",
                &[Value::text(c.action.as_str())],
            )
            .await?;
            Ok(())
        })
    }

    fn after_commit<'a>(&'a self, c: &'a Change<'a>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(format!("after {}", c.action.as_str()));
            }
        })
    }
}

/// Refuses every write before commit.
struct Veto;

impl EffectHandler for Veto {
    fn before_commit<'a>(&'a self, _tx: &'a mut Tx, _c: &'a Change<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Err(Error::validation("vetoed")) })
    }
}

async fn setup(dir: &tempfile::TempDir) -> (Db, Arc<Registry>) {
    let db = Db::Sqlite(
        SqliteDb::open(SqliteSettings {
            path: dir.path().join("app.db"),
            readers: 2,
            busy_timeout: std::time::Duration::from_secs(5),
            checkout_timeout: std::time::Duration::from_secs(5),
        })
        .expect("sqlite opens"),
    );
    let def: EntityDef = parse_def(&json!({
        "name": "note", "table": "notes",
        "primary_key": {"field": "id", "type": "uuid", "generated": true},
        "fields": [{"name": "id", "type": "uuid"}, {"name": "title", "type": "string", "required": true}]
    }))
    .expect("definition parses");
    let mut tx = db.begin().await.expect("begin");
    migrate_entity(&mut tx, &def).await.expect("migrates");
    tx.batch("CREATE TABLE audit (what TEXT NOT NULL)")
        .await
        .expect("audit table");
    tx.commit().await.expect("commit");
    let reg = Registry::build(db.dialect(), vec![def], Vec::new());
    (db, Arc::new(reg))
}

async fn count(db: &Db, table: &str) -> i64 {
    let sql = match table {
        "notes" => "SELECT COUNT(*) AS n FROM notes",
        _ => "SELECT COUNT(*) AS n FROM audit",
    };
    db.query_opt(sql, &[])
        .await
        .expect("count")
        .and_then(|r| r.i64("n"))
        .unwrap_or(-1)
}

fn admin() -> Caller {
    Caller {
        id: "u1".into(),
        roles: vec!["admin".into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_reaches_the_handlers_before_and_after_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, reg) = setup(&dir).await;
    let entity = reg.entity("note").cloned().expect("entity");
    let rec = Arc::new(Recorder::default());
    let effects = Effects::new(vec![rec.clone()]);
    let caller = admin();
    let cx = WriteCx {
        app: "shop",
        caller: &caller,
        limits: Limits::default(),
        effects: &effects,
        queue: None,
    };
    let row = write::create(&db, &reg, &entity, br#"{"title": "a"}"#, &cx)
        .await
        .expect("create");
    let id = row["id"].as_str().expect("id").to_string();
    write::update(&db, &reg, &entity, &id, br#"{"title": "b"}"#, &cx)
        .await
        .expect("update");
    write::delete(&db, &reg, &entity, &id, &cx).await.expect("delete");
    let seen = rec.seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        vec![
            "before shop create note title=\"a\" old=null row=true user=u1",
            "after create",
            "before shop update note title=\"b\" old=\"a\" row=true user=u1",
            "after update",
            "before shop delete note title=\"b\" old=null row=false user=u1",
            "after delete",
        ]
    );
    assert_eq!(
        count(&db, "audit").await,
        3,
        "the handler's rows commit with the writes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_before_commit_rolls_the_whole_write_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, reg) = setup(&dir).await;
    let entity = reg.entity("note").cloned().expect("entity");
    let rec = Arc::new(Recorder::default());
    let effects = Effects::new(vec![rec.clone(), Arc::new(Veto)]);
    let caller = admin();
    let cx = WriteCx {
        app: "shop",
        caller: &caller,
        limits: Limits::default(),
        effects: &effects,
        queue: None,
    };
    let err = write::create(&db, &reg, &entity, br#"{"title": "a"}"#, &cx)
        .await
        .expect_err("vetoed");
    assert_eq!(err.status(), 422);
    assert_eq!(count(&db, "notes").await, 0, "no record committed");
    assert_eq!(
        count(&db, "audit").await,
        0,
        "the first handler's row rolled back too"
    );
    let seen = rec.seen.lock().expect("lock").clone();
    assert_eq!(
        seen.len(),
        1,
        "no after-commit call for a write that did not commit: {seen:?}"
    );

    // Without handlers the same write commits.
    let none = Effects::none();
    let cx = WriteCx { effects: &none, ..cx };
    write::create(&db, &reg, &entity, br#"{"title": "a"}"#, &cx)
        .await
        .expect("create");
    assert_eq!(count(&db, "notes").await, 1);
}
