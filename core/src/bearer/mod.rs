//! Machine clients (DESIGN §15): OAuth access tokens in the JWT profile of
//! RFC 9068, presented as `Authorization: Bearer`, checked at the edge.
//!
//! Everything here is pure: the settings, and the checks of a token's
//! header and claims. The gate's `bearer` stage finds the issuer's key
//! (through the documents OpenID sign-in uses, `crate::oidc::metadata`)
//! and has the driver check the signature (WebCrypto, a `Verify` step).

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::oidc::token::{subject_refused, Jwt, TokenError, LEEWAY};
use crate::session::check_uid;

/// `BEARER_MAX_LIFETIME`'s default: an hour, the common access-token life.
pub const DEFAULT_MAX_LIFETIME: u64 = 3600;
/// The media types RFC 9068 §2.1 allows as the header's `typ`.
const ACCESS_TOKEN_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// The `BEARER_*` settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    /// A token's `aud` must contain it.
    pub audience: String,
    /// Exactly the token's `iss`; its discovery document names the keys.
    pub issuer: String,
    /// Longest `exp - iat` accepted, in seconds.
    pub max_lifetime: u64,
}

/// A client whose access token checked out: who it is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The token's `sub`: the client itself under client credentials, or
    /// the user it acts for.
    pub sub: String,
    pub client_id: String,
    /// Space-separated, as in the token; empty when it has none.
    pub scope: String,
    /// The token's `iat`, which a rule's `max_auth_age` is measured from.
    pub issued_at: u64,
    /// Names this token in the assertion and the log, as a session's
    /// `sid` names a session: 16 hex digits of SHA-256 of its `jti` (of
    /// the whole token when it has none). Never the token itself.
    pub sid: String,
}

impl Client {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }
}

impl Bearer {
    /// Reads an `Authorization: Bearer` token, its signature unchecked:
    /// an access token, and not one of the issuer's other JWTs (an ID
    /// token is typed `JWT`, a logout token `logout+jwt`).
    pub fn parse(token: &str) -> Result<Jwt, TokenError> {
        let jwt = Jwt::parse(token)?;
        let typed = jwt.typ.as_deref().is_some_and(|typ| {
            ACCESS_TOKEN_TYPES
                .iter()
                .any(|t| typ.eq_ignore_ascii_case(t))
        });
        if !typed {
            return Err(TokenError::NotAccessToken);
        }
        Ok(jwt)
    }

    /// Checks an access token's claims (RFC 9068 §4), with [`LEEWAY`] for
    /// the clocks; the client it speaks for. `token` is the text `jwt` was
    /// read from, for the `sid` of a token without a `jti`.
    pub fn check(&self, jwt: &Jwt, token: &str, now: u64) -> Result<Client, TokenError> {
        let text = |name: &str| jwt.claims.get(name).and_then(Value::as_str);
        let number = |name: &str| jwt.claims.get(name).and_then(Value::as_u64);
        if text("iss") != Some(self.issuer.as_str()) {
            return Err(TokenError::WrongIssuer);
        }
        let for_us = match jwt.claims.get("aud") {
            Some(Value::String(aud)) => *aud == self.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if !for_us {
            return Err(TokenError::WrongAudience);
        }
        let exp = number("exp").ok_or(TokenError::NoExpiry)?;
        if now >= exp.saturating_add(LEEWAY) {
            return Err(TokenError::Expired);
        }
        let iat = number("iat").ok_or(TokenError::NoIssueTime)?;
        if iat > now.saturating_add(LEEWAY) {
            return Err(TokenError::IssuedInFuture);
        }
        match jwt.claims.get("nbf") {
            None => {}
            Some(nbf) => match nbf.as_u64() {
                Some(nbf) if nbf <= now.saturating_add(LEEWAY) => {}
                Some(_) => return Err(TokenError::NotYetValid),
                None => return Err(TokenError::Malformed),
            },
        }
        if exp.saturating_sub(iat) > self.max_lifetime {
            return Err(TokenError::LifetimeTooLong);
        }
        // A sender-constrained token (DPoP, mTLS: RFC 9449, RFC 8705) is
        // good only with its proof of possession, which this edge does not
        // check: taken as a plain bearer token, a stolen one would pass.
        if jwt.claims.contains_key("cnf") {
            return Err(TokenError::SenderConstrained);
        }
        let client_id = text("client_id")
            .filter(|id| !id.is_empty())
            .ok_or(TokenError::NoClientId)?;
        let sub = text("sub").ok_or(TokenError::NoSubject)?;
        check_uid(sub).map_err(subject_refused)?;
        let scope = match jwt.claims.get("scope") {
            None => "",
            Some(Value::String(scope)) => scope,
            Some(_) => return Err(TokenError::Malformed),
        };
        let named = text("jti").unwrap_or(token);
        let digest = Sha256::digest(named.as_bytes());
        Ok(Client {
            sub: sub.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.split_ascii_whitespace().collect::<Vec<_>>().join(" "),
            issued_at: iat,
            sid: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

#[cfg(test)]
mod tests;
