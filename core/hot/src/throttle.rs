//! Bad-token throttling: a client that keeps presenting invalid session
//! tokens (or admin tokens) is answered `429` before any token check or KV
//! read, until its window ends.
//!
//! Best effort, by design: the counts live in one isolate's memory, so a
//! client spread over many locations or isolates gets more tries, and an
//! isolate's restart forgets them. Cloudflare's rate-limiting binding or a
//! WAF rate-limiting rule is the stronger option; this costs nothing and
//! stops the simple guessing loop. Guessing a 256-bit id is hopeless
//! anyway: the throttle is there to keep such loops from costing anything.
//!
//! ```
//! use sessiongate_hot::throttle::{Limit, Throttle};
//!
//! let throttle = Throttle::new(Limit { failures: 2, window: 60 });
//! throttle.record_failure("203.0.113.7", 1000);
//! assert_eq!(throttle.retry_after("203.0.113.7", 1001), None);
//! throttle.record_failure("203.0.113.7", 1001);
//! assert_eq!(throttle.retry_after("203.0.113.7", 1002), Some(58));
//! assert_eq!(throttle.retry_after("198.51.100.1", 1002), None);
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Clients tracked at once; past this, finished windows are dropped, and
/// if none has finished, new clients go untracked until one does.
pub const MAX_CLIENTS: usize = 10_000;
/// Longest client key kept (an IPv6 address is at most 45 characters).
const MAX_KEY_LEN: usize = 64;

/// `failures` rejected tokens per `window` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub failures: u32,
    pub window: u64,
}

impl Limit {
    /// `N/duration` (`30/1m`), or `off`.
    pub fn parse(v: &str) -> Result<Option<Self>, String> {
        let v = v.trim();
        if v.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let invalid = || format!("{v:?} is not N/duration, such as 30/1m, or off");
        let (failures, window) = v.split_once('/').ok_or_else(invalid)?;
        let failures: u32 = failures.trim().parse().map_err(|_| invalid())?;
        let window = crate::duration::parse(window).map_err(|_| invalid())?;
        if failures == 0 {
            return Err("must allow at least 1 failure (or be off)".to_owned());
        }
        Ok(Some(Self { failures, window }))
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: u64,
    failures: u32,
}

/// Per-client failure counts in fixed windows. A `Mutex` only so that it
/// can live in a `static`: an isolate runs one thread, and no lock is held
/// across an `await`.
#[derive(Debug)]
pub struct Throttle {
    limit: Limit,
    clients: Mutex<HashMap<String, Window>>,
}

impl Throttle {
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn clients(&self) -> MutexGuard<'_, HashMap<String, Window>> {
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Seconds until `client` may try again, if it is over the limit.
    pub fn retry_after(&self, client: &str, now: u64) -> Option<u64> {
        let clients = self.clients();
        let window = clients.get(client)?;
        let end = window.start.saturating_add(self.limit.window);
        (window.failures >= self.limit.failures && now < end).then(|| end - now)
    }

    /// Counts one rejected token for `client`.
    pub fn record_failure(&self, client: &str, now: u64) {
        let key = &client[..client.floor_char_boundary(MAX_KEY_LEN)];
        let mut clients = self.clients();
        if !clients.contains_key(key) && clients.len() >= MAX_CLIENTS {
            let window = self.limit.window;
            clients.retain(|_, w| now < w.start.saturating_add(window));
            if clients.len() >= MAX_CLIENTS {
                return;
            }
        }
        let window = clients.entry(key.to_owned()).or_insert(Window {
            start: now,
            failures: 0,
        });
        if now >= window.start.saturating_add(self.limit.window) {
            *window = Window {
                start: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    pub fn tracked(&self) -> usize {
        self.clients().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        failures: 3,
        window: 60,
    };

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let throttle = Throttle::new(LIMIT);
        for t in 0..3 {
            assert_eq!(throttle.retry_after("a", 100 + t), None);
            throttle.record_failure("a", 100 + t);
        }
        assert_eq!(throttle.retry_after("a", 103), Some(57));
        assert_eq!(throttle.retry_after("a", 159), Some(1));
        assert_eq!(throttle.retry_after("a", 160), None);
        throttle.record_failure("a", 160);
        assert_eq!(
            throttle.retry_after("a", 161),
            None,
            "a new window starts from zero"
        );
    }

    #[test]
    fn clients_are_counted_apart() {
        let throttle = Throttle::new(Limit {
            failures: 1,
            window: 60,
        });
        throttle.record_failure("a", 0);
        assert!(throttle.retry_after("a", 1).is_some());
        assert!(throttle.retry_after("b", 1).is_none());
    }

    #[test]
    fn memory_is_bounded() {
        let throttle = Throttle::new(LIMIT);
        for i in 0..MAX_CLIENTS + 10 {
            throttle.record_failure(&i.to_string(), 0);
        }
        assert_eq!(throttle.tracked(), MAX_CLIENTS);
        throttle.record_failure("late", 60);
        assert_eq!(throttle.tracked(), 1, "finished windows make room");
        throttle.record_failure(&"x".repeat(1000), 60);
        assert!(throttle.clients().keys().all(|k| k.len() <= MAX_KEY_LEN));
    }

    #[test]
    fn limits_parse_as_count_per_duration() {
        assert_eq!(
            Limit::parse("30/1m"),
            Ok(Some(Limit {
                failures: 30,
                window: 60
            }))
        );
        assert_eq!(
            Limit::parse("5 / 90s"),
            Ok(Some(Limit {
                failures: 5,
                window: 90
            }))
        );
        assert_eq!(Limit::parse("OFF"), Ok(None));
        for bad in ["", "30", "0/1m", "x/1m", "30/soon", "-1/1m"] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }
}
