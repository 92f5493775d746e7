//! The durable job queue: one interface ([`Driver`]) with five drivers, the
//! transactional outbox, retries with backoff and full jitter, dead letters,
//! and bounded worker pools. Every asynchronous subsystem (webhooks,
//! workflows, events, notifications) enqueues and consumes through it.
//!
//! Drivers, by `queue.driver`:
//! - `sqlite` / `postgres` ([`TableDriver`]): `_jobs` in the app's database;
//!   an enqueue inside a business transaction is an INSERT in it. PostgreSQL
//!   reserves with `FOR UPDATE SKIP LOCKED` and wakes consumers by
//!   LISTEN/NOTIFY.
//! - `memory` ([`MemoryDriver`]): bounded, not durable; full means 503.
//! - `redis` ([`RedisBroker`] / [`RedisDriver`]): Redis Streams, one
//!   consumer group per kind.
//! - `rabbitmq` ([`RabbitDriver`], via [`RabbitBroker`]): durable (quorum)
//!   queues on RabbitMQ, delays through TTL buckets, dedupe keys in the app
//!   database.
//! - `redis`, `rabbitmq`: external brokers; enqueues inside a transaction go
//!   through the [`outbox`] table and its relay.
//!
//! Delivery is at-least-once; a job's id is stable across deliveries.
//!
//! Must not: know webhooks, workflows or HTTP, or hold SQL that differs per
//! dialect outside a driver's own file (the store crate's rule: no run-time
//! SQL assembly, no branch on the dialect).

mod backend;
pub mod conformance;
mod driver;
mod job;
mod memory;
pub mod outbox;
mod queue;
mod rabbit;
mod redis_streams;
mod retry;
mod table;
mod wake;
mod worker;

pub use backend::{Backend, BackendSettings};
pub use driver::{Driver, QueueError, Result};
pub use job::{now_ms, DeadJob, Enqueued, Job, JobId, KindStats, NewJob, DEFAULT_MAX_ATTEMPTS};
pub use memory::MemoryDriver;
pub use queue::{Policies, Queue};
pub use rabbit::{RabbitBroker, RabbitDriver};
pub use redis_streams::{RedisBroker, RedisDriver};
pub use retry::RetryPolicy;
pub use table::TableDriver;
pub use wake::Wakers;
pub use worker::{Handler, KindOptions, Workers};
