//! The login handoff (DESIGN §6): the origin's login handler answers with
//! `Sessiongate-Login: <JWT>`, HS256 under `HANDOFF_KEY`, and the edge
//! starts a session for its `sub`.

use std::fmt;

use serde::Deserialize;

use crate::jwt::{self, JwtError};
use crate::key::HmacKey;
use crate::session::{check_claims, check_uid, Claims};

/// Response header the origin logs a user in with.
pub const HEADER: &str = "sessiongate-login";
/// Furthest `exp` may lie ahead: a handoff is used at once.
pub const MAX_AHEAD: u64 = 120;

/// A verified login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub uid: String,
    pub claims: Claims,
}

/// Why a handoff was refused; `as_str` is what the log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffError {
    Jwt(JwtError),
    MissingSub,
    BadSub,
    MissingExp,
    Expired,
    ExpTooFarAhead,
    /// `nbf` or `iat` lies ahead: not valid yet.
    NotYetValid,
    ClaimsTooLarge,
}

impl HandoffError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Jwt(JwtError::TooLong) => "jwt_too_long",
            Self::Jwt(JwtError::Malformed) => "jwt_malformed",
            Self::Jwt(JwtError::UnsupportedAlgorithm) => "jwt_alg_not_hs256",
            Self::Jwt(JwtError::BadSignature) => "jwt_bad_signature",
            Self::Jwt(JwtError::BadClaims) => "jwt_bad_claims",
            Self::MissingSub => "missing_sub",
            Self::BadSub => "bad_sub",
            Self::MissingExp => "missing_exp",
            Self::Expired => "expired",
            Self::ExpTooFarAhead => "exp_too_far_ahead",
            Self::NotYetValid => "not_yet_valid",
            Self::ClaimsTooLarge => "claims_too_large",
        }
    }
}

impl fmt::Display for HandoffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
struct HandoffClaims {
    sub: Option<String>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    claims: Option<Claims>,
}

/// Verifies a handoff JWT at `now`.
pub fn verify(key: &HmacKey, token: &str, now: u64) -> Result<Handoff, HandoffError> {
    let claims: HandoffClaims = jwt::verify(key, token).map_err(HandoffError::Jwt)?;
    let uid = claims.sub.ok_or(HandoffError::MissingSub)?;
    check_uid(&uid).map_err(|_| HandoffError::BadSub)?;
    let exp = claims.exp.ok_or(HandoffError::MissingExp)?;
    if exp <= now {
        return Err(HandoffError::Expired);
    }
    if exp > now.saturating_add(MAX_AHEAD) {
        return Err(HandoffError::ExpTooFarAhead);
    }
    // A validity span starts at `nbf` (ASVS 5.0.0 9.2.1); an `iat` ahead of
    // the edge's clock is as suspect. No leeway, as for `exp`.
    if claims.nbf.is_some_and(|nbf| nbf > now) || claims.iat.is_some_and(|iat| iat > now) {
        return Err(HandoffError::NotYetValid);
    }
    let claims = claims.claims.unwrap_or_default();
    check_claims(&claims).map_err(|_| HandoffError::ClaimsTooLarge)?;
    Ok(Handoff { uid, claims })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn key() -> HmacKey {
        HmacKey::new(b"handoff-key-handoff-key-01234567")
    }

    fn check(claims: serde_json::Value) -> Result<Handoff, HandoffError> {
        verify(&key(), &jwt::sign(&key(), &claims), NOW)
    }

    #[test]
    fn a_valid_handoff_names_the_user_and_claims() {
        let handoff =
            check(json!({"sub": "alice", "exp": NOW + 60, "claims": {"role": "admin"}})).unwrap();
        assert_eq!(handoff.uid, "alice");
        assert_eq!(
            handoff.claims.get("role").map(String::as_str),
            Some("admin")
        );
        assert_eq!(
            check(json!({"sub": "bob", "exp": NOW + 120}))
                .unwrap()
                .claims,
            Claims::new()
        );
    }

    #[test]
    fn sub_and_exp_are_required_and_bounded() {
        assert_eq!(
            check(json!({"exp": NOW + 60})),
            Err(HandoffError::MissingSub)
        );
        assert_eq!(
            check(json!({"sub": "", "exp": NOW + 60})),
            Err(HandoffError::BadSub)
        );
        assert_eq!(check(json!({"sub": "a"})), Err(HandoffError::MissingExp));
        assert_eq!(
            check(json!({"sub": "a", "exp": NOW})),
            Err(HandoffError::Expired)
        );
        assert_eq!(
            check(json!({"sub": "a", "exp": NOW + 121})),
            Err(HandoffError::ExpTooFarAhead)
        );
        assert_eq!(
            check(json!({"sub": 7, "exp": NOW + 60})),
            Err(HandoffError::Jwt(JwtError::BadClaims))
        );
        assert_eq!(
            check(json!({"sub": "a", "exp": NOW as f64 + 60.5})),
            Err(HandoffError::Jwt(JwtError::BadClaims))
        );
    }

    #[test]
    fn a_validity_span_that_has_not_begun_is_refused() {
        let at = |extra: serde_json::Value| {
            let mut claims = json!({"sub": "a", "exp": NOW + 60});
            claims
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            check(claims)
        };
        assert_eq!(at(json!({"nbf": NOW + 1})), Err(HandoffError::NotYetValid));
        assert_eq!(at(json!({"iat": NOW + 1})), Err(HandoffError::NotYetValid));
        assert!(at(json!({"nbf": NOW, "iat": NOW - 5})).is_ok());
    }

    #[test]
    fn claims_must_be_small_strings() {
        let big = "x".repeat(1100);
        assert_eq!(
            check(json!({"sub": "a", "exp": NOW + 60, "claims": {"k": big}})),
            Err(HandoffError::ClaimsTooLarge)
        );
        assert_eq!(
            check(json!({"sub": "a", "exp": NOW + 60, "claims": {"k": 1}})),
            Err(HandoffError::Jwt(JwtError::BadClaims))
        );
    }

    #[test]
    fn a_handoff_signed_with_another_key_is_refused() {
        let other = HmacKey::new(b"assertion-key-assertion-key-0123");
        let token = jwt::sign(&other, &json!({"sub": "a", "exp": NOW + 60}));
        assert_eq!(
            verify(&key(), &token, NOW),
            Err(HandoffError::Jwt(JwtError::BadSignature))
        );
    }
}
