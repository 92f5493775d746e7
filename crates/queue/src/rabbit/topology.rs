//! Names and queue arguments. Everything an app owns is namespaced
//! `rocket.{app}.…`, so several apps (and test runs) share one vhost.
//!
//! Delays without a plugin: each kind has a bounded set of TTL queues
//! ("buckets") `rocket.{app}.{kind}.delay.{ms}` for ms = 16·2^i up to ~9 h.
//! A bucket has no consumer; its messages expire after the bucket's TTL and
//! are dead-lettered (default exchange, routing key = the work queue) back
//! into the work queue. To delay by D the driver publishes to the largest
//! bucket ≤ D; when the message arrives in the work queue still early (it
//! carries its due time), the consumer re-parks it into the bucket for the
//! remaining time, and holds the last < 16 ms in memory. So a delay of any
//! length is at most log2(D/16) hops, the error is a few ms, and a kind
//! never needs more than 22 queues. Because every message in a bucket has
//! the same TTL, expiry at the queue head is exact (per-message TTLs would
//! block behind a longer one).

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

/// The smallest bucket; shorter waits are held in memory by the consumer.
pub const MIN_BUCKET_MS: i64 = 16;
/// 16 ms · 2^21 ≈ 9.3 h; longer delays hop through it several times.
pub const BUCKETS: u32 = 22;

#[derive(Debug, Clone)]
pub struct Names {
    app: String,
}

impl Names {
    pub fn new(app: &str) -> Names {
        Names { app: app.to_string() }
    }

    pub fn work(&self, kind: &str) -> String {
        format!("rocket.{}.{kind}", self.app)
    }

    pub fn bucket(&self, kind: &str, ms: i64) -> String {
        format!("rocket.{}.{kind}.delay.{ms}", self.app)
    }

    /// The dead-letter queue, and the fanout exchange of the same name that
    /// work queues dead-letter rejected messages to.
    pub fn dead(&self) -> String {
        format!("rocket.{}.dead", self.app)
    }
}

/// The bucket for a wait of `ms`: the largest ≤ ms, None below the smallest.
pub fn bucket_for(ms: i64) -> Option<i64> {
    if ms < MIN_BUCKET_MS {
        return None;
    }
    let mut b = MIN_BUCKET_MS;
    for _ in 1..BUCKETS {
        if b * 2 > ms {
            break;
        }
        b *= 2;
    }
    Some(b)
}

/// Every bucket size, smallest first.
pub fn all_buckets() -> impl Iterator<Item = i64> {
    (0..BUCKETS).map(|i| MIN_BUCKET_MS << i)
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// Work queue, quorum flavour: replicated, and it counts redeliveries in
/// `x-delivery-count`, which is how a requeued job's attempt is known.
pub fn work_args_quorum(dead_exchange: &str) -> FieldTable {
    let mut t = work_args_classic(dead_exchange);
    t.insert(ShortString::from("x-queue-type"), long("quorum"));
    t
}

/// Work queue on a server without quorum queues: classic durable.
pub fn work_args_classic(dead_exchange: &str) -> FieldTable {
    let mut t = FieldTable::default();
    // basic.reject/nack without requeue ends in the dead queue too.
    t.insert(ShortString::from("x-dead-letter-exchange"), long(dead_exchange));
    t
}

/// A delay bucket: classic durable (no consumer, so no need for quorum's
/// delivery counting; a Raft group per bucket would be costly), TTL and
/// dead-lettering into the work queue through the default exchange.
pub fn bucket_args(ttl_ms: i64, work_queue: &str) -> FieldTable {
    let mut t = FieldTable::default();
    t.insert(ShortString::from("x-message-ttl"), AMQPValue::LongLongInt(ttl_ms));
    t.insert(ShortString::from("x-dead-letter-exchange"), long(""));
    t.insert(ShortString::from("x-dead-letter-routing-key"), long(work_queue));
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_the_largest_not_above_the_wait() {
        assert_eq!(bucket_for(15), None);
        assert_eq!(bucket_for(16), Some(16));
        assert_eq!(bucket_for(700), Some(512));
        assert_eq!(bucket_for(1024), Some(1024));
        assert_eq!(bucket_for(i64::MAX), Some(MIN_BUCKET_MS << (BUCKETS - 1)));
        assert_eq!(all_buckets().count(), BUCKETS as usize);
    }
}
