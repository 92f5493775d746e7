use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

#[test]
fn defaults_are_the_embedded_store() {
    let c = Config::from_yaml_and_env("", &env_of(&[])).unwrap();
    assert_eq!(c.database.driver, Driver::Sqlite);
    assert_eq!(c.server.port, 8080);
    assert_eq!(c.server.host, "127.0.0.1");
    assert_eq!(c.database.name, "rocket");
    assert_eq!(c.storage.max_file_size, 10485760);
}

#[test]
fn reads_reference_yaml() {
    let yaml = "server:\n  port: 9090\ndatabase:\n  driver: postgres\n  host: db\n  port: 5433\n  user: rocket\n  password: rocket\n  name: rocket\n  pool_size: 50\napp_pool_size: 7\nplatform_jwt_secret: s3cret\ninstrumentation:\n  enabled: false\n";
    let c = Config::from_yaml_and_env(yaml, &env_of(&[])).unwrap();
    assert_eq!(c.server.port, 9090);
    assert_eq!(c.database.driver, Driver::Postgres);
    assert_eq!(c.database.port, 5433);
    assert_eq!(c.database.pool_size, 50);
    assert_eq!(c.app_pool_size, 7);
    assert!(!c.instrumentation.enabled);
}

#[test]
fn env_overrides_every_level() {
    let c = Config::from_yaml_and_env(
        "server:\n  port: 9090\n",
        &env_of(&[
            ("ROCKET_SERVER_PORT", "7000"),
            ("ROCKET_DATABASE_POOL_SIZE", "3"),
            ("ROCKET_DATABASE_PASSWORD", "123"),
            ("ROCKET_INSTRUMENTATION_ENABLED", "false"),
            ("JWT_SECRET", "legacy"),
            ("ROCKET_AI_MODEL", "gpt"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.port, 7000);
    assert_eq!(c.database.pool_size, 3);
    assert_eq!(c.database.password, "123");
    assert!(!c.instrumentation.enabled);
    assert_eq!(c.jwt_secret, "legacy");
    assert_eq!(c.ai.model, "gpt");
}

#[test]
fn database_url_selects_postgres() {
    let c = Config::from_yaml_and_env("", &env_of(&[("DATABASE_URL", "postgres://u@h/db")])).unwrap();
    assert_eq!(c.database.driver, Driver::Postgres);
    assert_eq!(c.database.url.as_deref(), Some("postgres://u@h/db"));
}

#[test]
fn invalid_values_name_the_key() {
    let e = Config::from_yaml_and_env("database:\n  driver: oracle\n", &env_of(&[])).unwrap_err();
    assert!(e.to_string().contains("database"), "{e}");
    let e = Config::from_yaml_and_env("", &env_of(&[("ROCKET_SERVER_PORT", "eighty")])).unwrap_err();
    assert!(e.to_string().contains("server.port"), "{e}");
    let e = Config::from_yaml_and_env("database:\n  pool_sise: 3\n", &env_of(&[])).unwrap_err();
    assert!(e.to_string().contains("pool_sise"), "{e}");
    let e = Config::from_yaml_and_env("instrumentation:\n  sampling_rate: 2\n", &env_of(&[])).unwrap_err();
    assert!(e.to_string().contains("instrumentation.sampling_rate"), "{e}");
}

#[test]
fn s3_storage_from_yaml_and_env() {
    let yaml = "storage:\n  driver: s3\n  s3:\n    bucket: files\n    region: eu-west-1\n";
    let c = Config::from_yaml_and_env(
        yaml,
        &env_of(&[
            ("ROCKET_STORAGE_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("ROCKET_STORAGE_S3_ACCESS_KEY_ID", "0123"),
            ("ROCKET_STORAGE_S3_SECRET_ACCESS_KEY", "true"),
            ("ROCKET_STORAGE_S3_ALLOW_HTTP", "true"),
            ("ROCKET_STORAGE_S3_PREFIX", "rocket/"),
            ("ROCKET_STORAGE_MAX_FILE_SIZE", "1024"),
        ]),
    )
    .unwrap();
    assert_eq!(c.storage.driver, "s3");
    assert_eq!(c.storage.s3.bucket, "files");
    assert_eq!(c.storage.s3.region, "eu-west-1");
    assert_eq!(c.storage.s3.endpoint, "http://127.0.0.1:9000");
    assert_eq!(c.storage.s3.access_key_id, "0123", "string keys stay strings");
    assert_eq!(c.storage.s3.secret_access_key, "true");
    assert!(c.storage.s3.allow_http);
    assert_eq!(c.storage.s3.prefix, "rocket/");
    assert_eq!(c.storage.max_file_size, 1024);
    let c = Config::from_yaml_and_env(
        "",
        &env_of(&[("ROCKET_STORAGE_DRIVER", "s3"), ("ROCKET_STORAGE_S3_BUCKET", "b")]),
    )
    .unwrap();
    assert_eq!(
        (c.storage.driver.as_str(), c.storage.s3.bucket.as_str()),
        ("s3", "b")
    );
}

#[test]
fn s3_storage_needs_a_bucket() {
    let e = Config::from_yaml_and_env("storage:\n  driver: s3\n", &env_of(&[])).unwrap_err();
    assert!(e.to_string().contains("storage.s3.bucket"), "{e}");
    let e = Config::from_yaml_and_env(
        "storage:\n  driver: s3\n  s3:\n    bucket: b\n    endpoint: http://127.0.0.1:9000\n",
        &env_of(&[]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("storage.s3.allow_http"), "{e}");
    let e = Config::from_yaml_and_env(
        "storage:\n  driver: s3\n  s3:\n    bucket: b\n    endpoint: minio:9000\n",
        &env_of(&[]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("storage.s3.endpoint"), "{e}");
    let e = Config::from_yaml_and_env("storage:\n  driver: ftp\n", &env_of(&[])).unwrap_err();
    assert!(e.to_string().contains("storage.driver"), "{e}");
    let e = Config::from_yaml_and_env("storage:\n  s3:\n    bucketname: x\n", &env_of(&[])).unwrap_err();
    assert!(e.to_string().contains("bucketname"), "{e}");
}

#[test]
fn connection_limits_and_metrics_access() {
    let c = Config::from_yaml_and_env("", &env_of(&[])).unwrap();
    assert_eq!(c.server.header_read_timeout_ms, 10_000);
    assert_eq!(c.server.idle_timeout_secs, 60);
    assert_eq!(c.server.max_connections, 10_000);
    assert!(
        c.platform_jwt_secret.is_empty() && c.jwt_secret.is_empty(),
        "generated at start"
    );
    assert!(!c.metrics.on_main_listener(), "metrics are closed by default");
    let c = Config::from_yaml_and_env(
        "",
        &env_of(&[
            ("ROCKET_SERVER_HEADER_READ_TIMEOUT_MS", "250"),
            ("ROCKET_SERVER_IDLE_TIMEOUT_SECS", "5"),
            ("ROCKET_SERVER_MAX_CONNECTIONS", "3"),
            ("ROCKET_METRICS_TOKEN", "1234"),
        ]),
    )
    .unwrap();
    assert_eq!(
        (
            c.server.header_read_timeout_ms,
            c.server.idle_timeout_secs,
            c.server.max_connections
        ),
        (250, 5, 3)
    );
    assert_eq!(c.metrics.token, "1234", "string key stays a string");
    assert!(c.metrics.on_main_listener());
    let c =
        Config::from_yaml_and_env("metrics:\n  listen: 127.0.0.1:9100\n  token: t\n", &env_of(&[])).unwrap();
    assert!(
        !c.metrics.on_main_listener(),
        "a separate listener takes /metrics off the main one"
    );
    for (yaml, key) in [
        (
            "server:\n  header_read_timeout_ms: 0\n",
            "server.header_read_timeout_ms",
        ),
        ("server:\n  idle_timeout_secs: 0\n", "server.idle_timeout_secs"),
        ("server:\n  max_connections: 0\n", "server.max_connections"),
        ("metrics:\n  listen: nowhere\n", "metrics.listen"),
    ] {
        let e = Config::from_yaml_and_env(yaml, &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains(key), "{e}");
    }
}

#[test]
fn queue_driver_follows_the_database_unless_configured() {
    let c = Config::from_yaml_and_env("", &env_of(&[])).unwrap();
    assert_eq!(c.queue.driver_for(c.database.driver), "sqlite");
    let c = Config::from_yaml_and_env("", &env_of(&[("DATABASE_URL", "postgres://u@h/db")])).unwrap();
    assert_eq!(c.queue.driver_for(c.database.driver), "postgres");
    let c = Config::from_yaml_and_env(
        "",
        &env_of(&[
            ("ROCKET_QUEUE_DRIVER", "redis"),
            ("ROCKET_QUEUE_URL", "redis://127.0.0.1:6379"),
            ("ROCKET_QUEUE_CONCURRENCY", "4"),
        ]),
    )
    .unwrap();
    assert_eq!(
        (c.queue.driver_for(c.database.driver), c.queue.concurrency),
        ("redis", 4)
    );
}

#[test]
fn bad_queue_settings_name_their_key() {
    for (yaml, key) in [
        ("queue:\n  driver: kafka\n", "queue.driver"),
        ("queue:\n  driver: postgres\n", "queue.driver"),
        ("queue:\n  driver: redis\n", "queue.url"),
        ("queue:\n  driver: redis\n  url: amqp://x\n", "queue.url"),
        ("queue:\n  driver: rabbitmq\n  url: redis://x\n", "queue.url"),
        ("queue:\n  concurrency: 0\n", "queue.concurrency"),
        ("queue:\n  max_attempts: 0\n", "queue.max_attempts"),
    ] {
        let e = Config::from_yaml_and_env(yaml, &env_of(&[])).unwrap_err();
        assert!(e.to_string().contains(key), "{yaml}: {e}");
    }
}
