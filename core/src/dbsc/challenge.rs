//! Stateless challenges: `<kid>.<t>.<nonce>.<tag>` ([`super::tag`]): the
//! time of issue and a random nonce (so that no two are alike), tagged for
//! one session. Issuing one costs no I/O, and only a session's own
//! challenge, younger than [`LIFETIME`], checks out. A challenge answered
//! once is spent in this isolate's memory ([`crate::spent`]).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::{tag, Binding};
use crate::token::{parse_stamp, IdHash, MAX_FUTURE_SKEW};

/// Seconds a challenge may be answered in: the browser answers at once.
pub const LIFETIME: u64 = 60;
const NONCE_LEN: usize = 12;

/// Why a proof's challenge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// Not a challenge this edge issued for this session.
    Invalid,
    Expired,
    /// Answered before (DESIGN §11: remembered in [`crate::spent`]).
    Reused,
    /// Too many answered within a lifetime to remember another.
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
        Ok(tag::seal(
            &self.challenge_keys,
            hash,
            &[&now.to_string(), &nonce],
        ))
    }

    /// Checks that `raw` is a live challenge of the session `hash`.
    pub fn check_challenge(
        &self,
        raw: &str,
        hash: &IdHash,
        now: u64,
    ) -> Result<Challenge, ChallengeError> {
        let invalid = ChallengeError::Invalid;
        let [issued, _nonce] = tag::open(&self.challenge_keys, hash, raw).ok_or(invalid)?;
        let issued = parse_stamp(issued).map_err(|_| invalid)?;
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
}
