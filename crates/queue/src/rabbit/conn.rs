//! The node's one AMQP connection and its supervisor. lapin does not
//! reconnect by itself (its auto-recovery is opt-in and replays topology we
//! declare lazily anyway), so a task watches the connection and, once it is
//! lost, reconnects with exponential backoff and publishes the new [`Link`].
//! Everything that needs the broker asks for the current link; consumers
//! notice their stream ending and resubscribe on the next one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::ConfirmSelectOptions;
use lapin::types::LongString;
use lapin::{Channel, Connection, ConnectionProperties, Event};
use tokio::sync::watch;

use crate::driver::{QueueError, Result};

pub const DRIVER: &str = "rabbitmq";

/// The deadline of every broker operation. lapin can leave a request made
/// on a connection that died uncleanly pending forever; one such await
/// would stall its task for good (a consumer that never resubscribes, an
/// acker that never acks again), so none waits unbounded.
pub const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// A broker operation that failed or ran out of time.
#[derive(Debug)]
pub enum OpError {
    Broker(lapin::Error),
    TimedOut,
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::Broker(e) => e.fmt(f),
            OpError::TimedOut => write!(f, "no answer from the broker within {}s", OP_TIMEOUT.as_secs()),
        }
    }
}

/// `fut` with the [`OP_TIMEOUT`] deadline.
pub async fn bounded<T>(
    fut: impl std::future::Future<Output = lapin::Result<T>>,
) -> std::result::Result<T, OpError> {
    within(OP_TIMEOUT, fut).await
}

pub async fn within<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = lapin::Result<T>>,
) -> std::result::Result<T, OpError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(OpError::Broker),
        Err(_) => Err(OpError::TimedOut),
    }
}

/// One live connection, with the shared publishing channel (publisher
/// confirms on). A channel-level error kills only that channel: it is
/// re-created on the next publish.
pub struct Link {
    pub conn: Connection,
    publish: tokio::sync::Mutex<Option<Channel>>,
}

impl Link {
    pub fn alive(&self) -> bool {
        self.conn.status().connected()
    }

    pub async fn publisher(&self) -> std::result::Result<Channel, OpError> {
        let mut slot = self.publish.lock().await;
        if let Some(ch) = slot.as_ref() {
            if ch.status().connected() {
                return Ok(ch.clone());
            }
        }
        let ch = bounded(self.conn.create_channel()).await?;
        bounded(ch.confirm_select(ConfirmSelectOptions::default())).await?;
        *slot = Some(ch.clone());
        Ok(ch)
    }
}

/// `host:port` of an AMQP URL, without user or password: what error
/// messages and logs may show.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.to_string()
}

pub fn unavailable(host: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable {
        driver: DRIVER,
        message: format!("{host}: {e}"),
    }
}

async fn dial(url: &str) -> lapin::Result<Link> {
    let props =
        ConnectionProperties::default().with_connection_name(LongString::from(b"rocket-queue".to_vec()));
    let conn = Connection::connect(url, props).await?;
    Ok(Link {
        conn,
        publish: tokio::sync::Mutex::new(None),
    })
}

pub struct Broker {
    pub host: String,
    link: watch::Receiver<Option<Arc<Link>>>,
    stop: watch::Sender<bool>,
}

impl Broker {
    pub async fn connect(url: &str) -> Result<Arc<Broker>> {
        let host = host_of(url);
        let first = match tokio::time::timeout(Duration::from_secs(10), dial(url)).await {
            Ok(Ok(l)) => Arc::new(l),
            Ok(Err(e)) => return Err(unavailable(&host, format!("cannot connect: {e}"))),
            Err(_) => return Err(unavailable(&host, "cannot connect: timed out")),
        };
        let (tx, rx) = watch::channel(Some(first.clone()));
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(supervise(url.to_string(), host.clone(), first, tx, stop_rx));
        Ok(Arc::new(Broker { host, link: rx, stop }))
    }

    /// The live link, waiting up to `within` for a reconnect.
    pub async fn link(&self, within: Duration) -> Result<Arc<Link>> {
        let end = Instant::now() + within;
        let mut rx = self.link.clone();
        loop {
            if let Some(l) = rx.borrow_and_update().as_ref() {
                if l.alive() {
                    return Ok(l.clone());
                }
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() || *self.stop.borrow() {
                return Err(unavailable(&self.host, "not connected (reconnecting)"));
            }
            // A dead link is replaced by None, then by the new one: either
            // change wakes us; a short cap covers a link that died silently.
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), rx.changed()).await;
        }
    }

    pub fn close(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Returns once `link` is lost (an error event, or its status says so: the
/// poll covers errors raised before we listened).
async fn lost(link: &Link, stop: &mut watch::Receiver<bool>) -> bool {
    let mut events = link.conn.events_listener();
    loop {
        tokio::select! {
            ev = events.next() => match ev {
                Some(Event::Error(_)) | None => return true,
                Some(_) => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if !link.alive() {
                    return true;
                }
            }
            _ = stop.changed() => return false,
        }
    }
}

async fn supervise(
    url: String,
    host: String,
    mut link: Arc<Link>,
    tx: watch::Sender<Option<Arc<Link>>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if !lost(&link, &mut stop).await || *stop.borrow() {
            let _ = bounded(link.conn.close(200, "closing".into())).await;
            let _ = tx.send(None);
            return;
        }
        let _ = tx.send(None);
        tracing::warn!(host = %host, "rabbitmq: connection lost; reconnecting");
        let mut pause = Duration::from_millis(100);
        let mut tries = 0u32;
        link = loop {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
            tries += 1;
            match tokio::time::timeout(Duration::from_secs(10), dial(&url)).await {
                Ok(Ok(l)) => break Arc::new(l),
                Ok(Err(e)) => {
                    if tries == 1 || tries.is_multiple_of(20) {
                        tracing::warn!(host = %host, tries, error = %e, "rabbitmq: reconnect failed");
                    }
                }
                Err(_) => tracing::warn!(host = %host, tries, "rabbitmq: reconnect timed out"),
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        };
        tracing::info!(host = %host, tries, "rabbitmq: reconnected");
        let _ = tx.send(Some(link.clone()));
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn an_unanswered_operation_ends_at_its_deadline() {
        let never = std::future::pending::<lapin::Result<()>>();
        let r = super::within(std::time::Duration::from_millis(20), never).await;
        assert!(matches!(r, Err(super::OpError::TimedOut)), "{r:?}");
        assert!(super::OpError::TimedOut.to_string().contains("no answer"));
    }

    #[test]
    fn host_hides_credentials() {
        assert_eq!(
            super::host_of("amqp://guest:secret@10.0.0.1:5672/%2f"),
            "10.0.0.1:5672"
        );
        assert_eq!(super::host_of("amqp://h:1"), "h:1");
    }
}
