//! Process wiring: config → platform → router → listener, and graceful stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use rocket_apps::Platform;
use rocket_config::Config;
use tokio::sync::watch;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

/// A server bound to its port and serving in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
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
    let bind = format!("{}:{}", config.server.host, config.server.port);
    let grace = Duration::from_secs(config.server.shutdown_timeout_secs);
    let platform = Platform::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    let addr = listener.local_addr()?;
    let router = rocket_http::router(rocket_http::AppState {
        platform: platform.clone(),
    });
    let service = NormalizePathLayer::trim_trailing_slash().layer(router);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let p = platform.clone();
    let task = tokio::spawn(async move {
        let (drained_tx, mut drained_rx) = watch::channel(false);
        let mut signal_rx = stop_rx.clone();
        let serve = axum::serve(listener, axum::ServiceExt::<Request>::into_make_service(service))
            .with_graceful_shutdown(async move {
                let _ = signal_rx.wait_for(|s| *s).await;
            });
        let serving = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "server error");
            }
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
        p.close();
    });
    Ok(RunningServer {
        addr,
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
