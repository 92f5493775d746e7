//! SQLite: one writer connection (FIFO-queued, so concurrent writers wait
//! instead of seeing SQLITE_BUSY) plus a bounded pool of WAL readers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedMutexGuard, Semaphore};

use crate::dialect::to_sqlite_placeholders;
use crate::error::{StoreError, StoreErrorKind};
use crate::{PoolStats, Result, Rows, Value};

#[derive(Debug, Clone)]
pub struct SqliteSettings {
    pub path: PathBuf,
    /// Concurrent reader connections.
    pub readers: usize,
    /// How long a statement waits on a lock held by another process.
    pub busy_timeout: Duration,
    /// How long a request waits for a connection before getting 503.
    pub checkout_timeout: Duration,
}

type Writer = Arc<tokio::sync::Mutex<Option<Connection>>>;

pub struct SqliteDb {
    settings: SqliteSettings,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    reader_permits: Arc<Semaphore>,
    opened: AtomicUsize,
    waiting: AtomicUsize,
    timeouts: AtomicU64,
    closed: AtomicBool,
}

fn closed_err() -> StoreError {
    StoreError::new(StoreErrorKind::Closed, "database is closed")
}

fn join_err(e: tokio::task::JoinError) -> StoreError {
    StoreError::other(format!("database task failed: {e}"))
}

fn open(settings: &SqliteSettings) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        &settings.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(settings.busy_timeout)?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA case_sensitive_like=ON;")?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

fn run_query(conn: &Connection, sql: &str, params: &[Value]) -> Result<Rows> {
    let sql = to_sqlite_placeholders(sql);
    let mut stmt = conn.prepare_cached(&sql)?;
    let columns: Arc<[String]> = stmt.column_names().map(String::from).collect();
    let n = columns.len();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut vals = Vec::with_capacity(n);
        for i in 0..n {
            vals.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Float(v),
                ValueRef::Text(t) | ValueRef::Blob(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            });
        }
        out.push(vals);
    }
    Ok(Rows { columns, rows: out })
}

fn run_execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64> {
    let sql = to_sqlite_placeholders(sql);
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
}

impl SqliteDb {
    pub fn open(settings: SqliteSettings) -> Result<Arc<SqliteDb>> {
        if let Some(dir) = settings.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::other(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let writer = open(&settings)?;
        let readers = settings.readers.max(1);
        Ok(Arc::new(SqliteDb {
            writer: Arc::new(tokio::sync::Mutex::new(Some(writer))),
            readers: Mutex::new(Vec::new()),
            reader_permits: Arc::new(Semaphore::new(readers)),
            opened: AtomicUsize::new(1),
            waiting: AtomicUsize::new(0),
            timeouts: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            settings: SqliteSettings { readers, ..settings },
        }))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.settings.path
    }

    async fn lock_writer(&self) -> Result<OwnedMutexGuard<Option<Connection>>> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(closed_err());
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let res =
            tokio::time::timeout(self.settings.checkout_timeout, self.writer.clone().lock_owned()).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        match res {
            Ok(g) if g.is_some() => Ok(g),
            Ok(_) => Err(closed_err()),
            Err(_) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(StoreError::new(
                    StoreErrorKind::PoolTimeout,
                    "timed out waiting for the database writer",
                ))
            }
        }
    }

    /// Runs `f` on a reader connection in the blocking pool.
    async fn with_reader<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(closed_err());
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = tokio::time::timeout(
            self.settings.checkout_timeout,
            self.reader_permits.clone().acquire_owned(),
        )
        .await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let permit = match permit {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(closed_err()),
            Err(_) => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(StoreError::new(
                    StoreErrorKind::PoolTimeout,
                    "timed out waiting for a database connection",
                ));
            }
        };
        let pooled = self.readers.lock().map_err(|_| closed_err())?.pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let settings = self.settings.clone();
                let c = tokio::task::spawn_blocking(move || open(&settings))
                    .await
                    .map_err(join_err)??;
                self.opened.fetch_add(1, Ordering::Relaxed);
                c
            }
        };
        let (conn, res) = tokio::task::spawn_blocking(move || {
            let r = f(&conn);
            (conn, r)
        })
        .await
        .map_err(join_err)?;
        if !self.closed.load(Ordering::Relaxed) {
            if let Ok(mut pool) = self.readers.lock() {
                pool.push(conn);
            }
        }
        drop(permit);
        res
    }

    async fn with_writer<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let guard = self.lock_writer().await?;
        tokio::task::spawn_blocking(move || match guard.as_ref() {
            Some(c) => f(c),
            None => Err(closed_err()),
        })
        .await
        .map_err(join_err)?
    }

    pub async fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.with_reader(move |c| run_query(c, &sql, &params)).await
    }

    pub async fn query_many(&self, stmts: &[(&str, &[Value])]) -> Result<Vec<Rows>> {
        let owned: Vec<(String, Vec<Value>)> =
            stmts.iter().map(|(s, p)| (s.to_string(), p.to_vec())).collect();
        self.with_reader(move |c| owned.iter().map(|(s, p)| run_query(c, s, p)).collect())
            .await
    }

    pub async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.with_writer(move |c| run_execute(c, &sql, &params)).await
    }

    pub async fn batch(&self, sql: &str) -> Result<()> {
        let sql = sql.to_string();
        self.with_writer(move |c| Ok(c.execute_batch(&sql)?)).await
    }

    /// Multi-row prepared INSERTs of `rows` in one transaction (see
    /// [`crate::bulk`]).
    pub(crate) async fn insert_many(
        &self,
        table: &crate::bulk::BulkTable,
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        let chunk = table.sqlite_chunk();
        let full = table.sqlite_insert(chunk);
        let rest = table.sqlite_insert(rows.len() % chunk);
        self.with_writer(move |c| {
            c.execute_batch("BEGIN IMMEDIATE")?;
            let run = || -> Result<u64> {
                let mut n = 0;
                for part in rows.chunks(chunk) {
                    let sql = if part.len() == chunk { &full } else { &rest };
                    let mut stmt = c.prepare_cached(sql)?;
                    n += stmt.execute(rusqlite::params_from_iter(part.iter().flatten()))? as u64;
                }
                Ok(n)
            };
            match run() {
                Ok(n) => {
                    c.execute_batch("COMMIT")?;
                    Ok(n)
                }
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })
        .await
    }

    pub async fn begin(&self) -> Result<SqliteTx> {
        let guard = self.lock_writer().await?;
        let mut tx = SqliteTx {
            guard: Some(guard),
            done: false,
        };
        tx.run(|c| Ok(c.execute_batch("BEGIN IMMEDIATE")?)).await?;
        Ok(tx)
    }

    pub fn stats(&self) -> PoolStats {
        let idle = self.readers.lock().map(|r| r.len()).unwrap_or(0);
        PoolStats {
            max_size: self.settings.readers + 1,
            size: self.opened.load(Ordering::Relaxed),
            idle,
            waiting: self.waiting.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.reader_permits.close();
        if let Ok(mut r) = self.readers.lock() {
            r.clear();
        }
        if let Ok(mut w) = self.writer.try_lock() {
            w.take();
        }
    }
}

/// A write transaction holding the writer connection until commit/rollback.
pub struct SqliteTx {
    guard: Option<OwnedMutexGuard<Option<Connection>>>,
    done: bool,
}

impl SqliteTx {
    async fn run<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let guard = self.guard.take().ok_or_else(closed_err)?;
        let (guard, res) = tokio::task::spawn_blocking(move || {
            let r = match guard.as_ref() {
                Some(c) => f(c),
                None => Err(closed_err()),
            };
            (guard, r)
        })
        .await
        .map_err(join_err)?;
        self.guard = Some(guard);
        res
    }

    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows> {
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.run(move |c| run_query(c, &sql, &params)).await
    }

    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let (sql, params) = (sql.to_string(), params.to_vec());
        self.run(move |c| run_execute(c, &sql, &params)).await
    }

    pub async fn batch(&mut self, sql: &str) -> Result<()> {
        let sql = sql.to_string();
        self.run(move |c| Ok(c.execute_batch(&sql)?)).await
    }

    pub async fn commit(mut self) -> Result<()> {
        self.done = true;
        let res = self.run(|c| Ok(c.execute_batch("COMMIT")?)).await;
        if res.is_err() {
            let _ = self.run(|c| Ok(c.execute_batch("ROLLBACK")?)).await;
        }
        res
    }

    pub async fn rollback(mut self) -> Result<()> {
        self.done = true;
        self.run(|c| Ok(c.execute_batch("ROLLBACK")?)).await
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(Some(conn)) = self.guard.as_deref() {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
}
