//! Prometheus metrics at `GET /metrics`: request counts and latency by route
//! and status, and pool gauges (size, idle, waiting, checkout timeouts) for
//! the management database and every app, and job queue depth by state,
//! sampled at scrape time. They name
//! every app, so who may scrape is configured (`metrics.*`, decision 010).

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use rocket_error::Error;

use crate::error::ApiError;
use crate::extract::bearer;
use crate::AppState;

/// One recorder per process (several test servers share it).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .expect("static bucket list is valid")
            .build_recorder();
        let h = recorder.handle();
        // Fails only if another recorder was installed first; then ours stays unused.
        let _ = metrics::set_global_recorder(recorder);
        h
    })
}

pub fn init() {
    let _ = handle();
}

/// Records every request under its route template (never the raw path, so
/// ids do not explode the label set).
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("rocket_http_requests_total", &labels).increment(1);
    metrics::histogram!("rocket_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    res
}

fn pool_gauges(db: &str, stats: rocket_store::PoolStats) {
    let l = [("db", db.to_string())];
    metrics::gauge!("rocket_db_pool_max", &l).set(stats.max_size as f64);
    metrics::gauge!("rocket_db_pool_size", &l).set(stats.size as f64);
    metrics::gauge!("rocket_db_pool_idle", &l).set(stats.idle as f64);
    metrics::gauge!("rocket_db_pool_waiting", &l).set(stats.waiting as f64);
    metrics::gauge!("rocket_db_pool_timeouts_total", &l).set(stats.timeouts as f64);
}

/// With `metrics.token` set, a scrape must present it as a bearer token.
pub async fn render(State(s): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    let token = s.platform.config.metrics.token.as_bytes();
    if !token.is_empty() && !rocket_auth::constant_time_eq(bearer(&headers)?.as_bytes(), token) {
        return Err(Error::unauthorized("Invalid metrics token").into());
    }
    pool_gauges("_management", s.platform.mgmt.stats());
    let apps = s.platform.loaded_apps();
    for app in &apps {
        pool_gauges(&app.name, app.db.stats());
    }
    // Queue depth by state, per app and kind (one stats read per app).
    futures_util::future::join_all(apps.iter().map(|a| a.queue.sample_gauges())).await;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    ))
}
