use serde_yaml::{Mapping, Value};

use crate::ConfigError;

/// Every configurable key. Env name: `ROCKET_` + key upper-cased with `.` → `_`.
pub const ENV_KEYS: &[&str] = &[
    "server.port",
    "server.host",
    "server.body_limit",
    "server.shutdown_timeout_secs",
    "server.header_read_timeout_ms",
    "server.idle_timeout_secs",
    "server.max_connections",
    "database.driver",
    "database.host",
    "database.port",
    "database.user",
    "database.password",
    "database.name",
    "database.pool_size",
    "database.path",
    "database.pool_timeout_ms",
    "database.url",
    "app_pool_size",
    "jwt_secret",
    "platform_jwt_secret",
    "storage.driver",
    "storage.local_path",
    "storage.max_file_size",
    "storage.s3.bucket",
    "storage.s3.region",
    "storage.s3.endpoint",
    "storage.s3.access_key_id",
    "storage.s3.secret_access_key",
    "storage.s3.allow_http",
    "storage.s3.prefix",
    "instrumentation.enabled",
    "instrumentation.retention_days",
    "instrumentation.sampling_rate",
    "instrumentation.buffer_size",
    "instrumentation.flush_interval_ms",
    "instrumentation.buffer_capacity",
    "instrumentation.batch_max_events",
    "instrumentation.batch_max_bytes",
    "instrumentation.retention_interval_secs",
    "ai.base_url",
    "ai.api_key",
    "ai.model",
    "writes.max_depth",
    "writes.max_operations",
    "writes.max_indexed_length",
    "metrics.listen",
    "metrics.token",
    "metrics.public",
    "queue.driver",
    "queue.url",
    "queue.memory_capacity",
    "queue.max_attempts",
    "queue.backoff_base_ms",
    "queue.backoff_cap_secs",
    "queue.visibility_timeout_secs",
    "queue.concurrency",
    "queue.poll_interval_ms",
    "queue.shutdown_timeout_secs",
    "webhooks.timeout_secs",
    "webhooks.response_limit_bytes",
    "webhooks.retry_base_secs",
    "webhooks.concurrency",
    "webhooks.per_host_concurrency",
    "webhooks.breaker_failures",
    "webhooks.breaker_cooldown_secs",
    "webhooks.block_private",
    "webhooks.log_flush_ms",
    "webhooks.log_buffer",
    "webhooks.secret_grace_secs",
];

/// The reference's spellings for top-level keys (`JWT_SECRET`, ...).
const LEGACY: &[(&str, &str)] = &[
    ("JWT_SECRET", "jwt_secret"),
    ("PLATFORM_JWT_SECRET", "platform_jwt_secret"),
    ("APP_POOL_SIZE", "app_pool_size"),
];

pub fn env_name(key: &str) -> String {
    format!("ROCKET_{}", key.replace('.', "_").to_uppercase())
}

fn set(doc: &mut Value, key: &str, raw: &str) -> Result<(), ConfigError> {
    // Scalars are parsed as YAML so numbers and booleans keep their type;
    // strings that look like numbers stay valid for string keys via serde.
    let mut val: Value = serde_yaml::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    if val.is_null() || matches!(val, Value::Mapping(_) | Value::Sequence(_)) {
        val = Value::String(raw.to_string());
    }
    let string_keys = [
        "server.host",
        "database.host",
        "database.user",
        "database.password",
        "database.name",
        "database.path",
        "database.url",
        "database.driver",
        "jwt_secret",
        "platform_jwt_secret",
        "storage.driver",
        "storage.local_path",
        "storage.s3.bucket",
        "storage.s3.region",
        "storage.s3.endpoint",
        "storage.s3.access_key_id",
        "storage.s3.secret_access_key",
        "storage.s3.prefix",
        "ai.base_url",
        "ai.api_key",
        "ai.model",
        "metrics.listen",
        "metrics.token",
        "queue.driver",
        "queue.url",
    ];
    if string_keys.contains(&key) {
        val = Value::String(raw.to_string());
    }
    let mut cur = doc;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let map = match cur {
            Value::Mapping(m) => m,
            _ => return Err(ConfigError::Invalid(format!("{key}: parent is not a mapping"))),
        };
        let k = Value::String(part.to_string());
        if i == parts.len() - 1 {
            map.insert(k, val);
            return Ok(());
        }
        if !map.contains_key(&k) || map.get(&k).is_some_and(Value::is_null) {
            map.insert(k.clone(), Value::Mapping(Mapping::new()));
        }
        cur = map
            .get_mut(&k)
            .ok_or_else(|| ConfigError::Invalid(key.to_string()))?;
    }
    Ok(())
}

pub fn apply(doc: &mut Value, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    for (var, key) in LEGACY {
        if let Some(v) = env(var) {
            set(doc, key, &v)?;
        }
    }
    if let Some(url) = env("DATABASE_URL").filter(|u| !u.is_empty()) {
        set(doc, "database.url", &url)?;
        if url.starts_with("postgres") && env(&env_name("database.driver")).is_none() {
            set(doc, "database.driver", "postgres")?;
        }
    }
    for key in ENV_KEYS {
        if let Some(v) = env(&env_name(key)) {
            set(doc, key, &v)?;
        }
    }
    for (k, v) in [
        ("ROCKET_AI_BASE_URL", "ai.base_url"),
        ("ROCKET_AI_API_KEY", "ai.api_key"),
        ("ROCKET_AI_MODEL", "ai.model"),
    ] {
        if let Some(val) = env(k) {
            set(doc, v, &val)?;
        }
    }
    Ok(())
}
