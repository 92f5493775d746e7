//! Cross-node metadata invalidation: every node LISTENs on the management
//! PostgreSQL database; a node that changes an app's metadata NOTIFYs with the
//! app's name and the others reload that app's snapshot. No polling.

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

use crate::platform::Platform;

/// Subscribes to `platform::CHANNEL` (kept in step with it by a test).
const LISTEN: &str = "LISTEN rocket_meta";

pub async fn run(pg: tokio_postgres::Config, platform: Weak<Platform>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        match pg.connect(tokio_postgres::NoTls).await {
            Ok((client, mut conn)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                let pump = tokio::spawn(async move {
                    let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                    while let Some(Ok(msg)) = messages.next().await {
                        if let AsyncMessage::Notification(n) = msg {
                            if tx.send(n.payload().to_string()).is_err() {
                                break;
                            }
                        }
                    }
                });
                if let Err(e) = client.batch_execute(LISTEN).await {
                    tracing::warn!(error = %e, "LISTEN failed; retrying");
                } else {
                    loop {
                        tokio::select! {
                            _ = stop.changed() => { pump.abort(); return; }
                            msg = rx.recv() => match msg {
                                Some(app) => match platform.upgrade() {
                                    Some(p) => p.on_remote_change(&app).await,
                                    None => { pump.abort(); return; }
                                },
                                None => break, // connection lost: reconnect
                            },
                        }
                    }
                }
                pump.abort();
            }
            Err(e) => tracing::warn!(error = %e, "metadata listener cannot connect; retrying"),
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
