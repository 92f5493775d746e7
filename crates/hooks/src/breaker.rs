//! A circuit breaker per target URL, and a concurrency cap per host.
//!
//! Closed: deliveries go out; `failures` consecutive failures open it. Open:
//! every delivery fails fast (no network call) until the cool-down ends.
//! Half-open: one probe goes out; its success closes the circuit, its
//! failure opens it for another cool-down. A probe whose outcome never comes
//! back (its task died) is replaced after `probe_timeout`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_since: Instant },
}

/// What a delivery may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Closed circuit: send.
    Pass,
    /// Half-open: this delivery is the probe.
    Probe,
    /// Open: do not send; try again at `retry_at`.
    Open { retry_at: Instant },
}

pub struct Breakers {
    failures: u32,
    cooldown: Duration,
    probe_timeout: Duration,
    map: Mutex<HashMap<String, Phase>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Breakers {
    pub fn new(failures: u32, cooldown: Duration, probe_timeout: Duration) -> Breakers {
        Breakers {
            failures: failures.max(1),
            cooldown,
            probe_timeout,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, url: &str) -> Gate {
        let now = Instant::now();
        let mut map = lock(&self.map);
        let Some(phase) = map.get_mut(url) else {
            return Gate::Pass;
        };
        match *phase {
            Phase::Closed { .. } => Gate::Pass,
            Phase::Open { until } if now < until => Gate::Open { retry_at: until },
            Phase::HalfOpen { probe_since } if now < probe_since + self.probe_timeout => Gate::Open {
                retry_at: now + self.cooldown.min(Duration::from_secs(1)),
            },
            // Cool-down over, or the last probe never reported: probe now.
            Phase::Open { .. } | Phase::HalfOpen { .. } => {
                *phase = Phase::HalfOpen { probe_since: now };
                Gate::Probe
            }
        }
    }

    pub fn success(&self, url: &str) {
        let mut map = lock(&self.map);
        // Closed with no failures is the same as absent: keep the map small.
        map.remove(url);
    }

    /// Returns true when this failure opened the circuit.
    pub fn failure(&self, url: &str) -> bool {
        let now = Instant::now();
        let mut map = lock(&self.map);
        let phase = map
            .entry(url.to_string())
            .or_insert(Phase::Closed { failures: 0 });
        match *phase {
            Phase::Closed { failures } if failures + 1 < self.failures => {
                *phase = Phase::Closed {
                    failures: failures + 1,
                };
                false
            }
            Phase::Open { .. } => false,
            _ => {
                *phase = Phase::Open {
                    until: now + self.cooldown,
                };
                true
            }
        }
    }

    /// Circuits open or half-open now (a gauge on /metrics).
    pub fn open_count(&self) -> usize {
        lock(&self.map)
            .values()
            .filter(|p| !matches!(p, Phase::Closed { .. }))
            .count()
    }
}

/// At most `per_host` deliveries in flight to one host.
pub struct HostCaps {
    per_host: usize,
    map: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostCaps {
    pub fn new(per_host: usize) -> HostCaps {
        HostCaps {
            per_host: per_host.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for `host`, waiting at most `wait`; None when the host is
    /// saturated (the caller reschedules instead of holding a worker).
    pub async fn acquire(&self, host: &str, wait: Duration) -> Option<OwnedSemaphorePermit> {
        let sem = lock(&self.map)
            .entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone();
        if let Ok(p) = sem.clone().try_acquire_owned() {
            return Some(p);
        }
        tokio::time::timeout(wait, sem.acquire_owned()).await.ok()?.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_n_failures_probes_after_cooldown_and_closes_on_success() {
        let b = Breakers::new(3, Duration::from_millis(40), Duration::from_secs(5));
        let u = "http://x.test/h";
        assert_eq!(b.check(u), Gate::Pass);
        assert!(!b.failure(u));
        assert!(!b.failure(u));
        assert!(b.failure(u), "the third failure opens it");
        assert!(matches!(b.check(u), Gate::Open { .. }));
        assert_eq!(b.open_count(), 1);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(b.check(u), Gate::Probe, "one probe after the cool-down");
        assert!(
            matches!(b.check(u), Gate::Open { .. }),
            "only one probe at a time"
        );
        b.success(u);
        assert_eq!(b.check(u), Gate::Pass);
        assert_eq!(b.open_count(), 0);
    }

    #[test]
    fn a_failed_probe_opens_again_and_a_success_resets_the_count() {
        let b = Breakers::new(2, Duration::from_millis(20), Duration::from_secs(5));
        let u = "u";
        b.failure(u);
        b.success(u);
        assert!(!b.failure(u), "the count started over");
        assert!(b.failure(u));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(b.check(u), Gate::Probe);
        assert!(b.failure(u), "a failed probe opens the circuit");
        assert!(matches!(b.check(u), Gate::Open { .. }));
    }

    #[tokio::test]
    async fn host_caps_bound_in_flight_deliveries() {
        let caps = HostCaps::new(2);
        let a = caps.acquire("h", Duration::ZERO).await;
        let b = caps.acquire("h", Duration::ZERO).await;
        assert!(a.is_some() && b.is_some());
        assert!(caps.acquire("h", Duration::from_millis(10)).await.is_none());
        assert!(caps.acquire("other", Duration::ZERO).await.is_some());
        drop(a);
        assert!(caps.acquire("h", Duration::ZERO).await.is_some());
    }
}
