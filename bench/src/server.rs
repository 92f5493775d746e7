//! The server under test as a child process, so the load generator and the
//! server are measured as separate processes sharing the machine.

use std::process::Stdio;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

impl Store {
    /// The stores a `--store` argument names: `sqlite`, `postgres`, or both.
    pub fn parse_list(arg: &str) -> Vec<Store> {
        match arg {
            "sqlite" => vec![Store::Sqlite],
            "postgres" => vec![Store::Postgres],
            _ => vec![Store::Sqlite, Store::Postgres],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Store::Sqlite => "sqlite",
            Store::Postgres => "postgres",
        }
    }
}

pub struct Child {
    pub url: String,
    pub store: Store,
    proc: tokio::process::Child,
    _dir: std::path::PathBuf,
    mgmt_db: Option<String>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn server_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name("rocket")
}

pub fn pg_base() -> String {
    std::env::var("ROCKET_BENCH_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl Child {
    pub async fn start(store: Store) -> anyhow::Result<Child> {
        Child::start_with(store, &[]).await
    }

    /// Starts with `env` on top of the benchmark's settings.
    pub async fn start_with(store: Store, env: &[(&str, String)]) -> anyhow::Result<Child> {
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("rocket-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        let mut cmd = tokio::process::Command::new(server_bin());
        cmd.env("ROCKET_SERVER_PORT", port.to_string())
            .env("ROCKET_DATABASE_PATH", dir.join("data"))
            .env("ROCKET_STORAGE_LOCAL_PATH", dir.join("uploads"))
            .env("ROCKET_DATABASE_POOL_SIZE", "8")
            .env("ROCKET_APP_POOL_SIZE", "16")
            .env("ROCKET_STORAGE_MAX_FILE_SIZE", "20971520")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut mgmt_db = None;
        match store {
            Store::Sqlite => {
                cmd.env("ROCKET_DATABASE_DRIVER", "sqlite");
            }
            Store::Postgres => {
                let name = format!("rocket_bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
                cmd.env("DATABASE_URL", format!("{}/{name}", pg_base()));
                mgmt_db = Some(name);
            }
        }
        let proc = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", server_bin().display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{url}/health")).send().await.is_ok() {
                return Ok(Child {
                    url,
                    store,
                    proc,
                    _dir: dir,
                    mgmt_db,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("server did not become healthy")
    }

    /// Peak resident memory of the server process (VmHWM), in KiB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        let pid = self.proc.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    }

    pub async fn stop(mut self) {
        let _ = self.proc.kill().await;
        let _ = std::fs::remove_dir_all(&self._dir);
        if let Some(db) = self.mgmt_db.take() {
            drop_bench_dbs(&db).await;
        }
    }
}

async fn drop_bench_dbs(mgmt: &str) {
    let Ok((client, conn)) =
        tokio_postgres::connect(&format!("{}/postgres", pg_base()), tokio_postgres::NoTls).await
    else {
        return;
    };
    tokio::spawn(conn);
    if let Ok(rows) = client
        .query(
            "SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE 'rocket_bench%'",
            &[&mgmt],
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
