//! Per-kind wake-ups for consumers. `Notify::notify_one` keeps a permit when
//! nobody is waiting yet, so a wake-up that lands between an empty `reserve`
//! and the following `wait` is not lost (the consumer returns at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Wakers {
    kinds: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Wakers {
    fn get(&self, kind: &str) -> Arc<Notify> {
        let mut map = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get(kind) {
            return n.clone();
        }
        let n = Arc::new(Notify::new());
        map.insert(kind.to_string(), n.clone());
        n
    }

    pub fn wake(&self, kind: &str) {
        self.get(kind).notify_one();
    }

    /// Wakes every kind a consumer has waited on.
    pub fn wake_all(&self) {
        let map = self.kinds.lock().unwrap_or_else(|p| p.into_inner());
        for n in map.values() {
            n.notify_one();
        }
    }

    /// Returns on a wake-up of `kind` or after `timeout`.
    pub async fn wait(&self, kind: &str, timeout: Duration) {
        let n = self.get(kind);
        let _ = tokio::time::timeout(timeout, n.notified()).await;
    }
}
