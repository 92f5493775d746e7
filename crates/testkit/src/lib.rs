//! Test harness: starts a real Rocket server in-process on an ephemeral port,
//! against SQLite (always) or the local PostgreSQL, and speaks HTTP to it.
//!
//! PostgreSQL suites are skipped with a message when the server is
//! unreachable, unless `CI=true`, where that is a failure.
//!
//! Never a dependency of production code.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rocket_config::{Config, Driver};
use rocket_server::RunningServer;
use serde_json::Value;

pub use reqwest::Method;
pub use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

/// `ROCKET_TEST_PG` (libpq key=value or URL) or the machine's local server.
pub fn pg_url() -> String {
    std::env::var("ROCKET_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

async fn pg_reachable() -> bool {
    let Ok(cfg) = pg_url().parse::<tokio_postgres::Config>() else {
        return false;
    };
    match tokio::time::timeout(Duration::from_secs(3), cfg.connect(tokio_postgres::NoTls)).await {
        Ok(Ok((client, conn))) => {
            tokio::spawn(conn);
            client.simple_query("SELECT 1").await.is_ok()
        }
        _ => false,
    }
}

/// Response of one call: status, parsed JSON body (Null when not JSON), headers.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// `error.code` of an error envelope, or "".
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

pub struct TestServer {
    pub url: String,
    pub store: Store,
    pub http: reqwest::Client,
    pub config: Config,
    server: Option<RunningServer>,
    run_id: String,
    app_seq: AtomicU32,
    _dir: tempfile::TempDir,
}

pub struct TestApp {
    pub name: String,
    /// Access token of the seeded app admin (admin@localhost).
    pub token: String,
}

impl TestServer {
    pub async fn start(store: Store) -> Option<TestServer> {
        Self::start_with(store, |_| {}).await
    }

    /// Starts a server; `tweak` may adjust the config before start.
    pub async fn start_with(store: Store, tweak: impl FnOnce(&mut Config)) -> Option<TestServer> {
        Self::start_with_plugins(store, rocket_apps::Plugins::default(), tweak).await
    }

    /// As `start_with`, registering effect handlers and job kinds.
    pub async fn start_with_plugins(
        store: Store,
        plugins: rocket_apps::Plugins,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        if store == Store::Postgres && !pg_reachable().await {
            if in_ci() {
                panic!("CI=true but PostgreSQL is unreachable at {}", pg_url());
            }
            eprintln!(
                "SKIPPED: PostgreSQL suite (unreachable at {}; set ROCKET_TEST_PG)",
                pg_url()
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let run_id = format!("{:08x}", rand_u32());
        let mut config = Config::default();
        config.server.port = 0;
        config.server.host = "127.0.0.1".into();
        config.server.shutdown_timeout_secs = 5;
        config.database.path = dir.path().join("data");
        config.storage.local_path = dir.path().join("uploads");
        config.app_pool_size = 4;
        config.database.pool_size = 4;
        // The suites scrape /metrics anonymously; production keeps it closed.
        config.metrics.public = true;
        match store {
            Store::Sqlite => config.database.driver = Driver::Sqlite,
            Store::Postgres => {
                config.database.driver = Driver::Postgres;
                let url = pg_url();
                // Point the URL at our own management database.
                let mgmt = format!("rocket_m{run_id}");
                config.database.url = Some(match url.rfind('/') {
                    Some(i) if url.starts_with("postgres") && url[..i].contains('@') => {
                        format!("{}/{mgmt}", &url[..i])
                    }
                    _ => format!("{url} dbname={mgmt}"),
                });
            }
        }
        tweak(&mut config);
        let server = rocket_server::start_with(config.clone(), plugins)
            .await
            .expect("server starts");
        let url = format!("http://{}", server.addr);
        Some(TestServer {
            url,
            store,
            http: reqwest::Client::new(),
            config,
            server: Some(server),
            run_id,
            app_seq: AtomicU32::new(0),
            _dir: dir,
        })
    }

    /// The running platform (apps, their queues), for tests that reach past HTTP.
    pub fn platform(&self) -> std::sync::Arc<rocket_apps::Platform> {
        self.server.as_ref().expect("server is running").platform.clone()
    }

    /// `http://host:port` of the `metrics.listen` listener, when configured.
    pub fn metrics_url(&self) -> Option<String> {
        let addr = self.server.as_ref()?.metrics_addr?;
        Some(format!("http://{addr}"))
    }

    /// The configuration the server runs with (generated secrets filled in).
    pub fn running_config(&self) -> Option<&Config> {
        self.server.as_ref().map(|s| s.platform.config.as_ref())
    }

    pub fn driver(&self) -> &'static str {
        match self.store {
            Store::Sqlite => "sqlite",
            Store::Postgres => "postgres",
        }
    }

    /// Sends one request. `body` is sent as JSON when given.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            headers,
        }
    }

    /// Sends a raw body (for malformed-JSON tests).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &'static str,
    ) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.url, path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = serde_json::from_slice(&res.bytes().await.expect("body")).unwrap_or(Value::Null);
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }
    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::PUT, path, token, Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Logs in the seeded platform admin.
    pub async fn platform_token(&self) -> String {
        let r = self
            .post(
                "/api/_platform/auth/login",
                None,
                json!({"email": "platform@localhost", "password": "changeme"}),
            )
            .await;
        assert_eq!(r.status, 200, "platform login: {:?}", r.body);
        r.data()["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// A fresh app name unique to this server run (and thus to this test).
    pub fn app_name(&self) -> String {
        format!("t{}{}", self.run_id, self.app_seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Creates an app on this server's store and logs in its seeded admin.
    pub async fn create_app(&self) -> TestApp {
        let platform = self.platform_token().await;
        let name = self.app_name();
        let r = self
            .post(
                "/api/_platform/apps",
                Some(&platform),
                json!({"name": name, "db_driver": self.driver()}),
            )
            .await;
        assert_eq!(r.status, 201, "create app: {:?}", r.body);
        let r = self
            .post(
                &format!("/api/{name}/auth/login"),
                None,
                json!({"email": "admin@localhost", "password": "changeme"}),
            )
            .await;
        assert_eq!(r.status, 200, "app login: {:?}", r.body);
        TestApp {
            name,
            token: r.data()["access_token"].as_str().expect("token").to_string(),
        }
    }

    /// Stops the server and drops every database this run created.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
        if self.store == Store::Postgres {
            drop_run_databases(&self.run_id).await;
        }
    }
}

impl Drop for TestServer {
    /// A panicking test never reaches `stop`; clean its databases anyway.
    fn drop(&mut self) {
        if self.server.is_none() || self.store != Store::Postgres {
            return;
        }
        let run_id = self.run_id.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(drop_run_databases(&run_id));
            }
        })
        .join();
    }
}

async fn drop_run_databases(run_id: &str) {
    let Ok(cfg) = pg_url().parse::<tokio_postgres::Config>() else {
        return;
    };
    let Ok((client, conn)) = cfg.connect(tokio_postgres::NoTls).await else {
        return;
    };
    tokio::spawn(conn);
    let pattern_app = format!("rocket_t{run_id}%");
    let mgmt = format!("rocket_m{run_id}");
    if let Ok(rows) = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2",
            &[&pattern_app, &mgmt],
        )
        .await
    {
        for r in rows {
            let name: String = r.get(0);
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

fn rand_u32() -> u32 {
    let u = uuid::Uuid::new_v4();
    let b = u.as_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Declares each listed `async fn NAME(s: &TestServer)` as two tests,
/// `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(s) = $crate::TestServer::start($crate::Store::Sqlite).await {
                        super::$name(&s).await;
                        s.stop().await;
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(s) = $crate::TestServer::start($crate::Store::Postgres).await {
                        super::$name(&s).await;
                        s.stop().await;
                    }
                }
            }
        )*
    };
}
