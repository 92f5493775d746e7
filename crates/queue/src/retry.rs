//! Per-kind retry policy: exponential backoff with full jitter (the delay is
//! drawn uniformly from `[0, min(cap, base * 2^(attempt-1))]`, which spreads a
//! burst of failures instead of retrying them in lock step), up to a maximum
//! number of attempts, then the dead-letter state.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Deliveries before a job is dead-lettered (the first one included).
    pub max_attempts: u32,
    /// The ceiling of the first retry's delay.
    pub base: Duration,
    /// No retry waits longer than this.
    pub cap: Duration,
    /// Full jitter (the default); off gives the plain exponential schedule,
    /// for callers whose contract fixes the schedule (webhook retries).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(15 * 60),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next delivery after `attempt` failed (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(40);
        let ceiling = self.base.saturating_mul(1u32 << exp.min(31)).min(self.cap);
        if !self.jitter || ceiling.is_zero() {
            return ceiling;
        }
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }

    /// Whether a job that just failed its `attempt`-th delivery is dead.
    pub fn exhausted(&self, attempt: u32, max_attempts: u32) -> bool {
        attempt >= max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_without_jitter() {
        let p = RetryPolicy {
            jitter: false,
            base: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            ..RetryPolicy::default()
        };
        let got: Vec<u64> = (1..=8).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(got, vec![30, 60, 120, 240, 480, 960, 1920, 3600]);
        assert_eq!(p.delay(200).as_secs(), 3600, "large attempts stay at the cap");
    }

    #[test]
    fn full_jitter_stays_under_the_ceiling_and_spreads() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
        let draws: Vec<u128> = (0..200).map(|_| p.delay(4).as_millis()).collect();
        assert!(draws.iter().all(|d| *d <= 800));
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(
            distinct.len() > 50,
            "jitter spreads retries: {} distinct",
            distinct.len()
        );
    }

    #[test]
    fn attempts_run_out_at_the_maximum() {
        let p = RetryPolicy::default();
        assert!(!p.exhausted(1, 3));
        assert!(!p.exhausted(2, 3));
        assert!(p.exhausted(3, 3));
        assert!(p.exhausted(1, 0), "a zero maximum means one attempt");
    }
}
