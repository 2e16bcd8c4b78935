//! The login handoff (DESIGN §6): the origin's login handler answers with
//! `Sessiongate-Login: <JWT>`, HS256 under `HANDOFF_KEY`, and the edge
//! starts a session for its `sub`, with the user's email, groups and time
//! of authentication when the handoff names them.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::jwt::{self, JwtError};
use crate::key::HmacKey;
use crate::session::{
    check_claims, check_email, check_groups, check_uid, Claims, GroupsError, Identity, UidError,
};

/// Response header the origin logs a user in with.
pub use sessiongate_hot::step::LOGIN_HEADER as HEADER;
/// Furthest `exp` may lie ahead: a handoff is used at once.
pub const MAX_AHEAD: u64 = 120;

/// A verified login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub uid: String,
    pub claims: Claims,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// When the user authenticated: the handoff's `auth_time`, else when
    /// it was verified.
    pub auth_time: u64,
}

impl From<Handoff> for Identity {
    fn from(handoff: Handoff) -> Self {
        Self {
            uid: handoff.uid,
            email: handoff.email,
            groups: handoff.groups,
            claims: handoff.claims,
            auth_time: handoff.auth_time,
        }
    }
}

/// Why a handoff was refused; `as_str` is what the log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffError {
    Jwt(JwtError),
    MissingSub,
    /// Empty, or longer than a user id may be.
    BadSub,
    SubControlCharacter,
    /// White space at either end of `sub` (DESIGN §2).
    SubWhitespace,
    MissingExp,
    Expired,
    ExpTooFarAhead,
    /// `nbf` or `iat` lies ahead: not valid yet.
    NotYetValid,
    ClaimsTooLarge,
    /// `email` is not a string that [`check_email`] accepts.
    BadEmail,
    /// `groups` is not an array of strings, or a group is empty or holds a
    /// control character.
    BadGroups,
    TooManyGroups,
    GroupsTooLarge,
    /// `auth_time` is not a whole number of seconds.
    BadAuthTime,
    AuthTimeInFuture,
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
            Self::SubControlCharacter => "sub_control_character",
            Self::SubWhitespace => "sub_surrounding_whitespace",
            Self::MissingExp => "missing_exp",
            Self::Expired => "expired",
            Self::ExpTooFarAhead => "exp_too_far_ahead",
            Self::NotYetValid => "not_yet_valid",
            Self::ClaimsTooLarge => "claims_too_large",
            Self::BadEmail => "bad_email",
            Self::BadGroups => "bad_groups",
            Self::TooManyGroups => "too_many_groups",
            Self::GroupsTooLarge => "groups_too_large",
            Self::BadAuthTime => "bad_auth_time",
            Self::AuthTimeInFuture => "auth_time_in_future",
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
    // Read loosely, so that a wrong type gets its own reason.
    email: Option<Value>,
    groups: Option<Value>,
    auth_time: Option<Value>,
}

/// Verifies a handoff JWT at `now`.
pub fn verify(key: &HmacKey, token: &str, now: u64) -> Result<Handoff, HandoffError> {
    let claims: HandoffClaims = jwt::verify(key, token).map_err(HandoffError::Jwt)?;
    let uid = claims.sub.ok_or(HandoffError::MissingSub)?;
    check_uid(&uid).map_err(|e| match e {
        UidError::Length => HandoffError::BadSub,
        UidError::ControlCharacter => HandoffError::SubControlCharacter,
        UidError::SurroundingWhitespace => HandoffError::SubWhitespace,
    })?;
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
    let HandoffClaims {
        claims,
        email,
        groups,
        auth_time,
        ..
    } = claims;
    let claims = claims.unwrap_or_default();
    check_claims(&claims).map_err(|_| HandoffError::ClaimsTooLarge)?;
    let email = match email {
        None => None,
        Some(Value::String(email)) if check_email(&email).is_ok() => Some(email),
        Some(_) => return Err(HandoffError::BadEmail),
    };
    let groups = match groups {
        None => Vec::new(),
        Some(Value::Array(list)) => {
            if list.len() > crate::session::MAX_GROUPS {
                return Err(HandoffError::TooManyGroups);
            }
            list.into_iter()
                .map(|g| match g {
                    Value::String(g) => Ok(g),
                    _ => Err(HandoffError::BadGroups),
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(HandoffError::BadGroups),
    };
    check_groups(&groups).map_err(|e| match e {
        GroupsError::TooMany => HandoffError::TooManyGroups,
        GroupsError::TooLarge => HandoffError::GroupsTooLarge,
        GroupsError::Bad => HandoffError::BadGroups,
    })?;
    // Not ahead of the edge's clock, as for `iat`; absent, it is now: the
    // origin has just checked the credentials.
    let auth_time = match auth_time {
        None => now,
        Some(Value::Number(n)) => n.as_u64().ok_or(HandoffError::BadAuthTime)?,
        Some(_) => return Err(HandoffError::BadAuthTime),
    };
    if auth_time > now {
        return Err(HandoffError::AuthTimeInFuture);
    }
    Ok(Handoff {
        uid,
        claims,
        email,
        groups,
        auth_time,
    })
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

    /// A valid handoff for `a` with `extra` claims added.
    fn with(extra: serde_json::Value) -> Result<Handoff, HandoffError> {
        let mut claims = json!({"sub": "a", "exp": NOW + 60});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        check(claims)
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
        assert_eq!(
            with(json!({"nbf": NOW + 1})),
            Err(HandoffError::NotYetValid)
        );
        assert_eq!(
            with(json!({"iat": NOW + 1})),
            Err(HandoffError::NotYetValid)
        );
        assert!(with(json!({"nbf": NOW, "iat": NOW - 5})).is_ok());
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
    fn a_handoff_names_email_groups_and_auth_time_or_defaults_them() {
        let handoff = check(json!({
            "sub": "alice", "exp": NOW + 60, "email": "alice@example.com",
            "groups": ["admins", "staff"], "auth_time": NOW - 300,
        }))
        .unwrap();
        assert_eq!(handoff.email.as_deref(), Some("alice@example.com"));
        assert_eq!(handoff.groups, ["admins", "staff"]);
        assert_eq!(handoff.auth_time, NOW - 300);
        let bare = check(json!({"sub": "bob", "exp": NOW + 60})).unwrap();
        assert_eq!(
            (bare.email, bare.groups, bare.auth_time),
            (None, Vec::new(), NOW),
            "auth_time defaults to now"
        );
        let nulls = check(json!({"sub": "bob", "exp": NOW + 60, "email": null, "groups": null}));
        assert_eq!(nulls.map(|h| (h.email, h.groups)), Ok((None, Vec::new())));
        let identity = Identity::from(handoff);
        assert_eq!(
            (identity.uid.as_str(), identity.auth_time),
            ("alice", NOW - 300)
        );
    }

    #[test]
    fn identity_past_its_bounds_or_of_the_wrong_shape_is_refused() {
        let many: Vec<String> = (0..65).map(|i| format!("g{i}")).collect();
        let wide: Vec<String> = (0..64).map(|i| format!("{i:0>40}")).collect();
        let cases = [
            (json!({"email": "not-an-address"}), HandoffError::BadEmail),
            (json!({"email": "a b@example.com"}), HandoffError::BadEmail),
            (json!({"email": ["a@example.com"]}), HandoffError::BadEmail),
            (
                json!({"email": format!("{}@example.com", "a".repeat(320))}),
                HandoffError::BadEmail,
            ),
            (json!({"groups": "admins"}), HandoffError::BadGroups),
            (json!({"groups": ["admins", 7]}), HandoffError::BadGroups),
            (json!({"groups": [""]}), HandoffError::BadGroups),
            (json!({"groups": ["a\u{0}b"]}), HandoffError::BadGroups),
            (json!({ "groups": many }), HandoffError::TooManyGroups),
            (json!({ "groups": wide }), HandoffError::GroupsTooLarge),
            (
                json!({"auth_time": NOW + 1}),
                HandoffError::AuthTimeInFuture,
            ),
            (json!({"auth_time": "yesterday"}), HandoffError::BadAuthTime),
            (json!({"auth_time": -5}), HandoffError::BadAuthTime),
            (
                json!({"auth_time": NOW as f64 - 0.5}),
                HandoffError::BadAuthTime,
            ),
        ];
        for (extra, error) in cases {
            assert_eq!(with(extra.clone()), Err(error), "{extra}");
        }
        let reasons: Vec<&str> = [
            HandoffError::BadEmail,
            HandoffError::BadGroups,
            HandoffError::TooManyGroups,
            HandoffError::GroupsTooLarge,
            HandoffError::BadAuthTime,
            HandoffError::AuthTimeInFuture,
        ]
        .iter()
        .map(HandoffError::as_str)
        .collect();
        assert_eq!(
            reasons,
            [
                "bad_email",
                "bad_groups",
                "too_many_groups",
                "groups_too_large",
                "bad_auth_time",
                "auth_time_in_future"
            ]
        );
        assert!(with(json!({"auth_time": NOW, "groups": []})).is_ok());
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
