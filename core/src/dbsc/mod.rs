//! Device Bound Session Credentials (W3C webappsec-dbsc) at the edge
//! (DESIGN §11): a session the browser binds to a key it keeps (in the TPM
//! where there is one) needs, beside its session cookie, a short-lived
//! bound cookie that only a proof of that key renews. A copied cookie jar
//! stops working when the bound cookie it holds expires.
//!
//! Everything here is pure: the challenges and the bound cookie are HMAC
//! tags over the session's id hash and a time, so issuing and checking
//! them costs no I/O; [`proof`] reads the browser's ES256 proofs (their
//! signatures are checked by WebCrypto, through the gate's `Verify` step).
//! The gate's `dbsc` stage uses them, and the session record keeps the key.

mod challenge;
mod cookie;
pub mod proof;
mod tag;

use std::fmt;

use serde_json::json;

use crate::cookie::CookieSpec;
use crate::token::KeyRing;

pub use challenge::{Challenge, ChallengeError};
pub use cookie::BoundCookieError;
pub use proof::{Jwk, ProofError};

/// Where a browser registers its key, and refreshes the bound cookie.
pub const REGISTER_PATH: &str = "/.sessiongate/dbsc/register";
pub const REFRESH_PATH: &str = "/.sessiongate/dbsc/refresh";
/// Response header that offers registration.
pub const REGISTRATION_HEADER: &str = "secure-session-registration";
/// Request header carrying the browser's signed proof.
pub const RESPONSE_HEADER: &str = "secure-session-response";
/// Request header naming the DBSC session a refresh is for.
pub const SESSION_ID_HEADER: &str = "sec-secure-session-id";
/// Response header carrying a refresh challenge.
pub const CHALLENGE_HEADER: &str = "secure-session-challenge";

/// Seconds after a session starts within which it may register a key:
/// long enough for the browser to make one, short enough that a stolen
/// cookie is almost always too late to bind a key of the thief's.
pub const REGISTRATION_WINDOW: u64 = 120;
/// Seconds after a registration during which a request of the session
/// that carries no bound cookie at all is still let in: the browser's
/// requests sent while it registered (the page after the login, say) left
/// before the bound cookie came back.
pub const BINDING_GRACE: u64 = 10;
pub const DEFAULT_MODE: &str = "offer";
pub const DEFAULT_REFRESH: &str = "10m";
/// Bound-cookie lifetimes allowed for `DEVICE_BOUND_REFRESH`.
pub const MIN_REFRESH: u64 = 10;
pub const MAX_REFRESH: u64 = 86_400;

/// `DEVICE_BOUND`: whether sessions are offered binding, or must have it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Off,
    /// Offer registration; sessions that never register work unbound.
    Offer,
    /// A session that has not registered within [`REGISTRATION_WINDOW`] is refused.
    Require,
}

impl Requirement {
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "offer" => Ok(Self::Offer),
            "require" => Ok(Self::Require),
            _ => Err(format!("{v:?} is not off, offer or require")),
        }
    }
}

/// Device binding as configured, with the keys its tags are made under.
#[derive(Debug, Clone)]
pub struct Binding {
    pub mode: Requirement,
    /// The bound cookie's lifetime, in seconds (`DEVICE_BOUND_REFRESH`).
    pub refresh: u64,
    /// `<COOKIE_NAME>-bound`, set like the session cookie.
    pub cookie: CookieSpec,
    challenge_keys: KeyRing,
    cookie_keys: KeyRing,
}

impl Binding {
    /// Keys of their own, derived from the session keys: a tag of one kind
    /// can never pass for a tag of another, or for a session token.
    pub fn new(
        mode: Requirement,
        refresh: u64,
        session_cookie: &CookieSpec,
        keys: &KeyRing,
    ) -> Result<Self, String> {
        let cookie = session_cookie.with_suffix("-bound")?;
        Ok(Self {
            mode,
            refresh,
            cookie,
            challenge_keys: keys.derive(b"sessiongate dbsc challenge v1"),
            cookie_keys: keys.derive(b"sessiongate dbsc bound cookie v1"),
        })
    }

    pub fn is_on(&self) -> bool {
        self.mode != Requirement::Off
    }

    /// `Secure-Session-Registration` for a session just started.
    pub fn registration(&self, challenge: &str) -> String {
        format!("(ES256);path=\"{REGISTER_PATH}\";challenge=\"{challenge}\"")
    }

    /// The session instructions a registration or refresh answers with.
    /// The scope is the origin the browser registered with: it names none,
    /// since the URL a worker sees may differ from the browser's (a local
    /// proxy, say), and a mismatch makes the browser drop the session.
    pub fn instructions(&self, sid: &str) -> serde_json::Value {
        json!({
            "session_identifier": sid,
            "refresh_url": REFRESH_PATH,
            "scope": { "include_site": false, "scope_specification": [] },
            "credentials": [{
                "type": "cookie",
                "name": self.cookie.name(),
                "attributes": self.cookie.attributes(),
            }],
        })
    }
}

/// Why a registration or refresh was refused; the reason logged and answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Proof(ProofError),
    Challenge(ChallengeError),
    /// The session already has a key: one registration per session.
    AlreadyRegistered,
    /// The session is older than [`REGISTRATION_WINDOW`].
    WindowClosed,
    /// A refresh for a session that never registered, or for another session.
    NotRegistered,
    /// The proof is signed by a key other than the registered one.
    WrongKey,
}

impl Refusal {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Proof(e) => e.as_str(),
            Self::Challenge(e) => e.as_str(),
            Self::AlreadyRegistered => "already_registered",
            Self::WindowClosed => "registration_window_closed",
            Self::NotRegistered => "not_registered",
            Self::WrongKey => "wrong_key",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cookie::SameSite;
    use crate::key::HmacKey;
    use crate::token::Kid;

    pub(crate) fn binding() -> Binding {
        let keys = KeyRing::new(vec![(Kid::parse("k1").unwrap(), HmacKey::new(&[7; 32]))]).unwrap();
        let cookie = CookieSpec::new("__Host-sg", SameSite::Lax).unwrap();
        Binding::new(Requirement::Offer, 600, &cookie, &keys).unwrap()
    }

    #[test]
    fn modes_parse_in_any_case_and_nothing_else_does() {
        assert_eq!(Requirement::parse(" Require "), Ok(Requirement::Require));
        assert_eq!(Requirement::parse("off"), Ok(Requirement::Off));
        assert_eq!(Requirement::parse("OFFER"), Ok(Requirement::Offer));
        assert!(Requirement::parse("on").is_err());
    }

    #[test]
    fn the_instructions_name_the_bound_cookie_as_it_is_set() {
        let binding = binding();
        let instructions = binding.instructions("sid");
        let credential = &instructions["credentials"][0];
        assert_eq!(credential["name"], "__Host-sg-bound");
        assert_eq!(
            credential["attributes"],
            "Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(instructions["refresh_url"], REFRESH_PATH);
        assert_eq!(
            binding.registration("c"),
            "(ES256);path=\"/.sessiongate/dbsc/register\";challenge=\"c\""
        );
    }

    #[test]
    fn tags_of_one_kind_never_pass_for_another() {
        let binding = binding();
        let hash = crate::token::SessionId::from_bytes([1; 32]).hash();
        let challenge = binding.challenge(&hash, 1_700_000_000).unwrap();
        let header = format!("__Host-sg-bound={challenge}");
        assert_eq!(
            binding.check_bound_cookie(Some(&header), &hash, 1_700_000_000),
            Err(BoundCookieError::Invalid)
        );
    }
}
