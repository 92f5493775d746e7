//! What the subsystems above register on a node (`Plugins`): effect handlers
//! for writes, and job kinds with a handler per app. The platform opens each
//! app's queue on the configured backend and starts the consumers of every
//! registered kind for it; nothing here knows what a kind does.

use std::sync::Arc;
use std::time::Duration;

use rocket_config::QueueConfig;
use rocket_engine::effects::Effects;
use rocket_queue::{Handler, KindOptions, Policies, RetryPolicy};

use crate::app::AppContext;

/// Builds the handler of a kind for one app (it may keep the app's context).
pub type MakeHandler = Arc<dyn Fn(&Arc<AppContext>) -> Arc<dyn Handler> + Send + Sync>;

#[derive(Clone)]
pub struct JobKind {
    pub kind: String,
    /// None: `queue.concurrency`, `queue.visibility_timeout_secs`, ...
    pub options: Option<KindOptions>,
    /// None: the `queue.*` retry defaults.
    pub retry: Option<RetryPolicy>,
    pub make: MakeHandler,
}

/// Everything a node's subsystems plug into the platform.
#[derive(Clone, Default)]
pub struct Plugins {
    pub effects: Effects,
    pub jobs: Vec<JobKind>,
    /// Per-app services, started before the app's job consumers.
    pub services: Vec<MakeService>,
}

/// What a subsystem keeps per app (a log writer, a buffer) that must finish
/// its work on a graceful stop, after the app's consumers have drained and
/// before its pool closes.
pub trait AppService: Send + Sync {
    fn stop(&self) -> futures_util::future::BoxFuture<'_, ()>;
}

/// Starts a subsystem's service for one app.
pub type MakeService = Arc<dyn Fn(&Arc<AppContext>) -> Arc<dyn AppService> + Send + Sync>;

pub(crate) fn default_options(q: &QueueConfig) -> KindOptions {
    KindOptions {
        concurrency: q.concurrency,
        visibility: Duration::from_secs(q.visibility_timeout_secs),
        idle_poll: Duration::from_millis(q.poll_interval_ms),
    }
}

pub(crate) fn policies(q: &QueueConfig, jobs: &[JobKind]) -> Policies {
    let default = RetryPolicy {
        max_attempts: q.max_attempts,
        base: Duration::from_millis(q.backoff_base_ms),
        cap: Duration::from_secs(q.backoff_cap_secs),
        jitter: true,
    };
    Policies {
        kinds: jobs
            .iter()
            .filter_map(|j| j.retry.clone().map(|r| (j.kind.clone(), r)))
            .collect(),
        default,
    }
}
