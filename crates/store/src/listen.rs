//! PostgreSQL LISTEN on a dedicated (unpooled) connection: the payloads of
//! the notifications it receives, until the connection is lost. Callers own
//! the reconnect loop (and what to do after a gap), since each reacts
//! differently to a notification it may have missed.

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use crate::Result;

pub struct Subscription {
    /// Kept so the connection stays open.
    _client: tokio_postgres::Client,
    payloads: mpsc::UnboundedReceiver<String>,
    pump: tokio::task::JoinHandle<()>,
}

impl Subscription {
    /// The next notification's payload; None once the connection is lost.
    pub async fn next(&mut self) -> Option<String> {
        self.payloads.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// Connects and runs `listen` (a fixed `LISTEN <channel>` statement).
pub async fn subscribe(config: &tokio_postgres::Config, listen: &str) -> Result<Subscription> {
    let (client, mut conn) = config.connect(tokio_postgres::NoTls).await?;
    let (tx, payloads) = mpsc::unbounded_channel::<String>();
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
    let sub = Subscription {
        _client: client,
        payloads,
        pump,
    };
    sub._client.batch_execute(listen).await?;
    Ok(sub)
}
