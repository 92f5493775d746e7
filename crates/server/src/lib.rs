//! Process wiring: config → secrets → platform → router → listeners (with
//! connection limits and timeouts), and graceful stop.

mod conn;
mod listener;
mod parse_errors;
pub mod secrets;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rocket_apps::Platform;
use rocket_config::Config;
use tokio::sync::watch;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::conn::Limits;
use crate::listener::{CappedListener, PerConnection};

/// Connections of the `metrics.listen` listener (scrapers are few).
const METRICS_CONNECTIONS: usize = 64;

/// A server bound to its port and serving in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The `metrics.listen` listener, when configured.
    pub metrics_addr: Option<SocketAddr>,
    pub platform: Arc<Platform>,
    stop_tx: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish (bounded by
    /// `server.shutdown_timeout_secs`), then closes every pool.
    pub async fn stop(self) {
        let _ = self.stop_tx.send(true);
        let _ = self.task.await;
    }

    /// Resolves when the server has stopped by itself (signal).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    start_with(config, rocket_apps::Plugins::default()).await
}

/// As `start`, with more effect handlers, job kinds and services beside
/// the node's own subsystems (webhooks, events), which run first.
pub async fn start_with(mut config: Config, extra: rocket_apps::Plugins) -> anyhow::Result<RunningServer> {
    secrets::resolve(&mut config)?;
    let (_hooks, mut plugins) =
        rocket_hooks::plugins(&config).map_err(|e| anyhow::anyhow!("webhooks: {e}"))?;
    plugins.services.extend(rocket_events::plugins(&config).services);
    plugins.effects = plugins.effects.and(&extra.effects);
    plugins.jobs.extend(extra.jobs);
    plugins.services.extend(extra.services);
    let bind = format!("{}:{}", config.server.host, config.server.port);
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let limits = Limits {
        header_read: Duration::from_millis(config.server.header_read_timeout_ms),
        idle: Duration::from_secs(config.server.idle_timeout_secs),
    };
    let max_connections = config.server.max_connections;
    let job_grace = Duration::from_secs(config.queue.shutdown_timeout_secs);
    let metrics_bind = config.metrics.listen.clone();
    let platform = Platform::start_with(config, plugins)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr()?;
    let metrics_listener = if metrics_bind.is_empty() {
        None
    } else {
        let l = tokio::net::TcpListener::bind(&metrics_bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {metrics_bind} (metrics.listen): {e}"))?;
        Some(l)
    };
    let metrics_addr = metrics_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    let state = rocket_http::AppState {
        platform: platform.clone(),
    };
    let service = NormalizePathLayer::trim_trailing_slash().layer(rocket_http::router(state.clone()));
    let metrics_service = rocket_http::metrics_router(state);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let main = axum::serve(
        CappedListener::new(listener, max_connections, limits),
        PerConnection(service),
    )
    .with_graceful_shutdown(stopped(stop_rx.clone()));
    let metrics = metrics_listener.map(|l| {
        axum::serve(
            CappedListener::new(l, METRICS_CONNECTIONS, limits),
            PerConnection(metrics_service),
        )
        .with_graceful_shutdown(stopped(stop_rx.clone()))
    });
    let p = platform.clone();
    let task = tokio::spawn(async move {
        let (drained_tx, mut drained_rx) = watch::channel(false);
        let serving = tokio::spawn(async move {
            let metrics = async move {
                if let Some(m) = metrics {
                    if let Err(e) = m.await {
                        tracing::error!(error = %e, "metrics listener error");
                    }
                }
            };
            let main = async move {
                if let Err(e) = main.await {
                    tracing::error!(error = %e, "server error");
                }
            };
            tokio::join!(main, metrics);
            let _ = drained_tx.send(true);
        });
        let _ = stop_rx.wait_for(|s| *s).await;
        if tokio::time::timeout(grace, drained_rx.wait_for(|d| *d))
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish within {grace:?}; closing anyway");
            serving.abort();
        }
        p.shutdown(job_grace).await;
    });
    Ok(RunningServer {
        addr,
        metrics_addr,
        platform,
        stop_tx,
        task,
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

impl RunningServer {
    /// Stops on SIGINT/SIGTERM.
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.stop().await;
    }
}
