//! When to fetch the key set again, decided without I/O: the clock comes
//! in as a number, and the fetching is the caller's.
//!
//! The policy of jose's `createRemoteJWKSet` and PyJWT's `PyJWKClient`: a
//! fetched set is used for [`CACHE_FOR`] seconds; a `kid` it lacks (a key
//! the edge added since) fetches it again, at most once every
//! [`REFETCH_COOLDOWN`] seconds, so that tokens naming made-up kids cannot
//! turn each request into a fetch. A set older than [`CACHE_FOR`] is not
//! used at all: a key the edge withdrew stops verifying within that time.

use std::sync::Arc;

use crate::key_set::KeySet;
use crate::{Unavailable, VerifyError};

/// Seconds a fetched key set is used: the `max-age` the edge serves it with.
pub const CACHE_FOR: u64 = 300;
/// Least seconds between two fetches for a `kid` the set lacks.
pub const REFETCH_COOLDOWN: u64 = 30;

/// What a verification needs next.
#[derive(Debug)]
pub(crate) enum Next {
    Verify(Arc<KeySet>),
    Refuse(VerifyError),
    Fetch,
}

/// The key set last fetched, and the last attempt to fetch it.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    fetched: Option<Fetched>,
    last_attempt: Option<Attempt>,
    answered: u64,
}

#[derive(Debug)]
struct Fetched {
    keys: Arc<KeySet>,
    at: u64,
}

#[derive(Debug)]
struct Attempt {
    at: u64,
    failure: Option<Unavailable>,
}

impl Cache {
    /// For an assertion naming `kid` at `now`: the key set to verify with,
    /// a refusal, or a fetch first.
    pub(crate) fn next(&self, kid: &str, now: u64) -> Next {
        let Some(keys) = self.fresh(now) else {
            return Next::Fetch;
        };
        if keys.get(kid).is_some() {
            Next::Verify(Arc::clone(keys))
        } else if self.cooling_down(now) {
            Next::Refuse(self.unknown_kid())
        } else {
            Next::Fetch
        }
    }

    /// As [`next`](Self::next), for a caller that will not fetch (or just
    /// did): what is cached, or why it will not do.
    pub(crate) fn settled(&self, kid: &str, now: u64) -> Result<Arc<KeySet>, VerifyError> {
        let Some(keys) = self.fresh(now) else {
            return Err(self
                .last_failure()
                .unwrap_or(Unavailable::NotFetched)
                .into());
        };
        match keys.get(kid) {
            Some(_) => Ok(Arc::clone(keys)),
            None => Err(self.unknown_kid()),
        }
    }

    /// How many fetches have come to an answer, the set or a failure: a
    /// caller that waited while another fetched sees this change and takes
    /// that answer instead of fetching again. (Started fetches would not
    /// do: one under way when the caller looked would count as seen.)
    pub(crate) fn answered(&self) -> u64 {
        self.answered
    }

    pub(crate) fn started(&mut self, now: u64) {
        self.last_attempt = Some(Attempt {
            at: now,
            failure: None,
        });
    }

    /// The fetch's answer. A failure keeps the set fetched before, for as
    /// long as it is fresh.
    pub(crate) fn finished(&mut self, answer: Result<KeySet, Unavailable>, now: u64) {
        self.answered += 1;
        match answer {
            Ok(keys) => {
                self.fetched = Some(Fetched {
                    keys: Arc::new(keys),
                    at: now,
                });
            }
            Err(why) => {
                if let Some(attempt) = &mut self.last_attempt {
                    attempt.failure = Some(why);
                }
            }
        }
    }

    fn fresh(&self, now: u64) -> Option<&Arc<KeySet>> {
        self.fetched
            .as_ref()
            .filter(|fetched| now.saturating_sub(fetched.at) < CACHE_FOR)
            .map(|fetched| &fetched.keys)
    }

    fn cooling_down(&self, now: u64) -> bool {
        self.last_attempt
            .as_ref()
            .is_some_and(|attempt| now.saturating_sub(attempt.at) < REFETCH_COOLDOWN)
    }

    /// A `kid` the set lacks, after the last fetch failed, is unknown for
    /// want of the set, not because the edge withdrew it.
    fn unknown_kid(&self) -> VerifyError {
        self.last_failure()
            .map_or(VerifyError::UnknownKid, VerifyError::from)
    }

    fn last_failure(&self) -> Option<Unavailable> {
        self.last_attempt.as_ref()?.failure.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{key_set, TestKey};

    const T0: u64 = 1_700_000_000;

    fn keys(kids: &[&str]) -> KeySet {
        let keys: Vec<TestKey> = kids.iter().map(|kid| TestKey::ed_dsa(kid, 1)).collect();
        KeySet::from_json(key_set(&keys.iter().collect::<Vec<_>>()).as_bytes()).unwrap()
    }

    fn fetch(cache: &mut Cache, answer: Result<KeySet, Unavailable>, now: u64) {
        cache.started(now);
        cache.finished(answer, now);
    }

    fn is_fetch(next: Next) -> bool {
        matches!(next, Next::Fetch)
    }

    #[test]
    fn nothing_fetched_fetches_and_a_fetched_set_serves_for_its_max_age() {
        let mut cache = Cache::default();
        assert!(is_fetch(cache.next("k1", T0)));
        assert_eq!(
            cache.settled("k1", T0).unwrap_err(),
            Unavailable::NotFetched.into()
        );
        fetch(&mut cache, Ok(keys(&["k1"])), T0);
        for now in [T0, T0 + 1, T0 + CACHE_FOR - 1] {
            assert!(matches!(cache.next("k1", now), Next::Verify(_)), "{now}");
        }
        assert!(is_fetch(cache.next("k1", T0 + CACHE_FOR)));
        assert_eq!(
            cache.settled("k1", T0 + CACHE_FOR).unwrap_err(),
            Unavailable::NotFetched.into(),
            "an expired set is not used"
        );
    }

    #[test]
    fn an_unknown_kid_refetches_at_most_once_per_cooldown() {
        let mut cache = Cache::default();
        fetch(&mut cache, Ok(keys(&["k1"])), T0);
        assert!(matches!(
            cache.next("k2", T0 + REFETCH_COOLDOWN - 1),
            Next::Refuse(VerifyError::UnknownKid)
        ));
        assert!(is_fetch(cache.next("k2", T0 + REFETCH_COOLDOWN)));
        fetch(&mut cache, Ok(keys(&["k1", "k2"])), T0 + REFETCH_COOLDOWN);
        assert!(matches!(
            cache.next("k2", T0 + REFETCH_COOLDOWN),
            Next::Verify(_)
        ));
        assert!(matches!(
            cache.next("k3", T0 + 2 * REFETCH_COOLDOWN - 1),
            Next::Refuse(VerifyError::UnknownKid)
        ));
        assert_eq!(
            cache.settled("k3", T0 + 2 * REFETCH_COOLDOWN).unwrap_err(),
            VerifyError::UnknownKid,
            "settled never asks for a fetch"
        );
    }

    #[test]
    fn a_failed_fetch_is_reported_and_keeps_a_fresh_set() {
        let mut cache = Cache::default();
        fetch(&mut cache, Err(Unavailable::Unreachable), T0);
        assert_eq!(
            cache.settled("k1", T0).unwrap_err(),
            Unavailable::Unreachable.into()
        );
        assert!(
            is_fetch(cache.next("k1", T0 + 1)),
            "with nothing to verify with, every verification may try"
        );
        fetch(&mut cache, Ok(keys(&["k1"])), T0 + 1);
        fetch(&mut cache, Err(Unavailable::Status(502)), T0 + 40);
        assert!(matches!(cache.next("k1", T0 + 41), Next::Verify(_)));
        assert!(matches!(
            cache.next("k2", T0 + 41),
            Next::Refuse(VerifyError::KeySetUnavailable(Unavailable::Status(502)))
        ));
        assert_eq!(
            cache.settled("k1", T0 + 1 + CACHE_FOR).unwrap_err(),
            Unavailable::Status(502).into()
        );
    }

    #[test]
    fn only_fetches_that_came_to_an_answer_count_as_answered() {
        let mut cache = Cache::default();
        cache.started(T0);
        assert_eq!(cache.answered(), 0, "under way");
        cache.finished(Err(Unavailable::Unreachable), T0);
        assert_eq!(cache.answered(), 1);
        fetch(&mut cache, Ok(keys(&["k1"])), T0);
        assert_eq!(cache.answered(), 2);
    }
}
