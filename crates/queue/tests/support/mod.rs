//! What the queue's integration tests share: fresh app databases on both
//! stores (system migrations applied, as an app database has them) and the
//! rule for services that are not running: skip with a message on a
//! developer machine, fail under `CI=true`.
#![allow(dead_code)]

pub mod proxy;

use std::time::Duration;

use rocket_store::migrations::{self, Schema};
use rocket_store::{Db, PgDb, PgSettings, SqliteDb, SqliteSettings};

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A service is unreachable: `None` (skip) off CI, a panic on CI.
pub fn unreachable<T>(service: &str, why: impl std::fmt::Display) -> Option<T> {
    if ci() {
        panic!("CI=true but {service} is unreachable: {why}");
    }
    eprintln!("SKIPPED: {service} is unreachable ({why}); start it to run this suite");
    None
}

pub fn pg_url() -> String {
    std::env::var("ROCKET_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("ROCKET_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub fn amqp_url() -> String {
    std::env::var("ROCKET_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub async fn sqlite_app_db(dir: &std::path::Path) -> Db {
    let db = Db::Sqlite(
        SqliteDb::open(SqliteSettings {
            path: dir.join("app.db"),
            readers: 2,
            busy_timeout: Duration::from_secs(5),
            checkout_timeout: Duration::from_secs(5),
        })
        .expect("open sqlite"),
    );
    migrations::apply(&db, Schema::App).await.expect("migrate sqlite");
    db
}

/// A fresh PostgreSQL database with the app system tables, and its name
/// (drop it with [`drop_pg`]); None when PostgreSQL is unreachable off CI.
pub async fn pg_app_db() -> Option<(Db, String)> {
    let admin_cfg: tokio_postgres::Config = pg_url().parse().expect("pg url");
    let (client, conn) = match admin_cfg.connect(tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => return unreachable("PostgreSQL", e),
    };
    tokio::spawn(conn);
    let name = format!("rocket_q_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let mut cfg = admin_cfg.clone();
    cfg.dbname(&name);
    let db = Db::Pg(
        PgDb::connect(PgSettings {
            config: cfg,
            max_size: 16,
            checkout_timeout: Duration::from_secs(10),
        })
        .expect("pool"),
    );
    migrations::apply(&db, Schema::App).await.expect("migrate pg");
    Some((db, name))
}

pub async fn drop_pg(db: Db, name: &str) {
    db.close();
    let admin_cfg: tokio_postgres::Config = pg_url().parse().expect("pg url");
    if let Ok((client, conn)) = admin_cfg.connect(tokio_postgres::NoTls).await {
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// The LISTEN settings of a PostgreSQL pool.
pub fn pg_config(db: &Db) -> tokio_postgres::Config {
    match db {
        Db::Pg(pg) => pg.config().clone(),
        Db::Sqlite(_) => panic!("not a PostgreSQL database"),
    }
}

/// Deletes every key of a test app (`rocket:q:{app}:*`) from the test Redis.
pub async fn delete_redis_keys(app: &str) {
    let Ok(client) = redis::Client::open(redis_url()) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let pattern = format!("rocket:q:{{{app}}}:*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("scan");
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("del");
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

/// `host:port` of the test broker, for a proxy in front of it.
pub fn amqp_host() -> String {
    let url = amqp_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_string()
}

/// Reaches the test broker through `addr` (a proxy) with the same login.
pub fn amqp_url_via(addr: std::net::SocketAddr) -> String {
    let url = amqp_url();
    url.replacen(&amqp_host(), &addr.to_string(), 1)
}
