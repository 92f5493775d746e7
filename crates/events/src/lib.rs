//! Instrumentation and the events API (semantics.md §18, http-api.md
//! §10.4): per-request traces, business events, batched ingestion into
//! `_events` through the store's write buffer, the three query endpoints,
//! and retention.
//!
//! - [`trace`]: one request's spans, collected in memory, handed over whole.
//! - [`ingest`]: the emit body and the batch endpoint's array / NDJSON.
//! - [`query`]: list, trace tree, stats.
//! - [`row`]: the `_events` row and its bulk-table description.
//!
//! Must not: write `_events` on the request path (the buffer does, in
//! batches), or hold more than `instrumentation.buffer_capacity` events per
//! app (beyond: a span is dropped and counted; ingestion answers 503).

pub mod ingest;
pub mod query;
pub mod row;
mod statements;
pub mod trace;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rocket_apps::{AppContext, AppService, Plugins};
use rocket_config::{Config, InstrumentationConfig};
use rocket_store::buffer::{BufferOptions, Bulk, Full, WriteBuffer};
use rocket_store::Value;

pub use row::Event;
pub use trace::{Span, Trace};

/// One app's events: its buffer and the settings that shape its traces.
pub struct AppEvents {
    pub config: InstrumentationConfig,
    buffer: WriteBuffer<Vec<Value>>,
}

impl AppEvents {
    /// Whether this request is traced: instrumentation on and sampled in.
    pub fn sampled(&self) -> bool {
        self.config.enabled
            && (self.config.sampling_rate >= 1.0 || rand::random::<f64>() < self.config.sampling_rate)
    }

    /// Queues spans; what does not fit is dropped and counted.
    pub fn record(&self, events: Vec<Event>) {
        for e in events {
            self.buffer.push(e.into_row());
        }
    }

    /// Queues all or none: ingestion that must answer 503 rather than drop.
    pub fn ingest(&self, events: Vec<Event>) -> Result<(), Full> {
        self.buffer
            .push_all(events.into_iter().map(Event::into_row).collect())
    }

    /// Events waiting for their write.
    pub fn depth(&self) -> usize {
        self.buffer.depth()
    }

    /// Events the buffer holds at most.
    pub fn capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// Returns once everything queued so far is written.
    pub async fn flush(&self) {
        self.buffer.flush().await
    }
}

/// The per-app service: the buffer's owner, the retention loop, and the
/// flush on a graceful stop (SIGTERM loses no queued event).
struct EventsService {
    events: Arc<AppEvents>,
    retention: tokio::task::JoinHandle<()>,
}

impl AppService for EventsService {
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.retention.abort();
            self.events.flush().await;
        })
    }
}

impl Drop for EventsService {
    fn drop(&mut self) {
        self.retention.abort();
    }
}

fn start(config: &InstrumentationConfig, app: &Arc<AppContext>) -> Arc<dyn AppService> {
    let opts = BufferOptions {
        capacity: config.buffer_capacity,
        flush_every: Duration::from_millis(config.flush_interval_ms.max(1)),
        batch: config.buffer_size.max(1),
    };
    let buffer = WriteBuffer::start(&app.name, app.db.clone(), Bulk(&row::EVENTS), opts);
    let events = Arc::new(AppEvents {
        config: config.clone(),
        buffer,
    });
    app.insert_ext(events.clone());
    let retention = tokio::spawn(query::retention_loop(
        app.name.clone(),
        app.db.clone(),
        config.retention_days,
        Duration::from_secs(config.retention_interval_secs.max(1)),
    ));
    Arc::new(EventsService { events, retention })
}

/// What events plug into a node: the per-app buffer service.
pub fn plugins(config: &Config) -> Plugins {
    let config = config.instrumentation.clone();
    Plugins {
        services: vec![Arc::new(move |app: &Arc<AppContext>| start(&config, app))],
        ..Plugins::default()
    }
}
