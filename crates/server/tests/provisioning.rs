//! Crash-safe app provisioning on PostgreSQL, against the real binary: the
//! `rocket` server runs as a child process, is killed with SIGKILL at each
//! step of creating (and deleting) an app — held there by the test-only
//! `ROCKET_TEST_PAUSE_PROVISIONING=<step>` hook — and restarted; the name
//! must then be creatable and deletable, with no database left behind.
//! Orphan databases (no app row) are adopted when they hold no tables.
//! Skipped without PostgreSQL unless CI=true.

use std::path::Path;

use serde_json::{json, Value};

mod support;
use support::{drop_db, pg_admin as admin, pg_env, unique, url_for, Rocket};

async fn db_exists(pg: &tokio_postgres::Client, db: &str) -> bool {
    let rows = pg
        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .await
        .expect("query pg_database");
    !rows.is_empty()
}

/// A run against management database `mgmt`, optionally held at a
/// provisioning step.
async fn start(mgmt: &str, dir: &Path, pause: Option<&str>) -> Rocket {
    let mut env = pg_env(mgmt);
    env.extend([
        ("ROCKET_DATABASE_POOL_SIZE", "3".to_string()),
        ("APP_POOL_SIZE", "2".to_string()),
    ]);
    if let Some(step) = pause {
        env.push(("ROCKET_TEST_PAUSE_PROVISIONING", step.to_string()));
    }
    Rocket::start(dir, &env).await
}

trait Apps {
    async fn create(&self, t: &str, name: &str) -> (u16, Value);
    async fn delete(&self, t: &str, name: &str) -> u16;
    async fn status_of(&self, t: &str, name: &str) -> (u16, Value);
    async fn app_serves(&self, name: &str) -> bool;
}

impl Apps for Rocket {
    async fn create(&self, t: &str, name: &str) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/api/_platform/apps",
            Some(t),
            Some(json!({"name": name, "db_driver": "postgres"})),
        )
        .await
    }

    async fn delete(&self, t: &str, name: &str) -> u16 {
        let path = format!("/api/_platform/apps/{name}");
        self.call(reqwest::Method::DELETE, &path, Some(t), None).await.0
    }

    async fn status_of(&self, t: &str, name: &str) -> (u16, Value) {
        let path = format!("/api/_platform/apps/{name}");
        self.call(reqwest::Method::GET, &path, Some(t), None).await
    }

    /// The app serves: its seeded admin can log in.
    async fn app_serves(&self, name: &str) -> bool {
        let body = json!({"email": "admin@localhost", "password": "changeme"});
        let path = format!("/api/{name}/auth/login");
        self.call(reqwest::Method::POST, &path, None, Some(body)).await.0 == 200
    }
}

/// Runs `body` with a fresh management database and temp dir, then drops
/// the management database and `apps`' databases even when `body` panics.
async fn with_mgmt<F, Fut>(pg: tokio_postgres::Client, apps: Vec<String>, body: F)
where
    F: FnOnce(String, tempfile::TempDir) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mgmt = unique("rocket_p");
    let dir = tempfile::tempdir().expect("temp dir");
    let outcome = tokio::spawn(body(mgmt.clone(), dir)).await;
    drop_db(&pg, &mgmt).await;
    for app in &apps {
        drop_db(&pg, &format!("rocket_{app}")).await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Kill during a create at `step`, restart, then create and delete cleanly.
async fn killed_while_creating_at(step: &'static str) {
    let Some(pg) = admin().await else { return };
    let name = unique("pk");
    let db = format!("rocket_{name}");
    let (n, d) = (name.clone(), db.clone());
    let Some(check) = admin().await else { return };
    with_mgmt(pg, vec![name], move |mgmt, dir| async move {
        let mut srv = start(&mgmt, dir.path(), Some(step)).await;
        let t = srv.token().await;
        let (url, t2, n2) = (srv.url.clone(), t.clone(), n.clone());
        // The create hangs at the pause; its answer never comes.
        let hung = tokio::spawn(async move {
            let _ = reqwest::Client::new()
                .post(format!("{url}/api/_platform/apps"))
                .bearer_auth(t2)
                .json(&json!({"name": n2, "db_driver": "postgres"}))
                .send()
                .await;
        });
        srv.wait_for(&format!("provisioning paused at {step}")).await;
        srv.kill9().await;
        hung.abort();

        let srv = start(&mgmt, dir.path(), None).await;
        let t = srv.token().await;
        // Recovery on start rolled the half-made app back.
        assert_eq!(
            srv.status_of(&t, &n).await.0,
            404,
            "step {step}: app row left behind"
        );
        assert!(
            !db_exists(&check, &d).await,
            "step {step}: orphan database left behind"
        );
        let (status, body) = srv.create(&t, &n).await;
        assert_eq!(status, 201, "step {step}: {body}");
        assert_eq!(body["data"]["status"], "active", "{body}");
        assert!(srv.app_serves(&n).await, "step {step}: app does not serve");
        assert_eq!(srv.delete(&t, &n).await, 200, "step {step}");
        assert!(
            !db_exists(&check, &d).await,
            "step {step}: database left after delete"
        );
        srv.kill9().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_row_is_recorded() {
    killed_while_creating_at("row").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_database_is_created() {
    killed_while_creating_at("database").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_database_is_bootstrapped() {
    killed_while_creating_at("bootstrap").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_deleting_is_finished_on_start() {
    let Some(pg) = admin().await else { return };
    let Some(check) = admin().await else { return };
    let name = unique("pd");
    let (n, d) = (name.clone(), format!("rocket_{name}"));
    with_mgmt(pg, vec![name], move |mgmt, dir| async move {
        let mut srv = start(&mgmt, dir.path(), Some("delete")).await;
        let t = srv.token().await;
        assert_eq!(srv.create(&t, &n).await.0, 201);
        let (url, t2, n2) = (srv.url.clone(), t.clone(), n.clone());
        let hung = tokio::spawn(async move {
            let _ = reqwest::Client::new()
                .delete(format!("{url}/api/_platform/apps/{n2}"))
                .bearer_auth(t2)
                .send()
                .await;
        });
        srv.wait_for("provisioning paused at delete").await;
        srv.kill9().await;
        hung.abort();

        let srv = start(&mgmt, dir.path(), None).await;
        let t = srv.token().await;
        assert_eq!(srv.status_of(&t, &n).await.0, 404, "delete not finished on start");
        assert!(
            !db_exists(&check, &d).await,
            "database left after an interrupted delete"
        );
        assert_eq!(srv.create(&t, &n).await.0, 201, "name not reusable");
        assert_eq!(srv.delete(&t, &n).await, 200);
        assert!(!db_exists(&check, &d).await);
        srv.kill9().await;
    })
    .await;
}

/// A row a dead node left `provisioning` (with its database) is rolled back
/// by the next create of that name, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leftover_row_is_rolled_back_by_the_next_create() {
    let Some(pg) = admin().await else { return };
    let Some(check) = admin().await else { return };
    let name = unique("pl");
    let (n, d) = (name.clone(), format!("rocket_{name}"));
    with_mgmt(pg, vec![name], move |mgmt, dir| async move {
        let srv = start(&mgmt, dir.path(), None).await;
        let t = srv.token().await;
        let m = connect(&url_for(&mgmt)).await;
        m.execute(
            "INSERT INTO _apps (name, display_name, db_name, db_driver, jwt_secret, status) VALUES ($1, $1, $2, 'postgres', 'x', 'provisioning')",
            &[&n, &d],
        )
        .await
        .expect("insert leftover row");
        check.batch_execute(&format!("CREATE DATABASE \"{d}\"")).await.expect("create db");
        // Not served while provisioning.
        assert!(!srv.app_serves(&n).await, "a provisioning app was served");
        let (status, body) = srv.create(&t, &n).await;
        assert_eq!(status, 201, "{body}");
        assert!(srv.app_serves(&n).await);
        assert_eq!(srv.delete(&t, &n).await, 200);
        assert!(!db_exists(&check, &d).await);
        srv.kill9().await;
    })
    .await;
}

/// An orphan `rocket_<name>` database (no app row) is adopted when it has
/// no tables, and refused (409, left untouched) when it holds a table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_databases_are_adopted_only_when_empty() {
    let Some(pg) = admin().await else { return };
    let Some(check) = admin().await else { return };
    let (empty, full) = (unique("po"), unique("pf"));
    let (e, f) = (empty.clone(), full.clone());
    with_mgmt(pg, vec![empty, full], move |mgmt, dir| async move {
        let srv = start(&mgmt, dir.path(), None).await;
        let t = srv.token().await;
        for n in [&e, &f] {
            check
                .batch_execute(&format!("CREATE DATABASE \"rocket_{n}\""))
                .await
                .expect("create orphan");
        }
        let stray = connect(&url_for(&format!("rocket_{f}"))).await;
        stray
            .batch_execute("CREATE TABLE things (id int)")
            .await
            .expect("create table");
        drop(stray);

        let (status, body) = srv.create(&t, &e).await;
        assert_eq!(status, 201, "empty orphan not adopted: {body}");
        assert!(srv.app_serves(&e).await);
        assert_eq!(srv.delete(&t, &e).await, 200);
        assert!(
            !db_exists(&check, &format!("rocket_{e}")).await,
            "orphan left after delete"
        );

        let (status, body) = srv.create(&t, &f).await;
        assert_eq!(status, 409, "{body}");
        assert!(
            db_exists(&check, &format!("rocket_{f}")).await,
            "a database with data was dropped"
        );
        assert_eq!(srv.status_of(&t, &f).await.0, 404, "refused create left a row");
        srv.kill9().await;
    })
    .await;
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}
