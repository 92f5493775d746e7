//! One interface for running statements on a pool ([`Db`]) or inside a
//! transaction ([`Tx`]), so code that reads or writes a row is written once.
//!
//! Static dispatch with `impl Future` returns (no boxing): a call through the
//! trait compiles to the same code as calling `Db`/`Tx` directly.

use std::future::Future;

use crate::{Db, Dialect, Result, Row, Rows, Tx, Value};

/// Runs statements; implemented by `&Db`, `Tx` and `&mut` of any executor,
/// so callers pass `db` (a `&Db`) or `&mut tx`.
pub trait Executor: Send {
    fn dialect(&self) -> Dialect;

    fn query(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<Rows>> + Send;

    fn execute(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<u64>> + Send;

    /// The first row of a read, if any.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<Option<Row>>> + Send {
        async move { Ok(self.query(sql, params).await?.into_iter().next()) }
    }
}

impl Executor for &Db {
    fn dialect(&self) -> Dialect {
        Db::dialect(self)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<Rows>> + Send {
        Db::query(self, sql, params)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<u64>> + Send {
        Db::execute(self, sql, params)
    }
}

impl Executor for Tx {
    fn dialect(&self) -> Dialect {
        Tx::dialect(self)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<Rows>> + Send {
        Tx::query(self, sql, params)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<u64>> + Send {
        Tx::execute(self, sql, params)
    }
}

impl<E: Executor + ?Sized> Executor for &mut E {
    fn dialect(&self) -> Dialect {
        (**self).dialect()
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<Rows>> + Send {
        (**self).query(sql, params)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> impl Future<Output = Result<u64>> + Send {
        (**self).execute(sql, params)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{SqliteDb, SqliteSettings};

    /// One function, run on the pool and inside a transaction.
    async fn add_and_count(mut ex: impl Executor, name: &str) -> Result<i64> {
        ex.execute("INSERT INTO t (name) VALUES ($1)", &[Value::text(name)])
            .await?;
        let row = ex.query_opt("SELECT COUNT(*) AS n FROM t", &[]).await?;
        Ok(row.and_then(|r| r.i64("n")).unwrap_or(-1))
    }

    #[tokio::test]
    async fn pool_and_transaction_share_code() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("rocket-exec-{}", uuid::Uuid::new_v4()));
        let db = Db::Sqlite(SqliteDb::open(SqliteSettings {
            path: dir.join("t.db"),
            readers: 1,
            busy_timeout: Duration::from_secs(1),
            checkout_timeout: Duration::from_secs(1),
        })?);
        db.batch("CREATE TABLE t (name TEXT)").await?;
        assert_eq!(add_and_count(&db, "a").await?, 1);
        let mut tx = db.begin().await?;
        assert_eq!(Executor::dialect(&&mut tx), Dialect::Sqlite);
        assert_eq!(add_and_count(&mut tx, "b").await?, 2);
        tx.rollback().await?;
        assert_eq!(add_and_count(&db, "c").await?, 2);
        db.close();
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}
