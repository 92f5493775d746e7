//! Storage layer: two SQL dialects (PostgreSQL, SQLite) behind one async
//! interface, and the one place SQL differs between them.
//!
//! Owns:
//! - `Db` / `Tx`: pools and transactions; statements use `$n` placeholders and
//!   [`Value`] parameters on both dialects (rewritten for SQLite here).
//! - [`ddl`]: entity tables from dialect-neutral specs (column types per
//!   [`ddl::FieldType`], keys, defaults, indexes, deferred concurrent builds),
//!   plus CREATE/DROP DATABASE on PostgreSQL.
//! - [`migrations`]: the system tables as versioned SQL files per dialect
//!   (`migrations/<pg|sqlite>/<management|app>/V<n>__<name>.sql`), applied in
//!   order at bootstrap and recorded in `_schema_migrations`.
//!
//! Must not: know the metadata model (`rocket_meta` builds specs from its
//! definitions, never the other way round), decide HTTP errors, or hold any
//! domain rule. Above this crate nothing branches on [`Dialect`] or assembles
//! SQL text at run time; `tests/sql_stays_in_store.rs` keeps it so.
//!
//! Everything above this crate speaks `Db` / `Tx` (or the [`Executor`] trait
//! both implement) with `$n` placeholders and [`Value`] parameters; the
//! dialect modules are the only place the two differ.
//!
//! ## `sql/`: the read/write SQL
//!
//! The engine describes a statement as a plan value ([`sql::List`],
//! [`sql::Include`], [`sql::Insert`], [`sql::Update`], [`sql::ByKey`], …;
//! conditions with a typed [`sql::Op`]) and `sql/` renders it. What differs
//! per dialect sits side by side in `sql/pg.rs` and `sql/sqlite.rs`, so the
//! read and write pipelines above assemble no SQL and never branch on
//! [`Dialect`] (the admin and migration code is moving the same way). Statements
//! that depend only on metadata ([`sql::Table`], [`sql::JoinTable`]) are
//! rendered once when the registry snapshot is built.
//!
//! Must not: depend on the metadata or query crates (plans carry quoted
//! identifiers and values, not entities).

pub mod buffer;
pub mod bulk;
pub mod ddl;
mod dialect;
mod error;
mod executor;
pub mod listen;
pub mod migrations;
mod pg;
mod rows;
pub mod sql;
mod sqlite;
mod value;

pub use dialect::{quote_ident, Dialect};
pub use error::{StoreError, StoreErrorKind};
pub use executor::Executor;
pub use pg::{PgDb, PgSettings};
pub use rows::{Row, Rows};
pub use sqlite::{SqliteDb, SqliteSettings};
pub use value::{format_timestamp, parse_date, parse_timestamp, Value};

use std::sync::Arc;

pub type Result<T> = std::result::Result<T, StoreError>;

/// A connection pool to one database (management or one app).
#[derive(Clone)]
pub enum Db {
    Pg(Arc<PgDb>),
    Sqlite(Arc<SqliteDb>),
}

/// Pool gauges exported to metrics and `/health` diagnostics.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct PoolStats {
    pub max_size: usize,
    pub size: usize,
    pub idle: usize,
    pub waiting: usize,
    pub timeouts: u64,
}

impl Db {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Pg(_) => Dialect::Postgres,
            Db::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Runs a read statement outside any transaction.
    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        match self {
            Db::Pg(db) => db.query(sql, params).await,
            Db::Sqlite(db) => db.query(sql, params).await,
        }
    }

    /// Runs several independent reads. On PostgreSQL they are pipelined on one
    /// connection (one round trip); on SQLite they run back to back on one reader.
    pub async fn query_many(&self, stmts: &[(&str, &[Value])]) -> Result<Vec<Rows>> {
        match self {
            Db::Pg(db) => db.query_many(stmts).await,
            Db::Sqlite(db) => db.query_many(stmts).await,
        }
    }

    /// Convenience: first row of a read, if any.
    pub async fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs a single write statement in its own implicit transaction.
    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Db::Pg(db) => db.execute(sql, params).await,
            Db::Sqlite(db) => db.execute(sql, params).await,
        }
    }

    /// Runs a parameterless multi-statement script (DDL, bootstrap).
    pub async fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Pg(db) => db.batch(sql).await,
            Db::Sqlite(db) => db.batch(sql).await,
        }
    }

    pub async fn begin(&self) -> Result<Tx> {
        match self {
            Db::Pg(db) => Ok(Tx::Pg(db.begin().await?)),
            Db::Sqlite(db) => Ok(Tx::Sqlite(db.begin().await?)),
        }
    }

    pub fn stats(&self) -> PoolStats {
        match self {
            Db::Pg(db) => db.stats(),
            Db::Sqlite(db) => db.stats(),
        }
    }

    /// Whether the database answers (readiness checks).
    pub async fn ping(&self) -> Result<()> {
        self.query("SELECT 1 AS one", &[]).await.map(|_| ())
    }

    /// PostgreSQL: the settings of this database, for a dedicated
    /// connection (LISTEN); None on SQLite.
    pub fn pg_config(&self) -> Option<tokio_postgres::Config> {
        match self {
            Db::Pg(db) => Some(db.config().clone()),
            Db::Sqlite(_) => None,
        }
    }

    /// Closes the pool; later calls fail. Used on app delete and shutdown.
    pub fn close(&self) {
        match self {
            Db::Pg(db) => db.close(),
            Db::Sqlite(db) => db.close(),
        }
    }
}

/// One open transaction. Dropping it without `commit` rolls back.
#[allow(clippy::large_enum_variant)] // one per request, never stored in bulk
pub enum Tx {
    Pg(pg::PgTx),
    Sqlite(sqlite::SqliteTx),
}

impl Tx {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Pg(_) => Dialect::Postgres,
            Tx::Sqlite(_) => Dialect::Sqlite,
        }
    }

    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        match self {
            Tx::Pg(tx) => tx.query(sql, params).await,
            Tx::Sqlite(tx) => tx.query(sql, params).await,
        }
    }

    pub async fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        match self {
            Tx::Pg(tx) => tx.execute(sql, params).await,
            Tx::Sqlite(tx) => tx.execute(sql, params).await,
        }
    }

    pub async fn batch(&mut self, sql: &str) -> Result<()> {
        match self {
            Tx::Pg(tx) => tx.batch(sql).await,
            Tx::Sqlite(tx) => tx.batch(sql).await,
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Pg(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<()> {
        match self {
            Tx::Pg(tx) => tx.rollback().await,
            Tx::Sqlite(tx) => tx.rollback().await,
        }
    }
}
