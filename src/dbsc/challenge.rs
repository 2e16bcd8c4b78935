//! Stateless challenges: `<kid>.<t>.<nonce>.<tag>`, the tag an HMAC over
//! the session's id hash, the time of issue and a random nonce (so that no
//! two are alike). Issuing one costs no I/O, and only a session's own
//! challenge, younger than [`LIFETIME`], checks out. A challenge answered
//! once is spent in this isolate's memory ([`Spent`]).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::Binding;
use crate::token::{parse_stamp, IdHash, Kid, MAX_FUTURE_SKEW};

/// Seconds a challenge may be answered in: the browser answers at once.
pub const LIFETIME: u64 = 60;
/// Spent challenges remembered at once (each for at most [`LIFETIME`]).
pub const MAX_SPENT: usize = 10_000;
const TAG_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const MAX_LEN: usize = 96;

/// Why a proof's challenge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// Not a challenge this edge issued for this session.
    Invalid,
    Expired,
    /// Answered before.
    Reused,
    /// Too many challenges answered within a lifetime to remember another.
    Busy,
}

impl ChallengeError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Invalid => "challenge_invalid",
            Self::Expired => "challenge_expired",
            Self::Reused => "challenge_reused",
            Self::Busy => "challenge_busy",
        }
    }
}

/// A challenge that checked out: when it stops being answerable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    pub expires: u64,
}

impl Binding {
    /// A new challenge for the session `hash`, under the primary key.
    pub fn challenge(&self, hash: &IdHash, now: u64) -> Result<String, getrandom::Error> {
        let mut nonce = [0; NONCE_LEN];
        getrandom::fill(&mut nonce)?;
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let kid = self.challenge_keys.primary();
        let mut challenge = format!("{kid}.{now}.{nonce}.");
        if let Some(key) = self.challenge_keys.get(kid) {
            let tag = key.sign(&[hash.as_bytes(), challenge.as_bytes()]);
            URL_SAFE_NO_PAD.encode_string(&tag[..TAG_LEN], &mut challenge);
        }
        Ok(challenge)
    }

    /// Checks that `raw` is a live challenge of the session `hash`.
    pub fn check_challenge(
        &self,
        raw: &str,
        hash: &IdHash,
        now: u64,
    ) -> Result<Challenge, ChallengeError> {
        let invalid = ChallengeError::Invalid;
        if raw.len() > MAX_LEN {
            return Err(invalid);
        }
        let mut parts = raw.split('.');
        let (Some(kid), Some(issued), Some(_nonce), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid);
        };
        let key = Kid::parse(kid)
            .and_then(|kid| self.challenge_keys.get(kid))
            .ok_or(invalid)?;
        let issued = parse_stamp(issued).map_err(|_| invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid)?;
        if tag.len() != TAG_LEN {
            return Err(invalid);
        }
        // Everything before the tag, its trailing dot included, is signed.
        let signed = &raw[..raw.len() - tag_len(raw)];
        key.verify_truncated(&[hash.as_bytes(), signed.as_bytes()], &tag)
            .map_err(|_| invalid)?;
        if issued > now.saturating_add(MAX_FUTURE_SKEW) {
            return Err(invalid);
        }
        let expires = issued.saturating_add(LIFETIME);
        if now >= expires {
            return Err(ChallengeError::Expired);
        }
        Ok(Challenge { expires })
    }
}

/// Length of the last dot-separated part.
fn tag_len(raw: &str) -> usize {
    raw.rsplit('.').next().map_or(0, str::len)
}

/// Challenges answered in this isolate, until they expire. Best effort, as
/// the throttle is: another isolate does not know them, but a challenge
/// lives a minute and a proof crosses the network only inside TLS.
#[derive(Debug, Default)]
pub struct Spent {
    challenges: Mutex<HashMap<String, u64>>,
}

impl Spent {
    /// Marks `raw` answered; an error if it was, or if no room is left.
    pub fn spend(&self, raw: &str, challenge: Challenge, now: u64) -> Result<(), ChallengeError> {
        let mut spent = self.lock();
        if spent.contains_key(raw) {
            return Err(ChallengeError::Reused);
        }
        if spent.len() >= MAX_SPENT {
            spent.retain(|_, expires| *expires > now);
            if spent.len() >= MAX_SPENT {
                return Err(ChallengeError::Busy);
            }
        }
        spent.insert(raw.to_owned(), challenge.expires);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        // A panic cannot leave the map half-updated: recover it.
        self.challenges.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dbsc::tests::binding;
    use crate::token::SessionId;

    const NOW: u64 = 1_700_000_000;

    fn hash(n: u8) -> IdHash {
        SessionId::from_bytes([n; 32]).hash()
    }

    #[test]
    fn a_challenge_checks_out_for_its_own_session_within_its_lifetime() {
        let binding = binding();
        let challenge = binding.challenge(&hash(1), NOW).unwrap();
        let checked = binding
            .check_challenge(&challenge, &hash(1), NOW + 59)
            .unwrap();
        assert_eq!(checked.expires, NOW + LIFETIME);
        assert_eq!(
            binding.check_challenge(&challenge, &hash(1), NOW + 60),
            Err(ChallengeError::Expired)
        );
        assert_eq!(
            binding.check_challenge(&challenge, &hash(2), NOW),
            Err(ChallengeError::Invalid)
        );
    }

    #[test]
    fn altered_or_foreign_challenges_are_invalid() {
        let binding = binding();
        let challenge = binding.challenge(&hash(1), NOW).unwrap();
        let later = challenge.replacen(&NOW.to_string(), &(NOW + 30).to_string(), 1);
        let future = binding.challenge(&hash(1), NOW + 120).unwrap();
        for bad in [
            "",
            "k1",
            "k1.1700000000",
            "k1.1700000000.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
            &later,
            &challenge.replacen("k1", "k9", 1),
            &format!("{challenge}.x"),
            &"x".repeat(200),
        ] {
            assert_eq!(
                binding.check_challenge(bad, &hash(1), NOW),
                Err(ChallengeError::Invalid),
                "{bad:?}"
            );
        }
        assert_eq!(
            binding.check_challenge(&future, &hash(1), NOW),
            Err(ChallengeError::Invalid)
        );
    }

    #[test]
    fn no_two_challenges_are_alike() {
        let binding = binding();
        let (a, b) = (
            binding.challenge(&hash(1), NOW).unwrap(),
            binding.challenge(&hash(1), NOW).unwrap(),
        );
        assert_ne!(a, b);
        assert!(binding.check_challenge(&b, &hash(1), NOW).is_ok());
    }

    #[test]
    fn a_challenge_is_spent_once() {
        let spent = Spent::default();
        let challenge = Challenge { expires: NOW + 60 };
        assert_eq!(spent.spend("c", challenge, NOW), Ok(()));
        assert_eq!(
            spent.spend("c", challenge, NOW),
            Err(ChallengeError::Reused)
        );
        assert_eq!(spent.spend("d", challenge, NOW), Ok(()));
    }

    #[test]
    fn a_full_memory_forgets_expired_challenges_and_refuses_when_none_has() {
        let spent = Spent::default();
        for n in 0..MAX_SPENT {
            let challenge = Challenge {
                expires: NOW + 1 + (n % 2) as u64 * 100,
            };
            spent.spend(&n.to_string(), challenge, NOW).unwrap();
        }
        let challenge = Challenge { expires: NOW + 160 };
        assert_eq!(
            spent.spend("new", challenge, NOW),
            Err(ChallengeError::Busy)
        );
        // Half expire by NOW + 1: room again, and the live half still counts.
        assert_eq!(spent.spend("new", challenge, NOW + 1), Ok(()));
        assert_eq!(
            spent.spend("1", challenge, NOW + 1),
            Err(ChallengeError::Reused)
        );
    }
}
