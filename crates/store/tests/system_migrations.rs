//! The system-table migrator against real databases: applies once, is a no-op
//! afterwards, adopts databases created before the ledger existed, and lets
//! concurrent bootstraps of one database take turns.

use std::time::Duration;

use rocket_store::migrations::{self, Schema};
use rocket_store::{ddl, Db, Dialect, PgDb, PgSettings, SqliteDb, SqliteSettings, Value};

fn sqlite(dir: &tempfile::TempDir) -> Db {
    let db = SqliteDb::open(SqliteSettings {
        path: dir.path().join("t.db"),
        readers: 2,
        busy_timeout: Duration::from_secs(5),
        checkout_timeout: Duration::from_secs(5),
    })
    .expect("open sqlite");
    Db::Sqlite(db)
}

async fn count(db: &Db, sql: &str) -> i64 {
    let row = db.query_opt(sql, &[]).await.expect("query").expect("a row");
    row.i64("n").expect("n")
}

/// Applies every version on a fresh database, then nothing.
async fn applies_once(db: &Db, schema: Schema) {
    let latest = migrations::list(db.dialect(), schema).len() as u32;
    let first = migrations::apply(db, schema).await.expect("first apply");
    assert_eq!(first, (1..=latest).collect::<Vec<_>>());
    let again = migrations::apply(db, schema).await.expect("second apply");
    assert!(again.is_empty(), "{again:?}");
    let recorded = db
        .query_opt(
            "SELECT COUNT(*) AS n FROM _schema_migrations WHERE schema_name = $1",
            &[Value::text(schema.name())],
        )
        .await
        .expect("ledger")
        .and_then(|r| r.i64("n"));
    assert_eq!(recorded, Some(latest.into()));
}

#[tokio::test]
async fn sqlite_applies_each_schema_once() {
    for (schema, table) in [
        (Schema::Management, "SELECT COUNT(*) AS n FROM _platform_users"),
        (Schema::App, "SELECT COUNT(*) AS n FROM _users"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sqlite(&dir);
        applies_once(&db, schema).await;
        assert_eq!(count(&db, table).await, 0);
    }
}

#[tokio::test]
async fn sqlite_adopts_a_database_created_before_the_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite(&dir);
    // What bootstrap did before versioned migrations: the DDL, no ledger.
    let v1 = migrations::list(Dialect::Sqlite, Schema::App)[0].sql;
    db.batch(v1).await.expect("old bootstrap");
    db.execute(
        "INSERT INTO _users (id, email, password_hash) VALUES ($1, $2, $3)",
        &[Value::text("u1"), Value::text("a@b.c"), Value::text("x")],
    )
    .await
    .expect("a user");
    let ran = migrations::apply(&db, Schema::App).await.expect("adopt");
    assert_eq!(ran.first(), Some(&1));
    assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM _users").await, 1);
}

#[tokio::test]
async fn sqlite_concurrent_bootstraps_apply_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (sqlite(&dir), sqlite(&dir));
    let (ra, rb) = tokio::join!(
        migrations::apply(&a, Schema::App),
        migrations::apply(&b, Schema::App)
    );
    let mut all = ra.expect("a");
    all.extend(rb.expect("b"));
    assert_eq!(all.iter().filter(|v| **v == 1).count(), 1, "{all:?}");
}

/// PostgreSQL when reachable (`ROCKET_TEST_PG`), as the other suites do.
async fn pg_server() -> Option<(tokio_postgres::Config, tokio_postgres::Client)> {
    let url = std::env::var("ROCKET_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let cfg: tokio_postgres::Config = url.parse().ok()?;
    let connect = cfg.connect(tokio_postgres::NoTls);
    match tokio::time::timeout(Duration::from_secs(3), connect).await {
        Ok(Ok((client, conn))) => {
            tokio::spawn(conn);
            Some((cfg, client))
        }
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(!ci, "CI=true but PostgreSQL is unreachable at {url}");
            eprintln!("SKIPPED: PostgreSQL migrations test (unreachable at {url})");
            None
        }
    }
}

fn pg_pool(cfg: &tokio_postgres::Config, name: &str) -> Db {
    let mut cfg = cfg.clone();
    cfg.dbname(name);
    let db = PgDb::connect(PgSettings {
        config: cfg,
        max_size: 2,
        checkout_timeout: Duration::from_secs(10),
    })
    .expect("pool");
    Db::Pg(db)
}

#[tokio::test]
async fn postgres_applies_once_and_concurrent_bootstraps_take_turns() {
    let Some((cfg, client)) = pg_server().await else {
        return;
    };
    let name = format!("rocket_sm{}", uuid::Uuid::new_v4().simple());
    ddl::pg_create_database(&client, &name)
        .await
        .expect("create database");
    let (a, b) = (pg_pool(&cfg, &name), pg_pool(&cfg, &name));
    let (ra, rb) = tokio::join!(
        migrations::apply(&a, Schema::Management),
        migrations::apply(&b, Schema::Management)
    );
    let (ra, rb) = (ra.expect("node a"), rb.expect("node b"));
    assert_eq!(ra.len() + rb.len(), 1, "{ra:?} {rb:?}");
    applies_once(&a, Schema::App).await;
    assert_eq!(count(&a, "SELECT COUNT(*) AS n FROM _files").await, 0);
    a.close();
    b.close();
    ddl::pg_drop_database(&client, &name)
        .await
        .expect("drop database");
    assert!(!ddl::pg_database_exists(&client, &name).await.expect("exists"));
}
