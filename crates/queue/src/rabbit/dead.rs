//! Dead letters: `rocket.{app}.dead`, a classic durable queue of DeadJob
//! JSON messages (bury) and of jobs the broker dead-lettered itself. AMQP
//! cannot browse a queue, so every admin read is a scan: basic.get (manual
//! ack) up to the queue's message count on a dedicated channel, which holds
//! the messages unacked; the chosen ones are acked (after their requeue copy
//! is confirmed), the rest are nacked back. O(dead jobs) per call, and
//! during a scan the dead queue looks empty to other readers; scans in this
//! process are serialized.

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

use super::conn::bounded;
use super::core::Core;
use super::message::{read_dead, requeue};
use crate::driver::Result;
use crate::job::DeadJob;

pub struct Scan {
    pub items: Vec<(DeadJob, Delivery)>,
    ch: lapin::Channel,
}

impl Scan {
    pub async fn start(core: &Core) -> Result<Scan> {
        core.ensure_dead().await?;
        let link = core.link().await?;
        let ch = bounded(link.conn.create_channel())
            .await
            .map_err(|e| core.err(e))?;
        let q = core.names.dead();
        let count = bounded(ch.queue_declare(
            q.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        ))
        .await
        .map_err(|e| core.err(e))?
        .message_count();
        let mut items = Vec::new();
        for _ in 0..count {
            let got = bounded(ch.basic_get(q.as_str().into(), BasicGetOptions { no_ack: false }))
                .await
                .map_err(|e| core.err(e))?;
            let Some(m) = got else { break };
            let d = m.delivery;
            match read_dead(&d.properties, &d.data) {
                Some(job) => items.push((job, d)),
                None => {
                    tracing::error!("rabbitmq: unreadable dead letter left in place");
                    requeue(&d.acker).await;
                }
            }
        }
        Ok(Scan { items, ch })
    }

    /// Acks the given deliveries (removing them), returns every other one.
    pub async fn finish(self, remove: Vec<Delivery>, core: &Core) -> Result<()> {
        let mut result = Ok(());
        for d in remove {
            if let Err(e) = bounded(d.acker.ack(BasicAckOptions::default())).await {
                result = Err(core.err(e));
            }
        }
        for (_, d) in self.items {
            requeue(&d.acker).await;
        }
        let _ = bounded(self.ch.close(200, "scan done".into())).await;
        result
    }
}
