//! The effect seam: the write pipeline describes each top-level change and
//! hands it to the registered handlers at two moments — inside the write's
//! transaction just before commit (sync webhooks, outbox rows: an error
//! aborts the write and nothing commits) and after commit (async work; it
//! cannot fail the write). The engine does not know which handlers exist;
//! the crates above register them (webhooks, workflows, events, notify).
//!
//! Nested child writes are not changes of their own here: the contract fires
//! no entity webhooks for them (semantics.md §12.1).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use rocket_error::Result;
use rocket_meta::Entity;
use rocket_store::Tx;

use crate::perm::Caller;
use crate::read::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One change of one record, as the write pipeline made it.
pub struct Change<'a> {
    /// The app the write belongs to.
    pub app: &'a str,
    pub entity: &'a Entity,
    pub action: Action,
    /// Writes: the payload's fields as written (after rules, state machine,
    /// slug and file resolution). Deletes: the row before deletion.
    pub fields: &'a Record,
    /// Writes: the stored row after the write. Deletes: None.
    pub row: Option<&'a Record>,
    /// The stored row before the write; None on create and on delete.
    pub old: Option<&'a Record>,
    pub user: &'a Caller,
    /// The app's job queue: `enqueue_in(tx, …)` in `before_commit` makes a
    /// job that exists exactly when this write commits; `committed()` in
    /// `after_commit` wakes its consumers at once.
    pub queue: Option<&'a rocket_queue::Queue>,
    /// The app database, for work that must not join the write's
    /// transaction (logs written whether or not it commits).
    pub db: &'a rocket_store::Db,
    /// The entity's rules, machines, webhooks and workflows in the snapshot
    /// the write ran on.
    pub logic: Option<&'a rocket_meta::logic::EntityLogic>,
}

/// A subsystem that reacts to committed changes. Both methods default to
/// doing nothing, so a handler implements only the moment it needs.
pub trait EffectHandler: Send + Sync {
    /// Inside the write's transaction, before commit; an error rolls the
    /// whole write back and becomes the client's answer.
    fn before_commit<'a>(&'a self, _tx: &'a mut Tx, _change: &'a Change<'a>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// After commit, before the response; failures are the handler's to log.
    fn after_commit<'a>(&'a self, _change: &'a Change<'a>) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// The handlers registered on a node, run in registration order.
#[derive(Clone, Default)]
pub struct Effects {
    handlers: Arc<[Arc<dyn EffectHandler>]>,
}

impl std::fmt::Debug for Effects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Effects({} handlers)", self.handlers.len())
    }
}

impl Effects {
    pub fn new(handlers: Vec<Arc<dyn EffectHandler>>) -> Effects {
        Effects {
            handlers: handlers.into(),
        }
    }

    /// No handlers: writes commit and answer, nothing else happens.
    pub fn none() -> Effects {
        Effects::default()
    }

    /// These handlers, then `other`'s.
    pub fn and(&self, other: &Effects) -> Effects {
        Effects {
            handlers: self
                .handlers
                .iter()
                .chain(other.handlers.iter())
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    pub(crate) async fn before_commit(&self, tx: &mut Tx, change: &Change<'_>) -> Result<()> {
        for h in self.handlers.iter() {
            h.before_commit(tx, change).await?;
        }
        Ok(())
    }

    pub(crate) async fn after_commit(&self, change: &Change<'_>) {
        for h in self.handlers.iter() {
            h.after_commit(change).await;
        }
    }
}
