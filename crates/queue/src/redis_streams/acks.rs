//! Ack batching. A busy pool acks many jobs at once (64 handlers finishing
//! around the same time); running the ack script once per job spends most
//! of Redis's time on script start-up, not on the work. `ack` queues the
//! delivery here and one task per driver settles whatever has queued up
//! while its previous call was in flight, in one script run. An idle
//! system still acks at once (a batch of one); a busy one gets larger
//! batches without any timer.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::Core;
use crate::driver::{QueueError, Result};

/// Deliveries per script run.
const BATCH: usize = 256;
/// Acks waiting for the task before `ack` callers wait for room.
const QUEUED: usize = 8192;
/// Script runs in flight at once: while one is on the wire or in Redis the
/// next batch is already filling, and the other one can go.
const IN_FLIGHT: usize = 2;

/// One delivery to settle (owned: it crosses into the ack task).
pub struct AckItem {
    pub kind: String,
    pub entry: String,
    pub deadline: String,
    pub id: String,
    pub dedupe: Option<String>,
}

type Pending = (AckItem, oneshot::Sender<Result<()>>);

pub struct Acker {
    tx: mpsc::Sender<Pending>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Acker {
    pub fn start(core: Arc<Core>) -> Acker {
        let (tx, rx) = mpsc::channel(QUEUED);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let tasks = (0..IN_FLIGHT)
            .map(|_| tokio::spawn(run(core.clone(), rx.clone())))
            .collect();
        Acker { tx, tasks }
    }

    pub async fn ack(&self, item: AckItem) -> Result<()> {
        let (done, answer) = oneshot::channel();
        self.tx.send((item, done)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Acker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn closed() -> QueueError {
    QueueError::Unavailable {
        driver: "redis",
        message: "the driver is closed; the job's lease will lapse and it is delivered again".into(),
    }
}

/// `QueueError` is not `Clone`; every waiter of a failed batch gets the same text.
fn copy(e: &QueueError) -> QueueError {
    match e {
        QueueError::Unavailable { driver, message } => QueueError::Unavailable {
            driver,
            message: message.clone(),
        },
        other => QueueError::Other(other.to_string()),
    }
}

async fn run(core: Arc<Core>, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>) {
    let mut buf: Vec<Pending> = Vec::with_capacity(BATCH);
    loop {
        // Hold the receiver only while taking a batch, not while settling it.
        if rx.lock().await.recv_many(&mut buf, BATCH).await == 0 {
            return;
        }
        let items: Vec<&AckItem> = buf.iter().map(|(i, _)| i).collect();
        let result = core.ack_many(&items).await;
        for (_, done) in buf.drain(..) {
            let _ = done.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(copy(e)),
            });
        }
    }
}
