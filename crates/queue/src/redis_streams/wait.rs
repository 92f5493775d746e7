//! How an idle consumer sleeps: `XREAD BLOCK` on the job stream and the
//! kind's wake stream, from the group's last delivered id, on a connection
//! of its own.
//!
//! Why this and not the alternatives: `XREADGROUP ... BLOCK` would hand the
//! job out inside `wait` (and could not run inside the reserve script, which
//! must bump attempts and record the lease atomically); polling costs either
//! latency or CPU. A plain `XREAD` claims nothing, so `wait` only wakes the
//! consumer and the next `reserve` takes the job: an enqueue on any node
//! wakes an idle consumer within a round trip. A retry or a delayed enqueue
//! adds a tick to the wake stream, so a consumer sleeping until a later due
//! time looks again. The sleep is also bounded by the next delayed job and
//! the next lease deadline (expired leases are waited for exactly).
//!
//! Blocking commands never go through the shared `ConnectionManager` (it
//! multiplexes every app's commands on one socket; a BLOCK there would stall
//! them). Idle connections are pooled; one whose wait was cancelled (the
//! consumer shut down mid-wait) is dropped, which closes its socket and
//! unblocks the server side.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};

/// Idle blocking connections kept for reuse.
const KEEP: usize = 32;

pub struct BlockingPool {
    client: Client,
    idle: Mutex<Vec<MultiplexedConnection>>,
}

impl BlockingPool {
    pub fn new(client: Client) -> BlockingPool {
        BlockingPool {
            client,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<MultiplexedConnection>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn take(&self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(c) = self.lock().pop() {
            return Ok(c);
        }
        // No response timeout on the connection: each call is bounded by
        // its own BLOCK plus a margin (below).
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(None);
        self.client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
    }

    fn give_back(&self, c: MultiplexedConnection) {
        let mut idle = self.lock();
        if idle.len() < KEEP {
            idle.push(c);
        }
    }

    /// Blocks until an entry after `after` appears in one of `streams`, or
    /// `block` passes. Errors (Redis down) return after a short pause so a
    /// consumer does not spin; its next reserve reports the outage.
    pub async fn block(&self, streams: [(&str, &str); 2], block: Duration) {
        let ms = u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1);
        let pause = block.min(Duration::from_millis(200));
        let mut conn = match self.take().await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(pause).await;
                return;
            }
        };
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(1).arg("BLOCK").arg(ms).arg("STREAMS");
        cmd.arg(streams[0].0).arg(streams[1].0);
        cmd.arg(streams[0].1).arg(streams[1].1);
        let limit = block + Duration::from_secs(2);
        match tokio::time::timeout(limit, cmd.query_async::<redis::Value>(&mut conn)).await {
            Ok(Ok(_)) => self.give_back(conn),
            Ok(Err(_)) | Err(_) => tokio::time::sleep(pause).await,
        }
    }
}
