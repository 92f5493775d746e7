use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use rocket_config::Driver;
use rocket_engine::effects::Effects;
use rocket_meta::Registry;
use rocket_queue::{Queue, Workers};
use rocket_store::{format_timestamp, Db};
use serde_json::json;

/// One served app: its pool, signing secret and current metadata snapshot.
pub struct AppContext {
    pub name: String,
    pub display_name: String,
    pub db_name: String,
    pub driver: Driver,
    pub jwt_secret: String,
    pub status: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub db: Db,
    registry: ArcSwap<Registry>,
    /// Serialises metadata changes on this node: validate, migrate, reload.
    pub meta_lock: tokio::sync::Mutex<()>,
    /// The management database when it is PostgreSQL: metadata changes are
    /// announced there (NOTIFY) so every node reloads this app.
    notify: Option<Db>,
    /// Handlers that this app's writes hand their committed changes to.
    pub effects: Effects,
    /// This app's job queue (its driver per `queue.driver`).
    pub queue: Queue,
    /// The consumers of the node's registered job kinds for this app.
    workers: std::sync::Mutex<Vec<Workers>>,
    /// Per-app services of the node's subsystems (stopped after the workers).
    services: std::sync::Mutex<Vec<Arc<dyn crate::jobs::AppService>>>,
    /// Per-app state of the node's subsystems (an event buffer), by type.
    ext: std::sync::RwLock<Vec<Arc<dyn std::any::Any + Send + Sync>>>,
}

impl AppContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        display_name: String,
        db_name: String,
        driver: Driver,
        jwt_secret: String,
        status: String,
        created_at: Option<DateTime<Utc>>,
        updated_at: Option<DateTime<Utc>>,
        db: Db,
        queue: Queue,
    ) -> Self {
        AppContext {
            name,
            display_name,
            db_name,
            driver,
            jwt_secret,
            status,
            created_at,
            updated_at,
            registry: ArcSwap::from_pointee(Registry::new(db.dialect())),
            db,
            meta_lock: tokio::sync::Mutex::new(()),
            notify: None,
            effects: Effects::none(),
            queue,
            workers: std::sync::Mutex::new(Vec::new()),
            services: std::sync::Mutex::new(Vec::new()),
            ext: std::sync::RwLock::new(Vec::new()),
        }
    }

    /// Starts consuming a job kind for this app.
    pub fn add_workers(&self, w: Workers) {
        self.workers.lock().unwrap_or_else(|p| p.into_inner()).push(w);
    }

    pub fn add_service(&self, s: Arc<dyn crate::jobs::AppService>) {
        self.services.lock().unwrap_or_else(|p| p.into_inner()).push(s);
    }

    /// Keeps a subsystem's per-app state where the HTTP layer finds it.
    pub fn insert_ext<T: std::any::Any + Send + Sync>(&self, value: Arc<T>) {
        let mut ext = self.ext.write().unwrap_or_else(|p| p.into_inner());
        ext.retain(|e| !e.is::<T>());
        ext.push(value);
    }

    /// The state of type `T` a subsystem keeps for this app.
    pub fn ext<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let ext = self.ext.read().unwrap_or_else(|p| p.into_inner());
        ext.iter().find_map(|e| e.clone().downcast::<T>().ok())
    }

    fn take_services(&self) -> Vec<Arc<dyn crate::jobs::AppService>> {
        std::mem::take(&mut *self.services.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn take_workers(&self) -> Vec<Workers> {
        std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Stops serving at once (app deleted or failed to provision): consumers
    /// are aborted (their jobs come back after the visibility timeout), the
    /// queue's background tasks stop, the pool closes.
    pub fn close(&self) {
        drop(self.take_workers());
        drop(self.take_services());
        let driver = self.queue.driver().clone();
        tokio::spawn(async move { driver.close().await });
        self.db.close();
    }

    /// Graceful stop: in-flight jobs get until `deadline` to finish.
    pub async fn shutdown(&self, deadline: std::time::Duration) {
        let drains = self.take_workers().into_iter().map(|w| w.shutdown(deadline));
        futures_util::future::join_all(drains).await;
        for s in self.take_services() {
            s.stop().await;
        }
        self.queue.driver().close().await;
        self.db.close();
    }

    /// The snapshot a request should use from start to end.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    pub fn swap_registry(&self, next: Registry) {
        self.registry.store(Arc::new(next));
    }

    pub fn with_effects(mut self, effects: Effects) -> Self {
        self.effects = effects;
        self
    }

    pub fn with_notify(mut self, mgmt: Option<Db>) -> Self {
        self.notify = mgmt;
        self
    }

    /// After a metadata change: reload here, then tell the other nodes.
    pub async fn changed(&self) -> rocket_error::Result<()> {
        self.reload().await?;
        if let Some(mgmt) = &self.notify {
            if let Err(e) = mgmt
                .execute(
                    "SELECT pg_notify($1, $2)",
                    &[
                        rocket_store::Value::text(crate::platform::CHANNEL),
                        rocket_store::Value::text(&self.name),
                    ],
                )
                .await
            {
                tracing::warn!(app = %self.name, error = %e, "could not announce a metadata change; other nodes keep their snapshot until restart");
            }
        }
        Ok(())
    }

    /// Rebuilds the snapshot from the app database and swaps it in.
    pub async fn reload(&self) -> rocket_error::Result<()> {
        let next = rocket_meta::load_registry(&self.db).await?;
        self.swap_registry(next);
        Ok(())
    }

    /// AppInfo as the platform API returns it.
    pub fn info(&self) -> serde_json::Value {
        json!({
            "name": self.name,
            "display_name": self.display_name,
            "db_name": self.db_name,
            "db_driver": self.driver.as_str(),
            "status": self.status,
            "created_at": self.created_at.as_ref().map(format_timestamp),
            "updated_at": self.updated_at.as_ref().map(format_timestamp),
        })
    }
}
