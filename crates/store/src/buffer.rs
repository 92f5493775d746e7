//! The write buffer every fire-and-forget table shares (events, webhook
//! logs, and later audit rows and notification logs): rows are queued in
//! memory, bounded per app, and written in batches by one flusher task, every
//! `flush_every` or as soon as `batch` rows wait, through a [`Sink`] (binary
//! COPY / multi-row INSERT for plain tables, see [`crate::bulk`]; a crate
//! with upsert semantics brings its own statement).
//!
//! Nothing here blocks a request: a full buffer refuses the row at once
//! (counted as a drop, or answered 503 by a caller that must not drop), a
//! failed write is retried twice and then dropped and counted. `flush`
//! returns once everything queued before it is written: graceful stops call
//! it so SIGTERM loses nothing.
//!
//! Metrics (labels `table`, `app`): `rocket_buffer_rows_written_total`,
//! `rocket_buffer_dropped_total{reason=full|write_failed}`,
//! `rocket_buffer_flush_errors_total`, `rocket_buffer_depth`,
//! `rocket_buffer_flush_seconds`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use crate::bulk::BulkTable;
use crate::{Db, Result, Value};

/// Where a batch goes.
pub trait Sink: Send + Sync + 'static {
    type Row: Send + Sync + 'static;
    /// The table's name, for metrics and logs.
    fn table(&self) -> &'static str;
    fn write<'a>(&'a self, db: &'a Db, rows: &'a [Self::Row]) -> BoxFuture<'a, Result<u64>>;
}

/// Plain appends into a [`BulkTable`].
pub struct Bulk(pub &'static BulkTable);

impl Sink for Bulk {
    type Row = Vec<Value>;
    fn table(&self) -> &'static str {
        self.0.name
    }
    fn write<'a>(&'a self, db: &'a Db, rows: &'a [Vec<Value>]) -> BoxFuture<'a, Result<u64>> {
        Box::pin(db.insert_many(self.0, rows))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct BufferOptions {
    /// Rows held at most; beyond, pushes are refused.
    pub capacity: usize,
    /// Longest a queued row waits for its write.
    pub flush_every: Duration,
    /// A write starts as soon as this many rows wait (and takes at most this many).
    pub batch: usize,
}

enum Msg<R> {
    Row(R),
    Flush(oneshot::Sender<()>),
}

/// A handle to one buffer; clones share it.
pub struct WriteBuffer<R> {
    tx: mpsc::Sender<Msg<R>>,
    /// Rows queued or being written: the bound covers both.
    held: Arc<AtomicUsize>,
    capacity: usize,
    table: &'static str,
    app: Arc<str>,
}

impl<R> Clone for WriteBuffer<R> {
    fn clone(&self) -> Self {
        WriteBuffer {
            tx: self.tx.clone(),
            held: self.held.clone(),
            capacity: self.capacity,
            table: self.table,
            app: self.app.clone(),
        }
    }
}

/// The buffer is full: nothing of the call was queued.
#[derive(Debug)]
pub struct Full;

impl<R: Send + Sync + 'static> WriteBuffer<R> {
    /// Starts the flusher task (on the current Tokio runtime).
    pub fn start<S: Sink<Row = R>>(app: &str, db: Db, sink: S, opts: BufferOptions) -> WriteBuffer<R> {
        let capacity = opts.capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let app: Arc<str> = Arc::from(app);
        let held = Arc::new(AtomicUsize::new(0));
        let buf = WriteBuffer {
            tx,
            held: held.clone(),
            capacity,
            table: sink.table(),
            app: app.clone(),
        };
        tokio::spawn(run(app, db, sink, rx, held, opts));
        buf
    }

    /// Takes `n` of the capacity, or nothing when they do not fit.
    fn take(&self, n: usize) -> bool {
        let mut cur = self.held.load(Ordering::Relaxed);
        loop {
            if cur + n > self.capacity {
                return false;
            }
            match self
                .held
                .compare_exchange_weak(cur, cur + n, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Queues a row; a full buffer drops it (counted) and says so.
    pub fn push(&self, row: R) -> bool {
        if self.take(1) {
            if self.tx.try_send(Msg::Row(row)).is_ok() {
                return true;
            }
            self.held.fetch_sub(1, Ordering::AcqRel);
        }
        self.count_dropped("full", 1);
        false
    }

    /// Queues all rows or none (a caller that answers 503 instead of dropping).
    pub fn push_all(&self, rows: Vec<R>) -> std::result::Result<(), Full> {
        if rows.is_empty() {
            return Ok(());
        }
        let n = rows.len();
        if !self.take(n) {
            return Err(Full);
        }
        let Ok(permits) = self.tx.try_reserve_many(n) else {
            self.held.fetch_sub(n, Ordering::AcqRel);
            return Err(Full);
        };
        for (p, r) in permits.zip(rows) {
            p.send(Msg::Row(r));
        }
        Ok(())
    }

    /// Returns once every row queued before the call is written (or dropped).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Rows queued or being written now.
    pub fn depth(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn count_dropped(&self, reason: &'static str, n: u64) {
        dropped(self.table, &self.app, reason, n);
    }
}

fn dropped(table: &'static str, app: &str, reason: &'static str, n: u64) {
    metrics::counter!("rocket_buffer_dropped_total", "table" => table, "app" => app.to_string(), "reason" => reason)
        .increment(n);
}

async fn run<S: Sink>(
    app: Arc<str>,
    db: Db,
    sink: S,
    mut rx: mpsc::Receiver<Msg<S::Row>>,
    held: Arc<AtomicUsize>,
    opts: BufferOptions,
) {
    let batch = opts.batch.max(1);
    let mut rows: Vec<S::Row> = Vec::with_capacity(batch);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    let table = sink.table();
    let depth = metrics::gauge!("rocket_buffer_depth", "table" => table, "app" => app.to_string());
    loop {
        let Some(first) = rx.recv().await else { return };
        let deadline = tokio::time::Instant::now() + opts.flush_every;
        let mut next = Some(first);
        // Gather until the interval ends, the batch is full or a flush asks.
        loop {
            match next.take() {
                Some(Msg::Row(r)) => rows.push(r),
                Some(Msg::Flush(done)) => {
                    waiting.push(done);
                    break;
                }
                None => {}
            }
            if rows.len() >= batch {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => next = Some(m),
                Ok(None) | Err(_) => break,
            }
        }
        // A flush waits for everything queued before it: drain in batches.
        loop {
            while rows.len() < batch {
                match rx.try_recv() {
                    Ok(Msg::Row(r)) => rows.push(r),
                    Ok(Msg::Flush(done)) => waiting.push(done),
                    Err(_) => break,
                }
            }
            if !rows.is_empty() {
                write(&app, &db, &sink, &rows).await;
                held.fetch_sub(rows.len(), Ordering::AcqRel);
                rows.clear();
            }
            depth.set(held.load(Ordering::Relaxed) as f64);
            if waiting.is_empty() || rx.is_empty() {
                break;
            }
        }
        for w in waiting.drain(..) {
            let _ = w.send(());
        }
    }
}

async fn write<S: Sink>(app: &str, db: &Db, sink: &S, rows: &[S::Row]) {
    let table = sink.table();
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=3 {
        let started = Instant::now();
        match sink.write(db, rows).await {
            Ok(_) => {
                metrics::histogram!("rocket_buffer_flush_seconds", "table" => table, "app" => app.to_string())
                    .record(started.elapsed().as_secs_f64());
                metrics::counter!("rocket_buffer_rows_written_total", "table" => table, "app" => app.to_string())
                    .increment(rows.len() as u64);
                return;
            }
            Err(e) => {
                metrics::counter!("rocket_buffer_flush_errors_total", "table" => table, "app" => app.to_string())
                    .increment(1);
                if attempt == 3 {
                    tracing::warn!(app, table, error = %e, rows = rows.len(), "buffered rows not written; dropped");
                    dropped(table, app, "write_failed", rows.len() as u64);
                } else {
                    tokio::time::sleep(pause).await;
                    pause *= 4;
                }
            }
        }
    }
}
