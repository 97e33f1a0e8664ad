//! In-process fixed-window counters for login and code checks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Past this many keys, expired windows are swept so hostile traffic cannot grow the map forever.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    /// Counts one hit against `key`; `Err(seconds)` to wait when `max` were already counted.
    pub fn hit(&self, key: &str, max: u32, period: Duration) -> Result<(), u64> {
        self.check(key, max, period, true)
    }

    /// Like `hit` but counts nothing: asks whether another hit would be allowed.
    pub fn allowed(&self, key: &str, max: u32, period: Duration) -> Result<(), u64> {
        self.check(key, max, period, false)
    }

    pub fn clear(&self, key: &str) {
        if let Ok(mut map) = self.windows.lock() {
            map.remove(key);
        }
    }

    fn check(&self, key: &str, max: u32, period: Duration, count: bool) -> Result<(), u64> {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-update; the counts stay usable.
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < period);
        }
        let window = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(window.0) >= period {
            *window = (now, 0);
        }
        if window.1 >= max {
            let left = period.saturating_sub(now.duration_since(window.0));
            return Err(left.as_secs().max(1));
        }
        if count {
            window.1 += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_and_tells_how_long() {
        let limiter = RateLimiter::default();
        let minute = Duration::from_secs(60);
        for _ in 0..3 {
            limiter.hit("k", 3, minute).unwrap();
        }
        let wait = limiter.hit("k", 3, minute).unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(limiter.allowed("other", 3, minute).is_ok());
        limiter.clear("k");
        assert!(limiter.hit("k", 3, minute).is_ok());
    }

    #[test]
    fn window_resets_after_the_period() {
        let limiter = RateLimiter::default();
        let short = Duration::from_millis(20);
        limiter.hit("k", 1, short).unwrap();
        assert!(limiter.hit("k", 1, short).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.hit("k", 1, short).is_ok());
    }
}
