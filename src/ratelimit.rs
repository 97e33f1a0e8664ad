//! In-process fixed-window counters for logins, codes, registrations and share passwords.
//!
//! Our own rather than `governor`: the account lockout counts failures only, asks without
//! counting and is cleared by a success, which a GCRA keyed limiter does not offer; and the
//! whole thing is these few lines with no new dependency. Each entry keeps its own window
//! and is swept by it, so a short window never deletes a 15-minute lockout, and the number
//! of keys is capped so hostile traffic cannot grow the map without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// At most this many keys at once; past it (after a sweep) new keys are refused, never
/// old ones forgotten: a lockout must outlive any flood.
pub const MAX_KEYS: usize = 100_000;
/// Keys longer than this are stored as their SHA-256, so a key's size is bounded.
const MAX_KEY_BYTES: usize = 96;
/// The first sweep happens at this many keys; later ones when the map has doubled.
const FIRST_SWEEP_AT: usize = 1_024;

struct Window {
    start: Instant,
    period: Duration,
    count: u32,
}

struct Windows {
    map: HashMap<String, Window>,
    sweep_at: usize,
}

pub struct RateLimiter {
    windows: Mutex<Windows>,
    max_keys: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::with_capacity(MAX_KEYS)
    }
}

impl RateLimiter {
    pub fn with_capacity(max_keys: usize) -> Self {
        RateLimiter {
            windows: Mutex::new(Windows {
                map: HashMap::new(),
                sweep_at: FIRST_SWEEP_AT.min(max_keys),
            }),
            max_keys,
        }
    }

    /// Counts one hit against `key`; `Err(seconds)` to wait when `max` were already counted.
    pub fn hit(&self, key: &str, max: u32, period: Duration) -> Result<(), u64> {
        self.check(key, max, period, true)
    }

    /// Like `hit` but counts nothing: asks whether another hit would be allowed.
    pub fn allowed(&self, key: &str, max: u32, period: Duration) -> Result<(), u64> {
        self.check(key, max, period, false)
    }

    pub fn clear(&self, key: &str) {
        let key = bounded(key);
        self.lock().map.remove(key.as_ref());
    }

    /// Keys held now (for tests and the health of the limiter).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        // A poisoned lock only means another thread panicked mid-update; the counts stay usable.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check(&self, key: &str, max: u32, period: Duration, count: bool) -> Result<(), u64> {
        let now = Instant::now();
        let key = bounded(key);
        let mut w = self.lock();
        if !w.map.contains_key(key.as_ref()) {
            if !count {
                return Ok(());
            }
            if w.map.len() >= w.sweep_at {
                w.map.retain(|_, e| now.duration_since(e.start) < e.period);
                w.sweep_at = (w.map.len() * 2).clamp(FIRST_SWEEP_AT, self.max_keys);
            }
            if w.map.len() >= self.max_keys {
                // Full of live windows: refuse the newcomer until some expire.
                return Err(1);
            }
        }
        let window = w.map.entry(key.into_owned()).or_insert(Window {
            start: now,
            period,
            count: 0,
        });
        if now.duration_since(window.start) >= window.period {
            *window = Window {
                start: now,
                period,
                count: 0,
            };
        }
        if window.count >= max {
            let left = window
                .period
                .saturating_sub(now.duration_since(window.start));
            return Err(left.as_secs().max(1));
        }
        if count {
            window.count += 1;
        }
        Ok(())
    }
}

fn bounded(key: &str) -> std::borrow::Cow<'_, str> {
    if key.len() <= MAX_KEY_BYTES {
        return key.into();
    }
    let digest = Sha256::digest(key.as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into()
}

/// The part of a client address a limit counts: the address itself, or for IPv6 its /64,
/// since one client usually holds a whole /64.
pub fn ip_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or(ip.to_string(), |v4| v4.to_string()),
        _ => ip.to_string(),
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

    #[test]
    fn a_flood_of_short_windows_neither_sweeps_a_lockout_nor_grows_past_the_cap() {
        let limiter = RateLimiter::with_capacity(2_000);
        let lockout = Duration::from_secs(15 * 60);
        for _ in 0..3 {
            limiter.hit("account", 3, lockout).unwrap();
        }
        let short = Duration::from_millis(1);
        for i in 0..10_000 {
            let _ = limiter.hit(&format!("junk-{i}"), 5, short);
        }
        assert!(limiter.len() <= 2_000, "{}", limiter.len());
        assert!(
            limiter.allowed("account", 3, lockout).is_err(),
            "the lockout outlives the sweeps"
        );
        // Live windows fill the map: newcomers wait, the old keys stay.
        let full = RateLimiter::with_capacity(1_100);
        for i in 0..1_100 {
            full.hit(&format!("k{i}"), 5, lockout).unwrap();
        }
        assert!(full.hit("newcomer", 5, lockout).is_err());
        assert!(full.hit("k0", 5, lockout).is_ok());
    }

    #[test]
    fn long_keys_are_stored_bounded_and_ipv6_counts_per_64() {
        let limiter = RateLimiter::default();
        let long = "x".repeat(100_000);
        limiter.hit(&long, 1, Duration::from_secs(60)).unwrap();
        assert!(limiter.hit(&long, 1, Duration::from_secs(60)).is_err());
        assert_eq!(
            ip_key("2001:db8:1:2:aaaa::1"),
            ip_key("2001:db8:1:2:bbbb::2")
        );
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        assert_eq!(ip_key("127.0.0.1"), "127.0.0.1");
        assert_eq!(ip_key("::ffff:10.0.0.1"), "10.0.0.1");
    }
}
