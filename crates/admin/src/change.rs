//! The metadata change sequence, written once for every admin route and for
//! import: lock → (validate, migrate, write rows: the caller's step) →
//! rebuild the snapshot → notify the other nodes.

use std::future::Future;
use std::sync::Arc;

use rocket_apps::AppContext;
use rocket_error::Result;
use rocket_meta::Registry;

/// When the snapshot is rebuilt after the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Only after a successful step (a failed one rolled back everything).
    OnSuccess,
    /// Always: the step commits in phases, so part of it may have landed
    /// even when it reports an error (import).
    Always,
}

/// Runs `step` with the current snapshot under the app's metadata lock, then
/// rebuilds the snapshot and tells the other nodes.
pub async fn apply<T, F, Fut>(app: &AppContext, publish: Publish, step: F) -> Result<T>
where
    F: FnOnce(Arc<Registry>) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let _guard = app.meta_lock.lock().await;
    let out = step(app.registry()).await;
    if out.is_ok() || publish == Publish::Always {
        app.changed().await?;
    }
    out
}
