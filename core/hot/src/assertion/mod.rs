//! The identity assertion the edge sends the origin (DESIGN §5): a JWT
//! bound to one method and path, valid for a minute, signed HS256 under
//! the key the origin shares, or by a key of the edge's own whose public
//! half it publishes ([`signing`]).
//!
//! Issuing and verifying live together so the worker and the
//! `sessiongate-origin` crate share one reading of the format.

pub mod pkcs8;
pub mod signing;

use std::fmt;

use serde::{Deserialize, Serialize};

use self::signing::{Signed, Signer};
use crate::jwt::{self, JwtError};
use crate::key::HmacKey;
use crate::session::Claims;

/// `iss` of every assertion.
pub const ISSUER: &str = "sessiongate";
/// Seconds from `iat` to `exp`.
pub const LIFETIME: u64 = 60;
/// Request header that carries the assertion to the origin.
pub const HEADER: &str = "sessiongate-assertion";

/// The assertion's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// First 16 characters of the session's stored hash.
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
    /// When the user last authenticated (the login's `auth_time`; for a
    /// session from before records kept one, its start), for origins that
    /// ask for a fresh login before sensitive actions.
    pub auth_time: u64,
    /// The request method.
    pub htm: String,
    /// The path and query as forwarded.
    pub htu: String,
    #[serde(default)]
    pub claims: Claims,
    /// The user's email address, when the login named one; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's groups, as the login named them: always sent, `[]` for
    /// none; absent (from an older edge) reads as none.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Whether the session is bound to a key of the user's device
    /// (DESIGN §11), for origins that demand it for sensitive actions.
    #[serde(default)]
    pub device_bound: bool,
    /// Who was admitted: a session, or a machine client's access token
    /// (DESIGN §15). Absent (from an older edge) reads as a session.
    #[serde(default)]
    pub kind: Kind,
    /// The machine client's `client_id`; only for [`Kind::Bearer`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The access token's scopes, space-separated (`""` for none); only
    /// for [`Kind::Bearer`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The assertion's `kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A browser's session.
    #[default]
    Session,
    /// A machine client's access token.
    Bearer,
}

/// What the origin knows of the request the assertion must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub audience: &'a str,
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub now: u64,
    /// Seconds of clock skew tolerated on `iat` and `exp`.
    pub leeway: u64,
}

/// Why an assertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionError {
    Jwt(JwtError),
    WrongIssuer,
    WrongAudience,
    Expired,
    IssuedInFuture,
    /// `exp` further from `iat` than [`LIFETIME`].
    TooLong,
    WrongMethod,
    WrongPath,
}

impl fmt::Display for AssertionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jwt(e) => write!(f, "{e}"),
            Self::WrongIssuer => f.write_str("assertion iss is not sessiongate"),
            Self::WrongAudience => f.write_str("assertion aud does not match"),
            Self::Expired => f.write_str("assertion expired"),
            Self::IssuedInFuture => f.write_str("assertion issued in the future"),
            Self::TooLong => f.write_str("assertion lifetime exceeds 60 s"),
            Self::WrongMethod => f.write_str("assertion htm does not match the request method"),
            Self::WrongPath => f.write_str("assertion htu does not match the request path"),
        }
    }
}

impl std::error::Error for AssertionError {}

impl From<JwtError> for AssertionError {
    fn from(e: JwtError) -> Self {
        Self::Jwt(e)
    }
}

impl AssertionClaims {
    /// Signed by `signer` (HS256 here, or made ready for the driver).
    /// Not generic and not inlined, so that the claims' serialisation is
    /// built with this crate, for speed, and not with its caller's.
    #[inline(never)]
    pub fn signed(&self, signer: &Signer) -> Signed {
        signer.sign(self)
    }

    pub fn sign(&self, key: &HmacKey) -> String {
        jwt::sign(key, self)
    }

    /// Verifies an HS256 assertion: signature, issuer, audience, times,
    /// method and path.
    pub fn verify(
        key: &HmacKey,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<Self, AssertionError> {
        let claims: Self = jwt::verify(key, token)?;
        claims.check(expected)
    }

    /// Checks issuer, audience, times, method and path of claims whose
    /// signature checked out.
    pub fn check(self, expected: &Expected<'_>) -> Result<Self, AssertionError> {
        let claims = self;
        if claims.iss != ISSUER {
            return Err(AssertionError::WrongIssuer);
        }
        if claims.aud != expected.audience {
            return Err(AssertionError::WrongAudience);
        }
        if expected.now >= claims.exp.saturating_add(expected.leeway) {
            return Err(AssertionError::Expired);
        }
        if claims.iat > expected.now.saturating_add(expected.leeway) {
            return Err(AssertionError::IssuedInFuture);
        }
        if claims.exp.saturating_sub(claims.iat) > LIFETIME {
            return Err(AssertionError::TooLong);
        }
        if claims.htm != expected.method {
            return Err(AssertionError::WrongMethod);
        }
        if claims.htu != expected.path_and_query {
            return Err(AssertionError::WrongPath);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn key() -> HmacKey {
        HmacKey::new(b"assertion-key-assertion-key-0123")
    }

    fn claims() -> AssertionClaims {
        AssertionClaims {
            iss: ISSUER.into(),
            aud: "app".into(),
            sub: "alice".into(),
            sid: "abcdefghijklmnop".into(),
            iat: NOW,
            exp: NOW + LIFETIME,
            auth_time: NOW - 600,
            htm: "GET".into(),
            htu: "/a?b=1".into(),
            claims: Claims::new(),
            email: Some("alice@example.com".into()),
            groups: vec!["admins".into()],
            device_bound: false,
            kind: Kind::Session,
            client_id: None,
            scope: None,
        }
    }

    fn expected(now: u64) -> Expected<'static> {
        Expected {
            audience: "app",
            method: "GET",
            path_and_query: "/a?b=1",
            now,
            leeway: 5,
        }
    }

    #[test]
    fn a_fresh_assertion_verifies_for_its_own_request() {
        let token = claims().sign(&key());
        assert_eq!(
            AssertionClaims::verify(&key(), &token, &expected(NOW)).unwrap(),
            claims()
        );
    }

    #[test]
    fn email_is_left_out_when_unknown_and_groups_are_always_a_list() {
        let json = |c: &AssertionClaims| serde_json::to_value(c).unwrap();
        let full = json(&claims());
        assert_eq!(full["email"], "alice@example.com");
        assert_eq!(full["groups"], serde_json::json!(["admins"]));
        assert_eq!(full["auth_time"], NOW - 600);
        let bare = json(&AssertionClaims {
            email: None,
            groups: Vec::new(),
            ..claims()
        });
        assert!(bare.get("email").is_none());
        assert_eq!(bare["groups"], serde_json::json!([]));
        assert_eq!(bare["kind"], "session");
        assert!(bare.get("client_id").is_none() && bare.get("scope").is_none());
        // An assertion from an edge before identity and machine clients:
        // no email, no groups, a session.
        let mut old = bare.clone();
        for name in ["groups", "kind"] {
            old.as_object_mut().unwrap().remove(name);
        }
        let token = jwt::sign(&key(), &old);
        let read = AssertionClaims::verify(&key(), &token, &expected(NOW)).unwrap();
        assert_eq!((read.email, read.groups), (None, Vec::new()));
        assert_eq!(read.kind, Kind::Session);
        let bearer = json(&AssertionClaims {
            kind: Kind::Bearer,
            client_id: Some("ci-bot".into()),
            scope: Some("deploy:write".into()),
            ..claims()
        });
        assert_eq!(
            (&bearer["kind"], &bearer["client_id"], &bearer["scope"]),
            (
                &serde_json::json!("bearer"),
                &serde_json::json!("ci-bot"),
                &serde_json::json!("deploy:write")
            )
        );
    }

    #[test]
    fn it_is_bound_to_audience_method_path_and_time() {
        let token = claims().sign(&key());
        let check = |e: Expected<'_>| AssertionClaims::verify(&key(), &token, &e).unwrap_err();
        assert_eq!(
            check(Expected {
                audience: "other",
                ..expected(NOW)
            }),
            AssertionError::WrongAudience
        );
        assert_eq!(
            check(Expected {
                method: "POST",
                ..expected(NOW)
            }),
            AssertionError::WrongMethod
        );
        assert_eq!(
            check(Expected {
                path_and_query: "/a",
                ..expected(NOW)
            }),
            AssertionError::WrongPath
        );
        assert_eq!(check(expected(NOW + LIFETIME + 5)), AssertionError::Expired);
        assert_eq!(check(expected(NOW - 6)), AssertionError::IssuedInFuture);
        assert!(AssertionClaims::verify(&key(), &token, &expected(NOW + LIFETIME + 4)).is_ok());
    }

    #[test]
    fn issuer_and_lifetime_are_checked() {
        let foreign = AssertionClaims {
            iss: "someone".into(),
            ..claims()
        }
        .sign(&key());
        assert_eq!(
            AssertionClaims::verify(&key(), &foreign, &expected(NOW)),
            Err(AssertionError::WrongIssuer)
        );
        let long = AssertionClaims {
            exp: NOW + 3600,
            ..claims()
        }
        .sign(&key());
        assert_eq!(
            AssertionClaims::verify(&key(), &long, &expected(NOW)),
            Err(AssertionError::TooLong)
        );
    }
}
