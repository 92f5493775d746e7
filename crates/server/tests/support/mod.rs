//! What the binary-level tests share: the `rocket` server as a child
//! process (started with an environment, killed with SIGKILL, restarted),
//! its output as lines, HTTP calls to it, and the rule for services that are
//! not running (skip with a message off CI, fail under `CI=true`).
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A service is unreachable: `None` (skip) off CI, a panic on CI.
pub fn unreachable<T>(service: &str, why: impl std::fmt::Display) -> Option<T> {
    if ci() {
        panic!("CI=true but {service} is unreachable: {why}");
    }
    eprintln!("SKIPPED: {service} is unreachable ({why}); start it to run this suite");
    None
}

pub fn pg_url() -> String {
    std::env::var("ROCKET_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The test URL pointed at database `db` (URL or libpq key=value form).
pub fn url_for(db: &str) -> String {
    let url = pg_url();
    match url.rfind('/') {
        Some(i) if url.starts_with("postgres") && url[..i].contains('@') => format!("{}/{db}", &url[..i]),
        _ => format!("{url} dbname={db}"),
    }
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}{:x}{:x}", std::process::id(), nanos)
}

/// A superuser connection to the maintenance database, or None (skip) when
/// PostgreSQL is unreachable outside CI.
pub async fn pg_admin() -> Option<tokio_postgres::Client> {
    let connected = match pg_url().parse::<tokio_postgres::Config>() {
        Ok(cfg) => tokio::time::timeout(Duration::from_secs(3), cfg.connect(tokio_postgres::NoTls))
            .await
            .ok()
            .and_then(Result::ok),
        Err(_) => None,
    };
    match connected {
        Some((client, conn)) => {
            tokio::spawn(conn);
            Some(client)
        }
        None => unreachable("PostgreSQL", pg_url()),
    }
}

pub async fn drop_db(pg: &tokio_postgres::Client, db: &str) {
    let _ = pg
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
        .await;
}

/// The environment of a run on PostgreSQL with management database `mgmt`.
pub fn pg_env(mgmt: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url_for(mgmt)),
        ("ROCKET_DATABASE_DRIVER", "postgres".to_string()),
    ]
}

/// One run of the binary; its stdout and stderr arrive as lines.
pub struct Rocket {
    child: Child,
    pub url: String,
    lines: mpsc::UnboundedReceiver<String>,
    pub http: reqwest::Client,
}

fn forward(stream: impl AsyncRead + Unpin + Send + 'static, tx: mpsc::UnboundedSender<String>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

impl Rocket {
    /// Starts the binary in `dir` (SQLite files and uploads there) on an
    /// ephemeral port with `env` on top, and waits until it listens.
    pub async fn start(dir: &Path, env: &[(&str, String)]) -> Rocket {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rocket"));
        cmd.current_dir(dir)
            .env("ROCKET_SERVER_HOST", "127.0.0.1")
            .env("ROCKET_SERVER_PORT", "0")
            .env("ROCKET_DATABASE_PATH", dir.join("data"))
            .env("ROCKET_STORAGE_LOCAL_PATH", dir.join("uploads"))
            .env_remove("ROCKET_TEST_PAUSE_PROVISIONING")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn rocket");
        let (tx, lines) = mpsc::unbounded_channel();
        forward(child.stdout.take().expect("stdout"), tx.clone());
        forward(child.stderr.take().expect("stderr"), tx);
        let mut s = Rocket {
            child,
            url: String::new(),
            lines,
            http: reqwest::Client::new(),
        };
        let line = s.wait_for("Rocket listening on ").await;
        let addr = line.split("Rocket listening on ").nth(1).unwrap_or_default();
        s.url = addr.trim().to_string();
        s
    }

    /// The first output line containing `needle` (60 s at most).
    pub async fn wait_for(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) if line.contains(needle) => return line,
                Ok(Some(_)) => {}
                Ok(None) => panic!("rocket exited before printing {needle:?}"),
                Err(_) => panic!("rocket did not print {needle:?} within 60 s"),
            }
        }
    }

    /// SIGTERM, then the exit code once the graceful stop is done (60 s at most).
    pub async fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the server stopped within 60 s of SIGTERM")
            .expect("wait");
        status.code()
    }

    pub async fn kill9(mut self) {
        self.child.kill().await.expect("SIGKILL rocket");
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn login(&self, path: &str, email: &str) -> String {
        let body = json!({"email": email, "password": "changeme"});
        let (status, body) = self.call(reqwest::Method::POST, path, None, Some(body)).await;
        assert_eq!(status, 200, "{body}");
        body["data"]["access_token"].as_str().expect("token").to_string()
    }

    /// The platform admin's token.
    pub async fn token(&self) -> String {
        self.login("/api/_platform/auth/login", "platform@localhost")
            .await
    }

    /// The seeded admin's token of app `name`.
    pub async fn app_token(&self, name: &str) -> String {
        self.login(&format!("/api/{name}/auth/login"), "admin@localhost")
            .await
    }
}
