//! Verify, at your origin, who sessiongate says is making a request.
//!
//! sessiongate forwards each authenticated request with a
//! `Sessiongate-Assertion` header: an HS256 JWT, signed with the
//! `ASSERTION_KEY` you share with the edge, that names the user (`sub`),
//! the session (`sid`), the session's claims, and the exact method and
//! path it was issued for, valid for 60 seconds. [`Verifier`] checks all of
//! that against the request it arrived on, so an assertion captured from
//! one route is no key to any other.
//!
//! ```
//! use sessiongate_origin::{Handoff, Verifier};
//! # let now = 1_700_000_000;
//! # let edge_assertion = sessiongate_origin::test_assertion("assertion-key-of-at-least-32-chars", "my-app", "alice", "GET", "/orders?page=2", now);
//! let verifier = Verifier::new("assertion-key-of-at-least-32-chars", "my-app")?;
//!
//! // In a handler, with the header's value and the request's method and path:
//! let identity = verifier.verify(&edge_assertion, "GET", "/orders?page=2", now)?;
//! assert_eq!(identity.sub, "alice");
//!
//! // The same assertion presented on another route is refused.
//! assert!(verifier.verify(&edge_assertion, "POST", "/orders", now).is_err());
//!
//! // A login handler starts a session by answering with a handoff header:
//! let header_value = Handoff::new("alice").claim("role", "admin").sign("handoff-key-of-at-least-32-chars!", now);
//! # let _ = header_value;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `tower` feature, [`layer::SessiongateLayer`] does this for every
//! request of a tower or axum service and puts the [`Identity`] in the
//! request's extensions.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use sessiongate::assertion::{AssertionClaims, Expected};
use sessiongate::jwt;
use sessiongate::key::{HmacKey, MIN_SECRET_LEN};

pub use sessiongate::assertion::{AssertionError, Kind, LIFETIME};
pub use sessiongate::handoff::MAX_AHEAD as MAX_HANDOFF_AHEAD;
pub use sessiongate::jwt::JwtError;
pub use sessiongate::session::Claims;
/// The user id an `X-Sessiongate-User` value names: as it is, or decoded
/// from `UTF-8''…` (DESIGN §4.7); `None` for a malformed encoding. The
/// assertion's `sub` is the same id, exactly.
pub use sessiongate::user_header::decode as decode_user_header;

#[cfg(feature = "tower")]
pub mod layer;

/// Request header carrying the assertion.
pub const ASSERTION_HEADER: &str = sessiongate::assertion::HEADER;
/// Response header that logs a user in (see [`Handoff`]).
pub const LOGIN_HEADER: &str = sessiongate::handoff::HEADER;
/// Response header that logs the user out: `current` or `all`.
pub const LOGOUT_HEADER: &str = sessiongate::gate::LOGOUT_HEADER;
/// Seconds of clock difference between edge and origin tolerated on `iat`
/// and `exp` unless [`Verifier::leeway`] says otherwise.
pub const DEFAULT_LEEWAY: u64 = 5;

/// Who the edge says is making the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id the login handoff named.
    pub sub: String,
    /// A short public id of the session (not usable as a session).
    pub sid: String,
    /// The claims the login handoff gave the session.
    pub claims: Claims,
    /// The user's email address, when the login named one (from an
    /// identity provider: only an address it verified).
    pub email: Option<String>,
    /// The groups the login named the user in; empty for none.
    pub groups: Vec<String>,
    pub iat: u64,
    pub exp: u64,
    /// When the user last authenticated (entered credentials): ask for a
    /// fresh login before sensitive actions if this is too long ago.
    pub auth_time: u64,
    /// Whether the session is bound to a key of the user's device (DBSC):
    /// demand it for sensitive actions if every browser of yours binds.
    pub device_bound: bool,
    /// A person's session, or a machine client's access token (then `sub`
    /// is the token's subject, and `sid` names the token).
    pub kind: Kind,
    /// The machine client's `client_id`; `None` for a session.
    pub client_id: Option<String>,
    /// The access token's scopes, space-separated; `None` for a session.
    pub scope: Option<String>,
}

impl Identity {
    /// Whether this is a machine client whose token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split_ascii_whitespace().any(|t| t == scope))
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// A key shorter than sessiongate accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeakKey;

impl fmt::Display for WeakKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the assertion key must be at least {MIN_SECRET_LEN} characters"
        )
    }
}

impl std::error::Error for WeakKey {}

/// Checks assertions for one audience under one key.
#[derive(Debug, Clone)]
pub struct Verifier {
    key: HmacKey,
    audience: String,
    leeway: u64,
}

impl Verifier {
    /// `assertion_key` is the edge's `ASSERTION_KEY`; `audience` its `AUDIENCE`.
    pub fn new(assertion_key: &str, audience: impl Into<String>) -> Result<Self, WeakKey> {
        if assertion_key.chars().count() < MIN_SECRET_LEN {
            return Err(WeakKey);
        }
        Ok(Self {
            key: HmacKey::new(assertion_key.as_bytes()),
            audience: audience.into(),
            leeway: DEFAULT_LEEWAY,
        })
    }

    /// Seconds of clock skew tolerated; [`DEFAULT_LEEWAY`] unless set.
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Verifies `assertion` for a request with this method and path (with
    /// its query, exactly as received) at Unix time `now`: HS256 only, the
    /// signature in constant time, then `iss`, `aud`, `exp`, `iat`, `htm`
    /// and `htu`.
    pub fn verify(
        &self,
        assertion: &str,
        method: &str,
        path_and_query: &str,
        now: u64,
    ) -> Result<Identity, AssertionError> {
        let expected = Expected {
            audience: &self.audience,
            method,
            path_and_query,
            now,
            leeway: self.leeway,
        };
        let claims = AssertionClaims::verify(&self.key, assertion, &expected)?;
        Ok(Identity {
            sub: claims.sub,
            sid: claims.sid,
            claims: claims.claims,
            email: claims.email,
            groups: claims.groups,
            iat: claims.iat,
            exp: claims.exp,
            auth_time: claims.auth_time,
            device_bound: claims.device_bound,
            kind: claims.kind,
            client_id: claims.client_id,
            scope: claims.scope,
        })
    }

    /// [`verify`](Self::verify) at the current system time.
    pub fn verify_now(
        &self,
        assertion: &str,
        method: &str,
        path_and_query: &str,
    ) -> Result<Identity, AssertionError> {
        self.verify(assertion, method, path_and_query, unix_now())
    }
}

/// The login handoff: what your login handler answers with, as the value of
/// the `Sessiongate-Login` response header, once it has checked the user's
/// credentials. The edge then starts a session for `sub`, with the email,
/// groups and claims given here, and `auth_time` (when the user entered
/// credentials) defaulting to when the edge reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    sub: String,
    claims: Claims,
    email: Option<String>,
    groups: Vec<String>,
    auth_time: Option<u64>,
}

#[derive(serde::Serialize)]
struct HandoffClaims<'a> {
    sub: &'a str,
    exp: u64,
    claims: &'a Claims,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    groups: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<u64>,
}

impl Handoff {
    /// Seconds the signed handoff stays valid: it is used at once.
    pub const LIFETIME: u64 = 60;

    pub fn new(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            claims: Claims::new(),
            email: None,
            groups: Vec::new(),
            auth_time: None,
        }
    }

    /// The user's email address: at most 320 bytes, `local@domain`, no
    /// whitespace.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Adds a group the user is in: at most 64 groups, 2 KiB in all, none
    /// empty.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// When the user entered credentials, in Unix seconds, if earlier than
    /// now (a single sign-on session's login, say); never in the future.
    pub fn auth_time(mut self, auth_time: u64) -> Self {
        self.auth_time = Some(auth_time);
        self
    }

    /// Adds a string claim (roles, tenant): at most 1 KiB in all.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// The header value, signed with the edge's `HANDOFF_KEY`.
    pub fn sign(&self, handoff_key: &str, now: u64) -> String {
        let claims = HandoffClaims {
            sub: &self.sub,
            exp: now + Self::LIFETIME,
            claims: &self.claims,
            email: self.email.as_deref(),
            groups: &self.groups,
            auth_time: self.auth_time,
        };
        jwt::sign(&HmacKey::new(handoff_key.as_bytes()), &claims)
    }

    /// [`sign`](Self::sign) at the current system time.
    pub fn sign_now(&self, handoff_key: &str) -> String {
        self.sign(handoff_key, unix_now())
    }
}

/// `value` if it is a `return_to` safe to redirect to: a path on this
/// origin (not `//host`, `/\\host` or an absolute URL), whatever decoding a
/// browser or framework applies. The edge already drops unsafe ones on the
/// way to the login page; check again before redirecting.
pub fn safe_return_to(value: &str) -> Option<&str> {
    sessiongate::routes::is_safe_return_to(value).then_some(value)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An assertion as the edge would issue it, for examples and tests.
#[doc(hidden)]
pub fn test_assertion(
    key: &str,
    audience: &str,
    sub: &str,
    method: &str,
    path_and_query: &str,
    now: u64,
) -> String {
    AssertionClaims {
        iss: sessiongate::assertion::ISSUER.to_owned(),
        aud: audience.to_owned(),
        sub: sub.to_owned(),
        sid: "AAAAAAAAAAAAAAAA".to_owned(),
        iat: now,
        exp: now + LIFETIME,
        auth_time: now,
        htm: method.to_owned(),
        htu: path_and_query.to_owned(),
        claims: Claims::new(),
        email: None,
        groups: Vec::new(),
        device_bound: false,
        kind: Kind::Session,
        client_id: None,
        scope: None,
    }
    .sign(&HmacKey::new(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "assertion-key-of-at-least-32-chars";
    const NOW: u64 = 1_700_000_000;

    fn verifier() -> Verifier {
        Verifier::new(KEY, "app").unwrap()
    }

    #[test]
    fn verifies_an_edge_assertion_for_its_request() {
        let assertion = test_assertion(KEY, "app", "alice", "GET", "/a?b=1", NOW);
        let identity = verifier()
            .verify(&assertion, "GET", "/a?b=1", NOW + 10)
            .unwrap();
        assert_eq!(identity.sub, "alice");
        assert_eq!(identity.exp, NOW + 60);
    }

    #[test]
    fn refuses_other_requests_audiences_keys_and_times() {
        let assertion = test_assertion(KEY, "app", "alice", "GET", "/a", NOW);
        let v = verifier();
        assert_eq!(
            v.verify(&assertion, "POST", "/a", NOW),
            Err(AssertionError::WrongMethod)
        );
        assert_eq!(
            v.verify(&assertion, "GET", "/a?x", NOW),
            Err(AssertionError::WrongPath)
        );
        assert_eq!(
            v.verify(&assertion, "GET", "/a", NOW + 65),
            Err(AssertionError::Expired)
        );
        assert!(
            v.verify(&assertion, "GET", "/a", NOW + 64).is_ok(),
            "within the leeway"
        );
        assert_eq!(
            v.clone()
                .leeway(0)
                .verify(&assertion, "GET", "/a", NOW + 60),
            Err(AssertionError::Expired)
        );
        let other = Verifier::new(KEY, "other-app").unwrap();
        assert_eq!(
            other.verify(&assertion, "GET", "/a", NOW),
            Err(AssertionError::WrongAudience)
        );
        let wrong_key = Verifier::new("another-key-of-at-least-32-chars!!", "app").unwrap();
        assert_eq!(
            wrong_key.verify(&assertion, "GET", "/a", NOW),
            Err(AssertionError::Jwt(JwtError::BadSignature))
        );
    }

    #[test]
    fn return_to_must_stay_on_this_origin() {
        assert_eq!(safe_return_to("/dashboard?x=1"), Some("/dashboard?x=1"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/%2F/evil",
        ] {
            assert_eq!(safe_return_to(bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_short_keys() {
        assert_eq!(Verifier::new("short", "app").unwrap_err(), WeakKey);
    }

    #[test]
    fn the_identity_carries_email_groups_and_auth_time() {
        let key = HmacKey::new(KEY.as_bytes());
        let assertion = AssertionClaims {
            iss: sessiongate::assertion::ISSUER.to_owned(),
            aud: "app".to_owned(),
            sub: "alice".to_owned(),
            sid: "AAAAAAAAAAAAAAAA".to_owned(),
            iat: NOW,
            exp: NOW + LIFETIME,
            auth_time: NOW - 900,
            htm: "GET".to_owned(),
            htu: "/admin".to_owned(),
            claims: Claims::new(),
            email: Some("alice@example.com".to_owned()),
            groups: vec!["admins".to_owned(), "staff".to_owned()],
            device_bound: false,
            kind: Kind::Session,
            client_id: None,
            scope: None,
        }
        .sign(&key);
        let identity = verifier().verify(&assertion, "GET", "/admin", NOW).unwrap();
        assert_eq!(identity.email.as_deref(), Some("alice@example.com"));
        assert_eq!(identity.groups, ["admins", "staff"]);
        assert_eq!(identity.auth_time, NOW - 900);
        assert!(identity.in_group("admins") && !identity.in_group("admin"));
        // Without them (and from an edge before them): none.
        let bare = test_assertion(KEY, "app", "bob", "GET", "/", NOW);
        let identity = verifier().verify(&bare, "GET", "/", NOW).unwrap();
        assert_eq!((identity.email, identity.groups), (None, Vec::new()));
    }

    #[test]
    fn a_machine_clients_identity_names_the_client_and_its_scopes() {
        let key = HmacKey::new(KEY.as_bytes());
        let assertion = AssertionClaims {
            iss: sessiongate::assertion::ISSUER.to_owned(),
            aud: "app".to_owned(),
            sub: "ci-bot".to_owned(),
            sid: "0123456789abcdef".to_owned(),
            iat: NOW,
            exp: NOW + LIFETIME,
            auth_time: NOW - 30,
            htm: "POST".to_owned(),
            htu: "/api/deploy".to_owned(),
            claims: Claims::new(),
            email: None,
            groups: Vec::new(),
            device_bound: false,
            kind: Kind::Bearer,
            client_id: Some("ci-bot".to_owned()),
            scope: Some("deploy:write read".to_owned()),
        }
        .sign(&key);
        let identity = verifier()
            .verify(&assertion, "POST", "/api/deploy", NOW)
            .unwrap();
        assert_eq!(identity.kind, Kind::Bearer);
        assert_eq!(identity.client_id.as_deref(), Some("ci-bot"));
        assert!(identity.has_scope("deploy:write") && identity.has_scope("read"));
        assert!(!identity.has_scope("deploy"), "whole scopes only");
        let session = test_assertion(KEY, "app", "alice", "GET", "/", NOW);
        let identity = verifier().verify(&session, "GET", "/", NOW).unwrap();
        assert_eq!(
            (identity.kind, identity.client_id.as_deref()),
            (Kind::Session, None)
        );
        assert!(!identity.has_scope("read"));
    }

    #[test]
    fn handoffs_verify_at_the_edge() {
        let key = "handoff-key-of-at-least-32-chars!";
        let token = Handoff::new("alice").claim("role", "admin").sign(key, NOW);
        let handoff =
            sessiongate::handoff::verify(&HmacKey::new(key.as_bytes()), &token, NOW).unwrap();
        assert_eq!(handoff.uid, "alice");
        assert_eq!(
            handoff.claims.get("role").map(String::as_str),
            Some("admin")
        );
        assert_eq!(
            (handoff.email, handoff.groups, handoff.auth_time),
            (None, Vec::new(), NOW),
            "nothing more than asked for; auth_time defaults to now"
        );
    }

    #[test]
    fn handoffs_carry_email_groups_and_auth_time_to_the_edge() {
        let key = "handoff-key-of-at-least-32-chars!";
        let token = Handoff::new("alice")
            .email("alice@example.com")
            .group("admins")
            .group("staff")
            .auth_time(NOW - 120)
            .sign(key, NOW);
        let handoff =
            sessiongate::handoff::verify(&HmacKey::new(key.as_bytes()), &token, NOW).unwrap();
        assert_eq!(handoff.email.as_deref(), Some("alice@example.com"));
        assert_eq!(handoff.groups, ["admins", "staff"]);
        assert_eq!(handoff.auth_time, NOW - 120);
    }
}
