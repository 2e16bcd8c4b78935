//! The revocation ledger (DESIGN §3): what ends a session at every
//! location within `REVOCATION_STALENESS`, where Workers KV's delete can
//! take a minute to spread.
//!
//! One Durable Object per user (the worker crate's `src/ledger.rs`, by
//! name = uid) holds the
//! user's [`LedgerState`]: the time before which every session of theirs is
//! revoked (logout everywhere, admin revoke, password change) and the
//! hashes of sessions ended one by one, until their absolute expiry. Each
//! location keeps each user's state for at most the staleness bound: in
//! isolate memory ([`LedgerCache`]) and in the Cache API, which the
//! isolates of a location share. [`Freshness`] says what a cached state may
//! still be used for; the gate asks for the ledger's own when it may not.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::token::IdHash;

/// Shortest and longest `REVOCATION_STALENESS`, in seconds.
pub const MIN_STALENESS: u64 = 1;
pub const MAX_STALENESS: u64 = 300;
pub const DEFAULT_STALENESS: &str = "10";
/// Users whose state one isolate keeps; past it, the stalest go first.
pub const MAX_CACHED_USERS: usize = 10_000;

/// A user's revocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerState {
    /// Sessions that began before this (Unix seconds) are revoked.
    #[serde(default)]
    pub revoked_before: Option<u64>,
    /// Hashes of sessions ended one by one, still short of their expiry.
    #[serde(default)]
    pub revoked: Vec<String>,
}

impl LedgerState {
    /// Whether the session `hash`, which began at `iat`, is revoked. A
    /// session that began in the same second as a revoke-before survives
    /// it: a password change ends every session and starts one at once.
    pub fn revokes(&self, hash: &IdHash, iat: u64) -> bool {
        if self.revoked_before.is_some_and(|before| iat < before) {
            return true;
        }
        let hash = hash.to_string();
        self.revoked.contains(&hash)
    }

    /// The same state with the session `hash` (base64url) ended.
    pub fn with_revoked(mut self, hash: String) -> Self {
        if !self.revoked.contains(&hash) {
            self.revoked.push(hash);
        }
        self
    }

    /// The same state with every session before `before` ended.
    pub fn with_revoked_before(mut self, before: u64) -> Self {
        self.revoked_before = Some(self.revoked_before.map_or(before, |b| b.max(before)));
        self
    }
}

/// A user's state as a location keeps it: read from the ledger at `fetched_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cached {
    pub state: LedgerState,
    pub fetched_at: u64,
}

/// What a cached state may be used for, by its age against the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Younger than half the bound: use it.
    Fresh,
    /// Past half: use it, and refresh it in the background.
    Refresh,
    /// At or past the bound: never use it; wait for the ledger.
    Stale,
}

impl Cached {
    pub fn freshness(&self, now: u64, staleness: u64) -> Freshness {
        let age = now.saturating_sub(self.fetched_at);
        if age >= staleness {
            Freshness::Stale
        } else if age * 2 >= staleness {
            Freshness::Refresh
        } else {
            Freshness::Fresh
        }
    }
}

/// The Cache API key of a user's state: a URL, as the Cache API wants.
pub fn cache_key(uid: &str) -> String {
    format!(
        "https://ledger.sessiongate.invalid/{}",
        crate::routes::percent_encode(uid).replace('/', "%2F")
    )
}

/// Users' states in one isolate's memory, bounded. A `Mutex` only so that
/// it can live in a `static`: an isolate runs one thread.
#[derive(Debug, Default)]
pub struct LedgerCache {
    users: Mutex<HashMap<String, Cached>>,
    /// When a background refresh of a user's state was last asked for.
    refreshing: Mutex<HashMap<String, u64>>,
}

/// Seconds one background refresh holds off the next for the same user:
/// requests in flight together ask the ledger once.
pub const REFRESH_HOLD: u64 = 1;

impl LedgerCache {
    fn users(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn get(&self, uid: &str) -> Option<Cached> {
        self.users().get(uid).cloned()
    }

    /// Keeps `cached` unless a newer read is already kept.
    pub fn put(&self, uid: &str, cached: Cached) {
        let mut users = self.users();
        if users
            .get(uid)
            .is_some_and(|kept| kept.fetched_at > cached.fetched_at)
        {
            return;
        }
        if !users.contains_key(uid) && users.len() >= MAX_CACHED_USERS {
            // The stalest entries are the least worth keeping.
            let mut ages: Vec<u64> = users.values().map(|c| c.fetched_at).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            users.retain(|_, c| c.fetched_at > cutoff);
        }
        users.insert(uid.to_owned(), cached);
    }

    /// Applies a revocation this isolate wrote, so that it holds here at once.
    pub fn update(&self, uid: &str, change: impl FnOnce(LedgerState) -> LedgerState) {
        let mut users = self.users();
        if let Some(cached) = users.get_mut(uid) {
            cached.state = change(std::mem::take(&mut cached.state));
        }
    }

    /// Whether this request should ask for `uid`'s refresh: no other did
    /// within [`REFRESH_HOLD`].
    pub fn claim_refresh(&self, uid: &str, now: u64) -> bool {
        let mut refreshing = self
            .refreshing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if refreshing
            .get(uid)
            .is_some_and(|&at| now < at.saturating_add(REFRESH_HOLD))
        {
            return false;
        }
        if refreshing.len() >= MAX_CACHED_USERS {
            refreshing.retain(|_, at| now < at.saturating_add(REFRESH_HOLD));
        }
        refreshing.insert(uid.to_owned(), now);
        true
    }

    pub fn len(&self) -> usize {
        self.users().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::SessionId;

    #[test]
    fn a_session_is_revoked_by_its_hash_or_by_starting_before_the_cut() {
        let a = SessionId::from_bytes([1; 32]).hash();
        let b = SessionId::from_bytes([2; 32]).hash();
        let state = LedgerState::default()
            .with_revoked(a.to_string())
            .with_revoked_before(100);
        assert!(state.revokes(&a, 500));
        assert!(state.revokes(&b, 99));
        assert!(!state.revokes(&b, 100), "the same second survives");
        assert!(!state.revokes(&b, 101));
        assert_eq!(
            state.clone().with_revoked_before(50).revoked_before,
            Some(100)
        );
    }

    #[test]
    fn a_cached_state_is_fresh_then_refreshed_then_never_used() {
        let cached = Cached {
            state: LedgerState::default(),
            fetched_at: 1000,
        };
        assert_eq!(cached.freshness(1004, 10), Freshness::Fresh);
        assert_eq!(cached.freshness(1005, 10), Freshness::Refresh);
        assert_eq!(cached.freshness(1009, 10), Freshness::Refresh);
        assert_eq!(cached.freshness(1010, 10), Freshness::Stale);
        assert_eq!(cached.freshness(1000, 1), Freshness::Fresh);
        assert_eq!(cached.freshness(1001, 1), Freshness::Stale);
    }

    #[test]
    fn the_cache_keeps_the_newest_read_and_stays_bounded() {
        let cache = LedgerCache::default();
        let at = |t| Cached {
            state: LedgerState::default(),
            fetched_at: t,
        };
        cache.put("a", at(10));
        cache.put("a", at(5));
        assert_eq!(cache.get("a").map(|c| c.fetched_at), Some(10));
        for i in 0..MAX_CACHED_USERS + 5 {
            cache.put(&i.to_string(), at(i as u64));
        }
        assert!(cache.len() <= MAX_CACHED_USERS);
        assert!(cache.get(&(MAX_CACHED_USERS + 4).to_string()).is_some());
    }

    #[test]
    fn requests_in_flight_together_ask_for_one_refresh() {
        let cache = LedgerCache::default();
        assert!(cache.claim_refresh("a", 100));
        assert!(!cache.claim_refresh("a", 100));
        assert!(cache.claim_refresh("b", 100));
        assert!(cache.claim_refresh("a", 100 + REFRESH_HOLD));
    }

    #[test]
    fn cache_keys_are_urls_whatever_the_uid() {
        assert_eq!(
            cache_key("alice@example.com/x"),
            "https://ledger.sessiongate.invalid/alice%40example.com%2Fx"
        );
    }
}
