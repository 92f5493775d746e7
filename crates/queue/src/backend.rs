//! The node's queue backend, chosen by `queue.driver`: connects the broker
//! once at start (a broker that is down is an error naming it, never a
//! silent fall-back to memory) and opens one driver per app over it.

use std::sync::Arc;

use rocket_store::Db;

use crate::driver::{Driver, QueueError, Result};
use crate::memory::MemoryDriver;
use crate::rabbit::RabbitBroker;
use crate::redis_streams::RedisBroker;
use crate::table::TableDriver;

#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// `sqlite`, `postgres`, `memory`, `redis` or `rabbitmq`.
    pub driver: String,
    pub url: String,
    pub memory_capacity: usize,
}

enum Kind {
    Memory(usize),
    Sqlite,
    Postgres,
    Redis(RedisBroker),
    Rabbit(RabbitBroker),
}

pub struct Backend {
    kind: Kind,
}

impl Backend {
    pub async fn connect(s: &BackendSettings) -> Result<Backend> {
        let kind = match s.driver.as_str() {
            "memory" => Kind::Memory(s.memory_capacity),
            "sqlite" => Kind::Sqlite,
            "postgres" => Kind::Postgres,
            "redis" => Kind::Redis(RedisBroker::connect(&s.url).await?),
            "rabbitmq" => Kind::Rabbit(RabbitBroker::connect(&s.url).await?),
            other => return Err(QueueError::Unsupported(format!("unknown queue driver {other:?}"))),
        };
        Ok(Backend { kind })
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Memory(_) => "memory",
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
            Kind::Redis(_) => "redis",
            Kind::Rabbit(_) => "rabbitmq",
        }
    }

    /// The driver for one app, whose database is `db`.
    pub async fn open(&self, app: &str, db: &Db) -> Result<Arc<dyn Driver>> {
        Ok(match &self.kind {
            Kind::Memory(cap) => Arc::new(MemoryDriver::new(*cap)),
            Kind::Sqlite => Arc::new(TableDriver::sqlite(db.clone())),
            Kind::Postgres => {
                let listen = db.pg_config().ok_or_else(|| {
                    QueueError::Unsupported(
                        "queue.driver postgres needs the app database on PostgreSQL".into(),
                    )
                })?;
                Arc::new(TableDriver::postgres(db.clone(), listen))
            }
            Kind::Redis(broker) => broker.open(app, db.clone()),
            Kind::Rabbit(broker) => broker.open(app, db.clone()).await?,
        })
    }

    /// Whether the broker answers (readiness). Database drivers are as
    /// reachable as the app database itself.
    pub async fn ping(&self) -> Result<()> {
        match &self.kind {
            Kind::Redis(broker) => broker.ping().await,
            Kind::Rabbit(broker) => broker.ping().await,
            _ => Ok(()),
        }
    }
}
