//! Cross-node metadata invalidation: every node LISTENs on the management
//! PostgreSQL database; a node that changes an app's metadata NOTIFYs with the
//! app's name and the others reload that app's snapshot. No polling.

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::watch;

use crate::platform::Platform;

/// Subscribes to `platform::CHANNEL` (kept in step with it by a test).
const LISTEN: &str = "LISTEN rocket_meta";

pub async fn run(pg: tokio_postgres::Config, platform: Weak<Platform>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        match rocket_store::listen::subscribe(&pg, LISTEN).await {
            Ok(mut sub) => loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    msg = sub.next() => match msg {
                        Some(app) => match platform.upgrade() {
                            Some(p) => p.on_remote_change(&app).await,
                            None => return,
                        },
                        None => break, // connection lost: reconnect
                    },
                }
            },
            Err(e) => tracing::warn!(error = %e, "metadata listener cannot LISTEN; retrying"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn listens_on_the_channel() {
        assert_eq!(super::LISTEN, format!("LISTEN {}", crate::platform::CHANNEL));
    }
}
