//! Opening pools and creating/dropping databases for the management store and
//! for each app, per driver.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use rocket_config::{Config, Driver};
use rocket_error::{Error, Result};
use rocket_store::{ddl, Db, PgDb, PgSettings, SqliteDb, SqliteSettings, StoreErrorKind};

/// PostgreSQL connection settings without a database name chosen.
pub fn pg_base(config: &Config) -> Result<tokio_postgres::Config> {
    let db = &config.database;
    let mut pg = match &db.url {
        Some(url) => tokio_postgres::Config::from_str(url)
            .map_err(|e| Error::internal(format!("database.url is not a valid PostgreSQL URL: {e}")))?,
        None => {
            let mut c = tokio_postgres::Config::new();
            c.host(&db.host).port(db.port).user(&db.user);
            if !db.password.is_empty() {
                c.password(&db.password);
            }
            c
        }
    };
    pg.application_name("rocket");
    pg.connect_timeout(Duration::from_secs(5));
    Ok(pg)
}

/// Name of the management database: the URL's dbname wins over database.name.
pub fn management_db_name(config: &Config) -> String {
    config
        .database
        .url
        .as_deref()
        .and_then(|u| tokio_postgres::Config::from_str(u).ok())
        .and_then(|c| c.get_dbname().map(str::to_string))
        .unwrap_or_else(|| config.database.name.clone())
}

pub fn sqlite_path(config: &Config, db_name: &str) -> PathBuf {
    config.database.path.join(format!("{db_name}.db"))
}

fn checkout(config: &Config) -> Duration {
    Duration::from_millis(config.database.pool_timeout_ms)
}

pub fn open(config: &Config, driver: Driver, db_name: &str, pool_size: usize) -> Result<Db> {
    match driver {
        Driver::Postgres => {
            let mut pg = pg_base(config)?;
            pg.dbname(db_name);
            let db = PgDb::connect(PgSettings {
                config: pg,
                max_size: pool_size,
                checkout_timeout: checkout(config),
            })?;
            Ok(Db::Pg(db))
        }
        Driver::Sqlite => {
            let db = SqliteDb::open(SqliteSettings {
                path: sqlite_path(config, db_name),
                readers: pool_size,
                busy_timeout: Duration::from_secs(5),
                checkout_timeout: checkout(config),
            })?;
            Ok(Db::Sqlite(db))
        }
    }
}

/// A one-off connection to the `postgres` maintenance database for
/// CREATE/DROP DATABASE, which cannot run inside a pooled transaction.
async fn maintenance(config: &Config) -> Result<tokio_postgres::Client> {
    connect_to(config, "postgres").await
}

/// A one-off connection to database `name` itself.
async fn connect_to(config: &Config, name: &str) -> Result<tokio_postgres::Client> {
    let mut pg = pg_base(config)?;
    pg.dbname(name);
    let (client, conn) = pg
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| Error::internal(format!("cannot connect to database {name}: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Whether an existing PostgreSQL database with no app row (left by a crash
/// of an older build, or made by hand) may be dropped and provisioned anew:
/// only while it holds nothing but system tables, so no one's data is lost.
pub async fn pg_database_is_disposable(config: &Config, name: &str) -> Result<bool> {
    let client = connect_to(config, name).await?;
    Ok(!ddl::pg_has_business_tables(&client).await?)
}

pub async fn pg_database_exists(config: &Config, name: &str) -> Result<bool> {
    let client = maintenance(config).await?;
    Ok(ddl::pg_database_exists(&client, name).await?)
}

/// CREATE DATABASE; an existing database is a conflict unless `allow_existing`.
pub async fn create_database(
    config: &Config,
    driver: Driver,
    name: &str,
    allow_existing: bool,
) -> Result<()> {
    match driver {
        Driver::Postgres => {
            if pg_database_exists(config, name).await? {
                return if allow_existing {
                    Ok(())
                } else {
                    Err(Error::conflict(format!("Database already exists: {name}")))
                };
            }
            let client = maintenance(config).await?;
            match ddl::pg_create_database(&client, name).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    if e.kind == StoreErrorKind::AlreadyExists && allow_existing {
                        Ok(())
                    } else if e.kind == StoreErrorKind::AlreadyExists {
                        Err(Error::conflict(format!("Database already exists: {name}")))
                    } else {
                        Err(e.into())
                    }
                }
            }
        }
        Driver::Sqlite => {
            let path = sqlite_path(config, name);
            if path.exists() && !allow_existing {
                return Err(Error::conflict(format!("Database already exists: {name}")));
            }
            Ok(())
        }
    }
}

pub async fn drop_database(config: &Config, driver: Driver, name: &str) -> Result<()> {
    match driver {
        Driver::Postgres => {
            let client = maintenance(config).await?;
            Ok(ddl::pg_drop_database(&client, name).await?)
        }
        Driver::Sqlite => {
            let path = sqlite_path(config, name);
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            Ok(())
        }
    }
}
