//! The metadata model and the per-app Registry snapshot.
//!
//! A snapshot is immutable; admin changes build a new one and swap it in, so a
//! request holds one `Arc<Registry>` from start to end.

use std::collections::HashMap;
use std::sync::Arc;

/// Everything the engine needs to serve one app, compiled once per change.
#[derive(Debug, Default)]
pub struct Registry {
    pub entities: HashMap<String, Arc<serde_json::Value>>,
}

impl Registry {
    pub fn entity(&self, name: &str) -> Option<&Arc<serde_json::Value>> {
        self.entities.get(name)
    }
}
