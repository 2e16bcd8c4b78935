//! The login handoff: how a login handler at the origin starts a session
//! at the edge.

use sessiongate_core::jwt;
use sessiongate_core::key::HmacKey;

use crate::{unix_now, Claims};

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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn handoffs_verify_at_the_edge() {
        let key = "handoff-key-of-at-least-32-chars!";
        let token = Handoff::new("alice").claim("role", "admin").sign(key, NOW);
        let handoff =
            sessiongate_core::handoff::verify(&HmacKey::new(key.as_bytes()), &token, NOW).unwrap();
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
            sessiongate_core::handoff::verify(&HmacKey::new(key.as_bytes()), &token, NOW).unwrap();
        assert_eq!(handoff.email.as_deref(), Some("alice@example.com"));
        assert_eq!(handoff.groups, ["admins", "staff"]);
        assert_eq!(handoff.auth_time, NOW - 120);
    }
}
