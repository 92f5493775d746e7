//! Server configuration: `app.yaml` (reference-compatible keys) overridden by
//! environment variables. Every key `a.b_c` can be set as `ROCKET_A_B_C`;
//! `DATABASE_URL` configures PostgreSQL in one variable.
//!
//! Owns parsing and validation of settings only; it must not open
//! connections or know about HTTP.

mod env;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use env::ENV_KEYS;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Postgres,
    Sqlite,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Postgres => "postgres",
            Driver::Sqlite => "sqlite",
        }
    }

    pub fn parse(s: &str) -> Option<Driver> {
        match s {
            "postgres" | "postgresql" => Some(Driver::Postgres),
            "sqlite" => Some(Driver::Sqlite),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub port: u16,
    /// Bind address. Loopback by default so a fresh `cargo run` is not exposed.
    pub host: String,
    /// Largest JSON request body in bytes.
    pub body_limit: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_timeout_secs: u64,
    /// Milliseconds a client has to send a complete request head, counted from
    /// its first byte (or from connecting); slower clients are disconnected.
    pub header_read_timeout_ms: u64,
    /// Seconds a keep-alive connection may sit idle between requests.
    pub idle_timeout_secs: u64,
    /// Open connections per node; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            port: 8080,
            host: "127.0.0.1".into(),
            body_limit: 2 * 1024 * 1024,
            shutdown_timeout_secs: 30,
            header_read_timeout_ms: 10_000,
            idle_timeout_secs: 60,
            max_connections: 10_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Management database driver and default for new apps.
    pub driver: Driver,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// Management database name (PostgreSQL) or file stem (SQLite).
    pub name: String,
    pub pool_size: usize,
    /// SQLite directory.
    pub path: PathBuf,
    /// Milliseconds a request waits for a pooled connection before 503.
    pub pool_timeout_ms: u64,
    /// Full PostgreSQL URL; wins over host/port/user/password/name.
    pub url: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            driver: Driver::Sqlite,
            host: "localhost".into(),
            port: 5432,
            user: "postgres".into(),
            password: String::new(),
            name: "rocket".into(),
            pool_size: 10,
            path: PathBuf::from("./data"),
            pool_timeout_ms: 5000,
            url: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` or `s3` (any S3-compatible service).
    pub driver: String,
    pub local_path: PathBuf,
    pub max_file_size: u64,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// Custom endpoint for S3-compatible services (MinIO, moto, R2, ...).
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Allow plain `http://` endpoints (local servers).
    pub allow_http: bool,
    /// Key prefix inside the bucket.
    pub prefix: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            driver: "local".into(),
            local_path: PathBuf::from("./uploads"),
            max_file_size: 10 * 1024 * 1024,
            s3: S3Config::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstrumentationConfig {
    pub enabled: bool,
    pub retention_days: u32,
    pub sampling_rate: f64,
    pub buffer_size: usize,
    pub flush_interval_ms: u64,
    /// Events held per app waiting for their write; beyond, spans are
    /// dropped (counted) and ingestion answers 503.
    pub buffer_capacity: usize,
    /// Most events one `POST /_events/batch` may carry (413 beyond).
    pub batch_max_events: usize,
    /// Largest `POST /_events/batch` body (413 beyond).
    pub batch_max_bytes: usize,
    /// How often retention runs (the contract's hourly).
    pub retention_interval_secs: u64,
}

impl Default for InstrumentationConfig {
    fn default() -> Self {
        InstrumentationConfig {
            enabled: true,
            retention_days: 7,
            sampling_rate: 1.0,
            buffer_size: 500,
            flush_interval_ms: 100,
            buffer_capacity: 100_000,
            batch_max_events: 10_000,
            batch_max_bytes: 16 * 1024 * 1024,
            retention_interval_secs: 3600,
        }
    }
}

/// Bounds on one nested write.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WritesConfig {
    /// Deepest relation nesting below the top-level record (422 beyond).
    pub max_depth: usize,
    /// Most rows one write may touch (413 beyond).
    pub max_operations: usize,
    /// Longest value (UTF-8 bytes) of a string stored in a B-tree index: the
    /// primary key, unique, indexed, slug and relation-key fields (422 beyond).
    /// PostgreSQL refuses index entries above ~2700 bytes.
    pub max_indexed_length: usize,
}

impl Default for WritesConfig {
    fn default() -> Self {
        WritesConfig {
            max_depth: 8,
            max_operations: 1000,
            max_indexed_length: 2048,
        }
    }
}

/// Who may scrape `GET /metrics` (it names every app). With neither `listen`
/// nor `token` nor `public`, the main listener does not serve it at all.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` of a separate listener that serves only `/metrics`; the main
    /// listener then answers 404 there.
    pub listen: String,
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub token: String,
    /// Serve `/metrics` on the main listener to anyone (development only).
    pub public: bool,
}

impl MetricsConfig {
    /// Whether the main listener serves `/metrics`.
    pub fn on_main_listener(&self) -> bool {
        self.listen.is_empty() && (self.public || !self.token.is_empty())
    }
}

/// The durable job queue (`queue.*`): which driver, where its broker is,
/// and the defaults of every job kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// `sqlite`, `postgres`, `memory`, `redis` or `rabbitmq`; empty = the
    /// database driver's own (`sqlite` or `postgres`).
    pub driver: String,
    /// Broker URL for `redis` (`redis://host:6379`) and `rabbitmq`
    /// (`amqp://user:pass@host:5672/%2f`).
    pub url: String,
    /// Jobs the `memory` driver holds per app before enqueue answers 503.
    pub memory_capacity: usize,
    /// Deliveries before a job is dead-lettered.
    pub max_attempts: u32,
    /// Ceiling of the first retry delay; doubles per attempt, full jitter.
    pub backoff_base_ms: u64,
    /// No retry waits longer than this.
    pub backoff_cap_secs: u64,
    /// How long a reserved job stays invisible before it is delivered again.
    pub visibility_timeout_secs: u64,
    /// Jobs of one kind running at once, per app and node.
    pub concurrency: usize,
    /// Slowest idle poll; wake-ups (NOTIFY, in-process) make it rarely matter.
    pub poll_interval_ms: u64,
    /// On shutdown, how long in-flight jobs may take before they are left
    /// to be delivered again.
    pub shutdown_timeout_secs: u64,
}

/// Webhook delivery (`webhooks.*`): timeouts, retries, circuit breakers,
/// concurrency and the private-target guard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Per delivery attempt, sync and async (the contract's 30 s).
    pub timeout_secs: u64,
    /// Response bytes kept in the log (the contract's 64 KiB); the rest is
    /// not read.
    pub response_limit_bytes: usize,
    /// The retry schedule's unit: retry n waits `retry_base_secs × 2^n`
    /// (exponential) or `× n` (linear); the first waits `retry_base_secs`.
    pub retry_base_secs: f64,
    /// Async deliveries running at once, per app and node.
    pub concurrency: usize,
    /// Deliveries running at once to one host, so a slow receiver cannot
    /// hold every worker; the rest wait on the queue.
    pub per_host_concurrency: usize,
    /// Consecutive failures that open a target URL's circuit.
    pub breaker_failures: u32,
    /// How long an open circuit fails fast before one probe is let through.
    pub breaker_cooldown_secs: f64,
    /// Refuse targets that are (or resolve to) private, loopback or
    /// link-local addresses, including through redirects.
    pub block_private: bool,
    /// Log rows are written in batches at least this often.
    pub log_flush_ms: u64,
    /// Log rows held for writing per app; beyond it rows are dropped and
    /// counted (`rocket_buffer_dropped_total{table="_webhook_logs"}`).
    pub log_buffer: usize,
    /// How long a rotated-out signing secret still signs (both signatures
    /// are sent), so receivers can switch without losing a delivery.
    pub secret_grace_secs: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            timeout_secs: 30,
            response_limit_bytes: 64 * 1024,
            retry_base_secs: 30.0,
            concurrency: 64,
            per_host_concurrency: 16,
            breaker_failures: 5,
            breaker_cooldown_secs: 30.0,
            block_private: false,
            log_flush_ms: 200,
            log_buffer: 10_000,
            secret_grace_secs: 86_400,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            driver: String::new(),
            url: String::new(),
            memory_capacity: 100_000,
            max_attempts: 5,
            backoff_base_ms: 1000,
            backoff_cap_secs: 900,
            visibility_timeout_secs: 60,
            concurrency: 16,
            poll_interval_ms: 5000,
            shutdown_timeout_secs: 10,
        }
    }
}

pub const QUEUE_DRIVERS: &[&str] = &["sqlite", "postgres", "memory", "redis", "rabbitmq"];

impl QueueConfig {
    /// The driver in use: the configured one, or the database's own.
    pub fn driver_for(&self, database: Driver) -> &str {
        if self.driver.is_empty() {
            database.as_str()
        } else {
            &self.driver
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AiConfig {
    pub base_url: String,
    pub api_key: String,
    pub model: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub app_pool_size: usize,
    /// Empty (the default): generated on first start and kept in the data
    /// directory (see the server's `secrets` module).
    pub jwt_secret: String,
    /// Empty (the default): generated and kept like `jwt_secret`.
    pub platform_jwt_secret: String,
    pub storage: StorageConfig,
    pub instrumentation: InstrumentationConfig,
    pub ai: AiConfig,
    pub writes: WritesConfig,
    pub metrics: MetricsConfig,
    pub queue: QueueConfig,
    pub webhooks: WebhooksConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            app_pool_size: 5,
            jwt_secret: String::new(),
            platform_jwt_secret: String::new(),
            storage: StorageConfig::default(),
            instrumentation: InstrumentationConfig::default(),
            ai: AiConfig::default(),
            writes: WritesConfig::default(),
            metrics: MetricsConfig::default(),
            queue: QueueConfig::default(),
            webhooks: WebhooksConfig::default(),
        }
    }
}

/// Where the configuration came from, for the startup banner.
#[derive(Debug, Clone)]
pub enum Source {
    File(PathBuf),
    Defaults,
}

impl Config {
    /// Loads `explicit` (must exist) or `./app.yaml` (optional), then applies
    /// the environment.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Source), ConfigError> {
        Self::load_with_env(explicit, &|k| std::env::var(k).ok())
    }

    pub fn load_with_env(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Config, Source), ConfigError> {
        let (text, source) = match explicit {
            Some(p) => (read(p)?, Source::File(p.to_path_buf())),
            None => {
                let p = PathBuf::from("app.yaml");
                if p.exists() {
                    (read(&p)?, Source::File(p))
                } else {
                    (String::new(), Source::Defaults)
                }
            }
        };
        Ok((Self::from_yaml_and_env(&text, env)?, source))
    }

    pub fn from_yaml_and_env(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut doc: serde_yaml::Value = if text.trim().is_empty() {
            serde_yaml::Value::Mapping(Default::default())
        } else {
            serde_yaml::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string()))?
        };
        if doc.is_null() {
            doc = serde_yaml::Value::Mapping(Default::default());
        }
        env::apply(&mut doc, env)?;
        let cfg: Config = serde_path_to_error::deserialize(doc).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::Invalid(format!("{path}: {}", e.into_inner()))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |k: &str, why: &str| Err(ConfigError::Invalid(format!("{k}: {why}")));
        if self.database.pool_size == 0 {
            return bad("database.pool_size", "must be at least 1");
        }
        if self.app_pool_size == 0 {
            return bad("app_pool_size", "must be at least 1");
        }
        if self.database.name.is_empty() {
            return bad("database.name", "must not be empty");
        }
        if !(0.0..=1.0).contains(&self.instrumentation.sampling_rate) {
            return bad("instrumentation.sampling_rate", "must be between 0.0 and 1.0");
        }
        if self.storage.driver != "local" && self.storage.driver != "s3" {
            return bad("storage.driver", "must be 'local' or 's3'");
        }
        if self.storage.driver == "s3" && self.storage.s3.bucket.is_empty() {
            return bad("storage.s3.bucket", "is required when storage.driver is s3");
        }
        let endpoint = self.storage.s3.endpoint.as_str();
        if self.storage.driver == "s3" && !endpoint.is_empty() {
            if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
                return bad("storage.s3.endpoint", "must be an http:// or https:// URL");
            }
            if endpoint.starts_with("http://") && !self.storage.s3.allow_http {
                return bad("storage.s3.allow_http", "must be true for an http:// endpoint");
            }
        }
        if self.storage.max_file_size == 0 {
            return bad("storage.max_file_size", "must be greater than 0");
        }
        if self.server.body_limit < 1024 {
            return bad("server.body_limit", "must be at least 1024 bytes");
        }
        if self.server.header_read_timeout_ms == 0 {
            return bad("server.header_read_timeout_ms", "must be at least 1");
        }
        if self.server.idle_timeout_secs == 0 {
            return bad("server.idle_timeout_secs", "must be at least 1");
        }
        if self.server.max_connections == 0 {
            return bad("server.max_connections", "must be at least 1");
        }
        self.validate_queue()?;
        self.validate_webhooks()?;
        if !self.metrics.listen.is_empty() && self.metrics.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad("metrics.listen", "must be an address like 127.0.0.1:9100");
        }
        Ok(())
    }
}

impl Config {
    fn validate_queue(&self) -> Result<(), ConfigError> {
        let bad = |k: &str, why: String| Err(ConfigError::Invalid(format!("{k}: {why}")));
        let q = &self.queue;
        let driver = q.driver_for(self.database.driver);
        if !QUEUE_DRIVERS.contains(&driver) {
            return bad(
                "queue.driver",
                format!("must be one of {}", QUEUE_DRIVERS.join(", ")),
            );
        }
        let db = self.database.driver.as_str();
        if (driver == "sqlite" || driver == "postgres") && driver != db {
            return bad(
                "queue.driver",
                format!("{driver} keeps jobs in the app databases, which are {db}; use {db}, memory, redis or rabbitmq"),
            );
        }
        if (driver == "redis" || driver == "rabbitmq") && q.url.is_empty() {
            return bad("queue.url", format!("is required when queue.driver is {driver}"));
        }
        if driver == "redis" && !q.url.starts_with("redis://") && !q.url.starts_with("rediss://") {
            return bad("queue.url", "must be a redis:// or rediss:// URL".into());
        }
        if driver == "rabbitmq" && !q.url.starts_with("amqp://") && !q.url.starts_with("amqps://") {
            return bad("queue.url", "must be an amqp:// or amqps:// URL".into());
        }
        for (k, v) in [
            ("queue.memory_capacity", q.memory_capacity as u64),
            ("queue.max_attempts", u64::from(q.max_attempts)),
            ("queue.visibility_timeout_secs", q.visibility_timeout_secs),
            ("queue.concurrency", q.concurrency as u64),
            ("queue.poll_interval_ms", q.poll_interval_ms),
        ] {
            if v == 0 {
                return bad(k, "must be at least 1".into());
            }
        }
        Ok(())
    }
}

impl Config {
    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        let bad = |k: &str, why: &str| Err(ConfigError::Invalid(format!("{k}: {why}")));
        let w = &self.webhooks;
        for (k, v) in [
            ("webhooks.timeout_secs", w.timeout_secs),
            ("webhooks.response_limit_bytes", w.response_limit_bytes as u64),
            ("webhooks.concurrency", w.concurrency as u64),
            ("webhooks.per_host_concurrency", w.per_host_concurrency as u64),
            ("webhooks.breaker_failures", u64::from(w.breaker_failures)),
            ("webhooks.log_flush_ms", w.log_flush_ms),
            ("webhooks.log_buffer", w.log_buffer as u64),
            (
                "instrumentation.buffer_capacity",
                self.instrumentation.buffer_capacity as u64,
            ),
            (
                "instrumentation.batch_max_events",
                self.instrumentation.batch_max_events as u64,
            ),
            (
                "instrumentation.batch_max_bytes",
                self.instrumentation.batch_max_bytes as u64,
            ),
            (
                "instrumentation.retention_interval_secs",
                self.instrumentation.retention_interval_secs,
            ),
        ] {
            if v == 0 {
                return bad(k, "must be at least 1");
            }
        }
        for (k, v) in [
            ("webhooks.retry_base_secs", w.retry_base_secs),
            ("webhooks.breaker_cooldown_secs", w.breaker_cooldown_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(k, "must be a positive number of seconds");
            }
        }
        Ok(())
    }
}

fn read(p: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
        path: p.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests;
