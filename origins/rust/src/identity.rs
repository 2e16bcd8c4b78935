//! Who the edge says is making the request, as a verified assertion
//! names them.

use sessiongate_core::assertion::{AssertionClaims, Kind};

use crate::Claims;

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

impl From<AssertionClaims> for Identity {
    /// Claims whose signature and binding were checked; the rest (`iss`,
    /// `aud`, `htm`, `htu`) only said what they were checked against.
    fn from(claims: AssertionClaims) -> Self {
        Self {
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
        }
    }
}
