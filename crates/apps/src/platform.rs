//! The control plane: management database, app registry and app lifecycle.

use rocket_engine::effects::Effects;
use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::Utc;
use rocket_config::{Config, Driver};
use rocket_error::{Error, Result};
use rocket_store::migrations::{self, Schema};
use rocket_store::{Db, Row, StoreErrorKind, Tx, Value};
use tokio::sync::Mutex;

use crate::accounts::{Accounts, APP_TABLES, PLATFORM_TABLES};
use crate::app::AppContext;
use crate::connect;
use crate::jobs::{self, JobKind, Plugins};

/// LISTEN/NOTIFY channel on the management database; the payload is the app name.
pub const CHANNEL: &str = "rocket_meta";

pub const PLATFORM_EMAIL: &str = "platform@localhost";
pub const APP_ADMIN_EMAIL: &str = "admin@localhost";
pub const SEED_PASSWORD: &str = "changeme";

pub struct Platform {
    pub config: Arc<Config>,
    pub mgmt: Db,
    /// File storage shared by all apps (keys are prefixed with the app name).
    pub storage: rocket_storage::Storage,
    apps: ArcSwap<HashMap<String, Arc<AppContext>>>,
    /// Serialises create/delete/lazy-load so two requests never provision twice.
    lifecycle: Mutex<()>,
    /// Stops the metadata listener on close.
    stop: tokio::sync::watch::Sender<bool>,
    /// The side-effect handlers every app's writes hand their changes to.
    effects: Effects,
    /// The node's queue backend (`queue.driver`), one driver per app over it.
    pub queue: rocket_queue::Backend,
    policies: Arc<rocket_queue::Policies>,
    jobs: Arc<[JobKind]>,
    services: Arc<[crate::jobs::MakeService]>,
}

/// Body of POST /api/_platform/apps.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NewApp {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub db_driver: Option<String>,
}

/// `^[a-z][a-z0-9_-]{0,62}$`
pub fn valid_app_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// `rocket_<name>` with `-` mapped to `_` so PostgreSQL accepts it; the
/// prefix keeps it within PostgreSQL's 63-byte identifier limit only when the
/// name is at most 56 bytes, which create checks.
pub fn db_name_for(app: &str) -> String {
    format!("rocket_{}", app.replace('-', "_"))
}

impl Platform {
    /// Connects the management database, bootstraps it and loads every active app.
    pub async fn start(config: Config) -> Result<Arc<Platform>> {
        Platform::start_with_effects(config, Effects::none()).await
    }

    /// As `start`, with the effect handlers that writes hand their changes to.
    pub async fn start_with_effects(config: Config, effects: Effects) -> Result<Arc<Platform>> {
        Platform::start_with(
            config,
            Plugins {
                effects,
                ..Plugins::default()
            },
        )
        .await
    }

    /// As `start`, with what the node's subsystems register (effects, job kinds).
    pub async fn start_with(config: Config, plugins: Plugins) -> Result<Arc<Platform>> {
        let config = Arc::new(config);
        let queue = rocket_queue::Backend::connect(&rocket_queue::BackendSettings {
            driver: config.queue.driver_for(config.database.driver).to_string(),
            url: config.queue.url.clone(),
            memory_capacity: config.queue.memory_capacity,
        })
        .await
        .map_err(|e| Error::new(rocket_error::ErrorCode::Internal, format!("queue: {e}")))?;
        let policies = Arc::new(jobs::policies(&config.queue, &plugins.jobs));
        let driver = config.database.driver;
        let name = connect::management_db_name(&config);
        if driver == Driver::Postgres {
            connect::create_database(&config, driver, &name, true).await?;
        }
        let mgmt = connect::open(&config, driver, &name, config.database.pool_size)?;
        migrations::apply(&mgmt, Schema::Management).await?;
        let seeded = seed(
            &Accounts {
                db: &mgmt,
                tables: PLATFORM_TABLES,
                secret: &config.platform_jwt_secret,
            },
            PLATFORM_EMAIL,
            &["platform_admin"],
        )
        .await?;
        if seeded {
            tracing::warn!("seeded platform admin {PLATFORM_EMAIL} / {SEED_PASSWORD}: change this password");
        }
        let storage = rocket_storage::Storage::from_config(&config.storage)?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let platform = Arc::new(Platform {
            effects: plugins.effects,
            queue,
            policies,
            jobs: plugins.jobs.into(),
            services: plugins.services.into(),
            config,
            mgmt,
            storage,
            apps: ArcSwap::from_pointee(HashMap::new()),
            lifecycle: Mutex::new(()),
            stop,
        });
        if driver == Driver::Postgres {
            let mut pg = connect::pg_base(&platform.config)?;
            pg.dbname(&name);
            tokio::spawn(crate::listen::run(pg, Arc::downgrade(&platform), stop_rx));
        }
        platform.recover_leftovers().await;
        let rows = platform
            .mgmt
            .query("SELECT * FROM _apps WHERE status = 'active' ORDER BY name", &[])
            .await?;
        for row in rows {
            let name = row.string("name");
            match platform.load_app(&row).await {
                Ok(ctx) => platform.insert(ctx),
                Err(e) => {
                    tracing::error!(app = %name, error = %e, "cannot load app; it will be retried on first request")
                }
            }
        }
        Ok(platform)
    }

    fn insert(&self, ctx: Arc<AppContext>) {
        for make in self.services.iter() {
            ctx.add_service(make(&ctx));
        }
        let defaults = jobs::default_options(&self.config.queue);
        for job in self.jobs.iter() {
            let handler = (job.make)(&ctx);
            let opts = job.options.clone().unwrap_or_else(|| defaults.clone());
            ctx.add_workers(rocket_queue::Workers::start(
                ctx.queue.clone(),
                &job.kind,
                opts,
                handler,
            ));
        }
        self.apps.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(ctx.name.clone(), ctx.clone());
            m
        });
    }

    fn remove(&self, name: &str) -> Option<Arc<AppContext>> {
        let prev = self.apps.load().get(name).cloned();
        self.apps.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.remove(name);
            m
        });
        prev
    }

    /// Opens an app's pool, bootstraps its system tables and seeds its admin.
    async fn load_app(&self, row: &Row) -> Result<Arc<AppContext>> {
        self.load_app_as(row, row.string("status")).await
    }

    /// As `load_app`, serving the app with `status` (a provisioning row is
    /// bootstrapped before it is marked active).
    async fn load_app_as(&self, row: &Row, status: String) -> Result<Arc<AppContext>> {
        let driver = Driver::parse(&row.string("db_driver")).unwrap_or(self.config.database.driver);
        let db_name = row.string("db_name");
        let db = connect::open(&self.config, driver, &db_name, self.config.app_pool_size)?;
        let name = row.string("name");
        let queue_driver = self.queue.open(&name, &db).await.map_err(|e| {
            Error::new(
                rocket_error::ErrorCode::Internal,
                format!("queue for app {name}: {e}"),
            )
        })?;
        let queue = rocket_queue::Queue::new(&name, queue_driver, self.policies.clone());
        let notify = matches!(self.mgmt, Db::Pg(_)).then(|| self.mgmt.clone());
        let ctx = Arc::new(
            AppContext::new(
                row.string("name"),
                row.string("display_name"),
                db_name,
                driver,
                row.string("jwt_secret"),
                status,
                row.timestamp("created_at"),
                row.timestamp("updated_at"),
                db,
                queue,
            )
            .with_notify(notify)
            .with_effects(self.effects.clone()),
        );
        bootstrap_app(&ctx).await?;
        Ok(ctx)
    }

    pub fn loaded_apps(&self) -> Vec<Arc<AppContext>> {
        self.apps.load().values().cloned().collect()
    }

    /// The app serving `/api/:app`, loading it lazily when another node created it.
    pub async fn app(&self, name: &str) -> Result<Arc<AppContext>> {
        if let Some(ctx) = self.apps.load().get(name) {
            return Ok(ctx.clone());
        }
        let not_found = || {
            Error::new(
                rocket_error::ErrorCode::AppNotFound,
                format!("App not found: {name}"),
            )
        };
        if !valid_app_name(name) {
            return Err(not_found());
        }
        let _guard = self.lifecycle.lock().await;
        if let Some(ctx) = self.apps.load().get(name) {
            return Ok(ctx.clone());
        }
        let row = self
            .mgmt
            .query_opt(
                "SELECT * FROM _apps WHERE name = $1 AND status = 'active'",
                &[Value::text(name)],
            )
            .await?
            .ok_or_else(not_found)?;
        let ctx = self.load_app(&row).await?;
        self.insert(ctx.clone());
        Ok(ctx)
    }

    pub async fn list_apps(&self) -> Result<Vec<serde_json::Value>> {
        let rows = self.mgmt.query("SELECT * FROM _apps ORDER BY name", &[]).await?;
        Ok(rows.into_iter().map(|r| app_info(&r)).collect())
    }

    pub async fn get_app(&self, name: &str) -> Result<serde_json::Value> {
        self.mgmt
            .query_opt("SELECT * FROM _apps WHERE name = $1", &[Value::text(name)])
            .await?
            .map(|r| app_info(&r))
            .ok_or_else(|| Error::not_found("App not found"))
    }

    pub async fn create_app(&self, req: NewApp) -> Result<serde_json::Value> {
        let name = req.name.trim().to_string();
        if name.is_empty() {
            return Err(Error::validation("App name is required"));
        }
        if !valid_app_name(&name) {
            return Err(Error::validation(
                "App name must start with a lowercase letter and contain only lowercase letters, digits, hyphens, or underscores (max 63 chars)",
            ));
        }
        if name.len() > 56 {
            return Err(Error::validation(
                "App name must be at most 56 characters (database name limit)",
            ));
        }
        let driver = match req.db_driver.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => self.config.database.driver,
            Some("postgres") => Driver::Postgres,
            Some("sqlite") => Driver::Sqlite,
            Some(_) => return Err(Error::validation("db_driver must be 'postgres' or 'sqlite'")),
        };
        let display_name = req
            .display_name
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| name.clone());
        let db_name = db_name_for(&name);

        let _guard = self.lifecycle.lock().await;
        let claim = self.claim(&name).await?;
        self.clear_leftovers(&name, &db_name).await?;
        let row = self
            .insert_provisioning(&name, &display_name, &db_name, driver)
            .await?;
        pause_at("row").await;
        match self.provision(&row, driver).await {
            Ok(info) => {
                claim.release().await;
                Ok(info)
            }
            Err(e) => {
                if let Err(undo) = self.remove_leftover(&row).await {
                    tracing::error!(app = %name, error = %undo, "cannot roll back a failed app creation; it is retried on start");
                }
                claim.release().await;
                Err(e)
            }
        }
    }

    /// Records the app as `provisioning` (committed) before anything exists
    /// for it, so a crash at any later point leaves a row that says what to
    /// undo. A concurrent create of the name or database loses here: 409.
    async fn insert_provisioning(
        &self,
        name: &str,
        display_name: &str,
        db_name: &str,
        driver: Driver,
    ) -> Result<Row> {
        let now = Utc::now();
        let secret = rocket_auth::random_hex(32);
        let inserted = self
            .mgmt
            .execute(
                "INSERT INTO _apps (name, display_name, db_name, db_driver, jwt_secret, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'provisioning', $6, $6)",
                &[
                    Value::text(name),
                    Value::text(display_name),
                    Value::text(db_name),
                    Value::text(driver.as_str()),
                    Value::text(&secret),
                    Value::Timestamp(now),
                ],
            )
            .await;
        match inserted {
            Err(e) if e.kind == StoreErrorKind::UniqueViolation => {
                Err(Error::conflict(format!("App already exists: {name}")))
            }
            Err(e) => Err(e.into()),
            Ok(_) => self
                .app_row(name)
                .await?
                .ok_or_else(|| Error::internal("app row vanished after insert")),
        }
    }

    /// Creates and bootstraps the database of a `provisioning` row, then
    /// marks it active and serves it; the caller undoes everything on error.
    async fn provision(&self, row: &Row, driver: Driver) -> Result<serde_json::Value> {
        let name = row.string("name");
        let db_name = row.string("db_name");
        self.adopt_orphan(driver, &db_name).await?;
        connect::create_database(&self.config, driver, &db_name, false).await?;
        pause_at("database").await;
        let ctx = self.load_app_as(row, "active".into()).await?;
        pause_at("bootstrap").await;
        let marked = self
            .mgmt
            .execute(
                "UPDATE _apps SET status = 'active', updated_at = $2 WHERE name = $1 AND status = 'provisioning'",
                &[Value::text(&name), Value::Timestamp(Utc::now())],
            )
            .await;
        let row = match marked {
            Ok(1) => self.app_row(&name).await?,
            Ok(_) => None,
            Err(e) => {
                ctx.close();
                return Err(e.into());
            }
        };
        let Some(row) = row else {
            ctx.close();
            return Err(Error::internal("app row changed while it was provisioned"));
        };
        self.insert(ctx);
        let mut info = app_info(&row);
        if let Some(o) = info.as_object_mut() {
            o.remove("created_at");
            o.remove("updated_at");
        }
        Ok(info)
    }

    /// A PostgreSQL database of this name with no app row (we hold the row
    /// now) was left by an older build or made by hand: drop it when it has
    /// only system tables, refuse (409) when it holds anyone's data.
    async fn adopt_orphan(&self, driver: Driver, db_name: &str) -> Result<()> {
        if driver != Driver::Postgres || !connect::pg_database_exists(&self.config, db_name).await? {
            return Ok(());
        }
        if !self.disposable(driver, db_name).await? {
            return Err(Error::conflict(format!(
                "Database already exists and holds tables: {db_name}"
            )));
        }
        tracing::warn!(database = %db_name, "adopting an orphan app database (no app row, no business tables): recreating it");
        connect::drop_database(&self.config, driver, db_name).await
    }

    /// Whether the app database may be dropped without losing anyone's data.
    async fn disposable(&self, driver: Driver, db_name: &str) -> Result<bool> {
        if driver != Driver::Postgres || !connect::pg_database_exists(&self.config, db_name).await? {
            return Ok(true);
        }
        connect::pg_database_is_disposable(&self.config, db_name).await
    }

    async fn app_row(&self, name: &str) -> Result<Option<Row>> {
        Ok(self
            .mgmt
            .query_opt("SELECT * FROM _apps WHERE name = $1", &[Value::text(name)])
            .await?)
    }

    /// Before creating `name`: a row of an active app with this name or
    /// database is a conflict; a row left `provisioning` or `deleting` by a
    /// dead node is rolled back (the caller holds the name's claim).
    async fn clear_leftovers(&self, name: &str, db_name: &str) -> Result<()> {
        let rows = self
            .mgmt
            .query(
                "SELECT * FROM _apps WHERE name = $1 OR db_name = $2",
                &[Value::text(name), Value::text(db_name)],
            )
            .await?;
        // Rows' iterator is not Send; collect before awaiting.
        let rows: Vec<Row> = rows.into_iter().collect();
        for row in rows {
            if row.string("name") != name || !is_leftover(&row) {
                return Err(Error::conflict(format!("App already exists: {name}")));
            }
            tracing::warn!(app = %name, status = %row.string("status"), "rolling back an app left half-provisioned by a crash");
            self.remove_leftover(&row).await?;
        }
        Ok(())
    }

    /// Drops an app's database, then its row: in this order, so a crash in
    /// between still leaves the row that says what to finish.
    async fn remove_leftover(&self, row: &Row) -> Result<()> {
        let driver = Driver::parse(&row.string("db_driver")).unwrap_or(self.config.database.driver);
        let db_name = row.string("db_name");
        // A provisioning app never gets business tables; a database that has
        // some was never its own (an orphan it refused to adopt).
        if row.string("status") == "provisioning" && !self.disposable(driver, &db_name).await? {
            tracing::warn!(database = %db_name, "keeping a database with business tables that a provisioning app did not own");
        } else {
            connect::drop_database(&self.config, driver, &db_name).await?;
        }
        self.mgmt
            .execute(
                "DELETE FROM _apps WHERE name = $1",
                &[Value::text(row.string("name"))],
            )
            .await?;
        Ok(())
    }

    /// On start: rolls back every app a dead node left `provisioning` or
    /// `deleting`. Rows whose claim a live node holds are left to it.
    async fn recover_leftovers(&self) {
        let rows = match self
            .mgmt
            .query(
                "SELECT * FROM _apps WHERE status IN ('provisioning', 'deleting') ORDER BY name",
                &[],
            )
            .await
        {
            Ok(rows) => rows.into_iter().collect::<Vec<Row>>(),
            Err(e) => {
                tracing::error!(error = %e, "cannot look for half-provisioned apps");
                return;
            }
        };
        for row in rows {
            let name = row.string("name");
            let claim = match self.claim(&name).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::info!(app = %name, error = %e, "app is being provisioned or deleted by a live node");
                    continue;
                }
            };
            match self.remove_leftover(&row).await {
                Ok(()) => {
                    tracing::warn!(app = %name, status = %row.string("status"), "rolled back an app left half-done by a crash")
                }
                Err(e) => tracing::error!(app = %name, error = %e, "cannot roll back a half-provisioned app"),
            }
            claim.release().await;
        }
    }

    /// Claims the right to provision or delete `name`. On PostgreSQL it is a
    /// transaction holding the name's advisory lock, which the server frees
    /// when the holder's connection dies: a row left `provisioning` whose
    /// lock is free belongs to a dead node. SQLite has one process per file.
    async fn claim(&self, name: &str) -> Result<Claim> {
        if !matches!(self.mgmt, Db::Pg(_)) {
            return Ok(Claim(None));
        }
        let mut tx = self.mgmt.begin().await?;
        let got = tx
            .query_opt(
                "SELECT pg_try_advisory_xact_lock($1) AS ok",
                &[Value::Int(lock_key(name))],
            )
            .await?
            .and_then(|r| r.bool("ok"))
            .unwrap_or(false);
        if !got {
            let _ = tx.rollback().await;
            return Err(Error::conflict(format!(
                "App is being created or deleted: {name}"
            )));
        }
        Ok(Claim(Some(tx)))
    }

    /// Marks the app `deleting` (committed) before dropping anything, so a
    /// crash part way is finished on start or by the next delete.
    pub async fn delete_app(&self, name: &str) -> Result<()> {
        let _guard = self.lifecycle.lock().await;
        let not_found = || Error::not_found(format!("App not found or failed to delete: {name}"));
        let row = self.app_row(name).await?.ok_or_else(not_found)?;
        let claim = self.claim(name).await?;
        self.mgmt
            .execute(
                "UPDATE _apps SET status = 'deleting', updated_at = $2 WHERE name = $1",
                &[Value::text(name), Value::Timestamp(Utc::now())],
            )
            .await?;
        if let Some(ctx) = self.remove(name) {
            ctx.close();
        }
        self.announce(name).await;
        pause_at("delete").await;
        if let Err(e) = self.remove_leftover(&row).await {
            tracing::error!(app = %name, error = %e, "app marked deleting but its database could not be dropped; retried on start");
        }
        claim.release().await;
        Ok(())
    }

    pub fn platform_accounts(&self) -> Accounts<'_> {
        Accounts {
            db: &self.mgmt,
            tables: PLATFORM_TABLES,
            secret: &self.config.platform_jwt_secret,
        }
    }

    /// Another node changed `app`'s metadata (or deleted the app): reload it
    /// here, or forget it when its row is gone.
    pub async fn on_remote_change(&self, app: &str) {
        let Some(ctx) = self.apps.load().get(app).cloned() else {
            return;
        };
        let alive = self
            .mgmt
            .query_opt(
                "SELECT name FROM _apps WHERE name = $1 AND status = 'active'",
                &[Value::text(app)],
            )
            .await;
        match alive {
            Ok(Some(_)) => {
                if let Err(e) = ctx.reload().await {
                    tracing::warn!(app, error = %e, "reload after a remote metadata change failed");
                }
            }
            Ok(None) => {
                if let Some(ctx) = self.remove(app) {
                    ctx.close();
                }
            }
            Err(e) => tracing::warn!(app, error = %e, "cannot check an app after a remote change"),
        }
    }

    /// Announces an app's removal to the other nodes.
    async fn announce(&self, app: &str) {
        if matches!(self.mgmt, Db::Pg(_)) {
            let _ = self
                .mgmt
                .execute(
                    "SELECT pg_notify($1, $2)",
                    &[Value::text(CHANNEL), Value::text(app)],
                )
                .await;
        }
    }

    /// Closes every pool; called once in-flight requests have finished.
    /// Stops at once: consumers aborted (their jobs are delivered again
    /// later), pools closed.
    pub fn close(&self) {
        let _ = self.stop.send(true);
        for app in self.loaded_apps() {
            app.close();
        }
        self.mgmt.close();
    }

    /// Graceful stop: every app's in-flight jobs get until `deadline`, then
    /// queue drivers and pools close.
    pub async fn shutdown(&self, deadline: std::time::Duration) {
        let _ = self.stop.send(true);
        let apps = self.loaded_apps();
        futures_util::future::join_all(apps.iter().map(|a| a.shutdown(deadline))).await;
        self.mgmt.close();
    }
}

/// See `Platform::claim`; dropping it without `release` also frees the lock.
struct Claim(Option<Tx>);

impl Claim {
    async fn release(self) {
        if let Some(tx) = self.0 {
            let _ = tx.commit().await;
        }
    }
}

/// The advisory-lock key of an app name (FNV-1a: stable across builds and
/// nodes, unlike the standard library's hasher).
fn lock_key(name: &str) -> i64 {
    let hash = format!("rocket_app:{name}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// A row a crash can leave behind: neither served nor finished.
fn is_leftover(row: &Row) -> bool {
    matches!(row.string("status").as_str(), "provisioning" | "deleting")
}

/// TEST-ONLY hook: `ROCKET_TEST_PAUSE_PROVISIONING=<step>` (`row`,
/// `database`, `bootstrap` of a create; `delete` of a delete) stops the
/// sequence at that step for an hour, so crates/server/tests/provisioning.rs
/// can kill the process exactly there. Never set it in production.
async fn pause_at(step: &str) {
    if std::env::var("ROCKET_TEST_PAUSE_PROVISIONING").is_ok_and(|s| s == step) {
        eprintln!("rocket: test hook: provisioning paused at {step}");
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

pub fn app_accounts(ctx: &AppContext) -> Accounts<'_> {
    Accounts {
        db: &ctx.db,
        tables: APP_TABLES,
        secret: &ctx.jwt_secret,
    }
}

async fn seed(accounts: &Accounts<'_>, email: &str, roles: &[&str]) -> Result<bool> {
    match accounts.seed_if_empty(email, SEED_PASSWORD, roles).await {
        Ok(seeded) => Ok(seeded),
        // Another node seeded first.
        Err(e) if e.code == rocket_error::ErrorCode::Conflict => Ok(false),
        Err(e) => Err(e),
    }
}

async fn bootstrap_app(ctx: &AppContext) -> Result<()> {
    migrations::apply(&ctx.db, Schema::App).await?;
    ctx.reload().await?;
    if seed(&app_accounts(ctx), APP_ADMIN_EMAIL, &["admin"]).await? {
        tracing::warn!(app = %ctx.name, "seeded app admin {APP_ADMIN_EMAIL} / {SEED_PASSWORD}: change this password");
    }
    Ok(())
}

fn app_info(r: &Row) -> serde_json::Value {
    serde_json::json!({
        "name": r.string("name"),
        "display_name": r.string("display_name"),
        "db_name": r.string("db_name"),
        "db_driver": r.string("db_driver"),
        "status": r.string("status"),
        "created_at": r.timestamp("created_at").as_ref().map(rocket_store::format_timestamp),
        "updated_at": r.timestamp("updated_at").as_ref().map(rocket_store::format_timestamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_name_pattern() {
        for ok in ["shop", "a", "help-desk", "a_1"] {
            assert!(valid_app_name(ok), "{ok}");
        }
        for bad in ["", "Shop", "1shop", "_x", "a b", "a.b", &"a".repeat(64)] {
            assert!(!valid_app_name(bad), "{bad}");
        }
        assert_eq!(db_name_for("help-desk"), "rocket_help_desk");
    }
}

#[cfg(test)]
mod send_check {
    use super::*;

    /// The lifecycle futures run inside axum handlers, which must be Send.
    #[allow(dead_code)]
    fn lifecycle_futures_are_send(p: &Platform) {
        fn send<T: Send>(_: T) {}
        send(p.create_app(NewApp::default()));
        send(p.delete_app(""));
    }
}
