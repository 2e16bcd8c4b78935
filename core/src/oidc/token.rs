//! ID tokens and logout tokens: read, and their claims checked. The
//! signature is checked by the driver (WebCrypto, a `Verify` step) with
//! the key [`Jwks::find`](super::metadata::Jwks::find) picks, for the
//! algorithm the edge accepts for that key: a token's `alg` only selects
//! among RS256 and ES256, and must match the key's type. `none`, HS256
//! and every other are refused before anything else.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::session::{check_uid, UidError};

/// Longest token read: far above any real ID token.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Seconds of clock difference tolerated with the provider.
pub const LEEWAY: u64 = 60;
/// Oldest `iat` a logout token may have (ASVS 10.5.5: short-lived).
pub const LOGOUT_MAX_AGE: u64 = 120;
/// The `events` member of a back-channel logout token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
pub const ALGORITHMS: [&str; 2] = ["RS256", "ES256"];

/// A JWT split and decoded, its signature not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwt {
    /// `RS256` or `ES256`.
    pub alg: &'static str,
    pub kid: Option<String>,
    pub typ: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, as signed.
    pub signed: String,
    /// base64url, as in the token.
    pub signature: String,
}

/// Why a JWT from the identity provider (an ID, logout or access token)
/// is refused: one variant per way it can be wrong. [`TokenError::as_str`]
/// is the log's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    TooLong,
    /// Not three base64url parts of JSON, or a claim of the wrong type.
    Malformed,
    /// An `alg` other than those the edge accepts, or a `crit` header.
    AlgUnsupported,
    WrongIssuer,
    /// Not for this client (or, with other audiences, no matching `azp`).
    WrongAudience,
    NoSubject,
    /// A `sub` that is no usable user id (DESIGN §2).
    BadSubject,
    /// A `sub` with surrounding whitespace, which would name another user.
    SubjectWhitespace,
    NoExpiry,
    Expired,
    NoIssueTime,
    IssuedInFuture,
    /// An `nbf` still ahead.
    NotYetValid,
    /// An ID token's `nonce` is not this sign-in's.
    WrongNonce,
    /// A sign-in that asked for `max_age` got no `auth_time`.
    AuthTimeMissing,
    AuthTimeInFuture,
    /// Older than the sign-in's `max_age`.
    AuthTimeTooOld,
    /// A logout token not typed `logout+jwt`.
    LogoutUntyped,
    LogoutNoEvent,
    LogoutHasNonce,
    LogoutNoJti,
    /// A logout token naming no user id the edge takes.
    LogoutNoSubject,
    /// Not typed as an access token (RFC 9068 §2.1).
    NotAccessToken,
    /// `exp - iat` past `BEARER_MAX_LIFETIME`.
    LifetimeTooLong,
    /// A `cnf` claim: good only with a proof of possession the edge does not check.
    SenderConstrained,
    NoClientId,
    /// The issuer's keys lack the token's `kid`, even fetched again.
    UnknownKid,
    BadSignature,
    /// A machine client's token older than a rule's `max_auth_age`.
    TooOld,
}

impl TokenError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLong => "token_too_long",
            Self::Malformed => "token_malformed",
            Self::AlgUnsupported => "token_alg_unsupported",
            Self::WrongIssuer => "token_wrong_issuer",
            Self::WrongAudience => "token_wrong_audience",
            Self::NoSubject => "token_no_subject",
            Self::BadSubject => "token_bad_subject",
            Self::SubjectWhitespace => "token_subject_whitespace",
            Self::NoExpiry => "token_no_expiry",
            Self::Expired => "token_expired",
            Self::NoIssueTime => "token_no_issue_time",
            Self::IssuedInFuture => "token_issued_in_future",
            Self::NotYetValid => "token_not_yet_valid",
            Self::WrongNonce => "token_wrong_nonce",
            Self::AuthTimeMissing => "auth_time_missing",
            Self::AuthTimeInFuture => "auth_time_in_future",
            Self::AuthTimeTooOld => "auth_time_too_old",
            Self::LogoutUntyped => "logout_token_untyped",
            Self::LogoutNoEvent => "logout_token_no_event",
            Self::LogoutHasNonce => "logout_token_has_nonce",
            Self::LogoutNoJti => "logout_token_no_jti",
            Self::LogoutNoSubject => "logout_token_no_subject",
            Self::NotAccessToken => "token_not_access_token",
            Self::LifetimeTooLong => "token_lifetime_too_long",
            Self::SenderConstrained => "token_sender_constrained",
            Self::NoClientId => "token_no_client_id",
            Self::UnknownKid => "token_unknown_kid",
            Self::BadSignature => "token_bad_signature",
            Self::TooOld => "token_too_old",
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<Value>,
}

impl Jwt {
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode(header)?;
        let alg = ALGORITHMS
            .into_iter()
            .find(|a| *a == header.alg)
            .filter(|_| header.crit.is_none())
            .ok_or(TokenError::AlgUnsupported)?;
        let claims: Map<String, Value> = decode(payload)?;
        if signature.is_empty() || URL_SAFE_NO_PAD.decode(signature).is_err() {
            return Err(TokenError::Malformed);
        }
        Ok(Self {
            alg,
            kid: header.kid,
            typ: header.typ,
            claims,
            signed: token[..token.len() - signature.len() - 1].to_owned(),
            signature: signature.to_owned(),
        })
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.claims.get(name).and_then(Value::as_u64)
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `iss` and `aud` (with `azp` when there are other audiences, or it is
    /// given): the token is from this provider, for this client.
    fn check_audience(&self, issuer: &str, client_id: &str) -> Result<(), TokenError> {
        if self.text("iss") != Some(issuer) {
            return Err(TokenError::WrongIssuer);
        }
        let audiences: Vec<&str> = match self.claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences.contains(&client_id) {
            return Err(TokenError::WrongAudience);
        }
        let azp = self.text("azp");
        if (audiences.len() > 1 && azp.is_none()) || azp.is_some_and(|azp| azp != client_id) {
            return Err(TokenError::WrongAudience);
        }
        Ok(())
    }

    /// The `sub`, which must be a usable user id (DESIGN §2).
    fn subject(&self) -> Result<String, TokenError> {
        let sub = self.text("sub").ok_or(TokenError::NoSubject)?;
        check_uid(sub).map_err(subject_refused)?;
        Ok(sub.to_owned())
    }

    /// Checks an ID token's claims (OpenID Connect Core §3.1.3.7); its
    /// subject. `nonce_matches` says whether a nonce is this sign-in's.
    pub fn check_id_token(
        &self,
        issuer: &str,
        client_id: &str,
        nonce_matches: impl Fn(&str) -> bool,
        now: u64,
    ) -> Result<String, TokenError> {
        self.check_audience(issuer, client_id)?;
        let exp = self.number("exp").ok_or(TokenError::NoExpiry)?;
        if now >= exp.saturating_add(LEEWAY) {
            return Err(TokenError::Expired);
        }
        let iat = self.number("iat").ok_or(TokenError::NoIssueTime)?;
        if iat > now.saturating_add(LEEWAY) {
            return Err(TokenError::IssuedInFuture);
        }
        if !self.text("nonce").is_some_and(&nonce_matches) {
            return Err(TokenError::WrongNonce);
        }
        self.subject()
    }

    /// When the user authenticated, from an ID token checked by
    /// [`check_id_token`](Self::check_id_token): its `auth_time` (a whole
    /// number of seconds; anything else counts as absent), never later than
    /// `now`, or `now` when it has none. When the sign-in asked for a
    /// `max_age`, the token must have one no older than that (OpenID Connect
    /// Core §3.1.2.1, §3.1.3.7), with [`LEEWAY`] for the clocks.
    pub fn auth_time(&self, max_age: Option<u64>, now: u64) -> Result<u64, TokenError> {
        let Some(auth_time) = self.number("auth_time") else {
            return match max_age {
                Some(_) => Err(TokenError::AuthTimeMissing),
                None => Ok(now),
            };
        };
        if auth_time > now.saturating_add(LEEWAY) {
            return Err(TokenError::AuthTimeInFuture);
        }
        let oldest = now.saturating_sub(max_age.unwrap_or(u64::MAX).saturating_add(LEEWAY));
        if auth_time < oldest {
            return Err(TokenError::AuthTimeTooOld);
        }
        Ok(auth_time.min(now))
    }

    /// Checks a back-channel logout token (Back-Channel Logout 1.0 §2.6,
    /// ASVS 10.5.5); its subject.
    pub fn check_logout_token(
        &self,
        issuer: &str,
        client_id: &str,
        now: u64,
    ) -> Result<String, TokenError> {
        // Typed, so that no other JWT of the provider's (an ID token, say)
        // can pass for one.
        if self.typ.as_deref() != Some("logout+jwt") {
            return Err(TokenError::LogoutUntyped);
        }
        self.check_audience(issuer, client_id)?;
        let iat = self.number("iat").ok_or(TokenError::NoIssueTime)?;
        if iat > now.saturating_add(LEEWAY) {
            return Err(TokenError::IssuedInFuture);
        }
        if now.saturating_sub(iat) > LOGOUT_MAX_AGE + LEEWAY {
            return Err(TokenError::Expired);
        }
        if self
            .number("exp")
            .is_some_and(|exp| now >= exp.saturating_add(LEEWAY))
        {
            return Err(TokenError::Expired);
        }
        let event = self
            .claims
            .get("events")
            .and_then(|events| events.get(LOGOUT_EVENT));
        if !event.is_some_and(Value::is_object) {
            return Err(TokenError::LogoutNoEvent);
        }
        if self.claims.contains_key("nonce") {
            return Err(TokenError::LogoutHasNonce);
        }
        if self.text("jti").is_none() {
            return Err(TokenError::LogoutNoJti);
        }
        // A token naming only a provider session (`sid`) names no user the
        // edge knows: sessions are the user's.
        self.subject().map_err(|_| TokenError::LogoutNoSubject)
    }

    pub fn jti(&self) -> Option<&str> {
        self.text("jti")
    }
}

fn decode<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    crate::jwt::decode_part(part).map_err(|_| TokenError::Malformed)
}

/// The log reason for a `sub` that is no usable user id.
pub fn subject_refused(e: UidError) -> TokenError {
    match e {
        UidError::SurroundingWhitespace => TokenError::SubjectWhitespace,
        UidError::Length | UidError::ControlCharacter => TokenError::BadSubject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;
    const ISS: &str = "https://id.example.com";

    fn token(header: Value, claims: Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.c2ln", enc(&header), enc(&claims))
    }

    fn id_claims() -> Value {
        json!({ "iss": ISS, "aud": "app", "sub": "u1", "exp": NOW + 300, "iat": NOW, "nonce": "n1" })
    }

    fn with(mut claims: Value, changes: Value) -> Value {
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    }

    fn check(claims: Value) -> Result<String, TokenError> {
        let jwt = Jwt::parse(&token(json!({ "alg": "RS256", "kid": "k" }), claims))?;
        jwt.check_id_token(ISS, "app", |n| n == "n1", NOW)
    }

    #[test]
    fn only_rs256_and_es256_are_read() {
        for alg in ["none", "HS256", "RS512", "PS256", "rs256", "EdDSA"] {
            let t = token(json!({ "alg": alg }), id_claims());
            assert_eq!(Jwt::parse(&t), Err(TokenError::AlgUnsupported), "{alg}");
        }
        let parsed =
            Jwt::parse(&token(json!({ "alg": "ES256", "kid": "e1" }), id_claims())).unwrap();
        assert_eq!((parsed.alg, parsed.kid.as_deref()), ("ES256", Some("e1")));
        assert!(parsed
            .signed
            .ends_with(&URL_SAFE_NO_PAD.encode(id_claims().to_string())));
        let crit = token(json!({ "alg": "RS256", "crit": ["exp"] }), id_claims());
        assert_eq!(Jwt::parse(&crit), Err(TokenError::AlgUnsupported));
        assert_eq!(
            Jwt::parse(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(TokenError::TooLong)
        );
        for bad in ["", "a.b", "a.b.c.d", "e30.e30.", "!!.e30.c2ln"] {
            assert!(Jwt::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn id_token_claims_are_checked() {
        assert_eq!(check(id_claims()), Ok("u1".to_owned()));
        let cases = [
            (
                json!({ "iss": "https://evil.example" }),
                TokenError::WrongIssuer,
            ),
            (json!({ "aud": "other" }), TokenError::WrongAudience),
            (
                json!({ "aud": ["app", "other"] }),
                TokenError::WrongAudience,
            ),
            (json!({ "azp": "other" }), TokenError::WrongAudience),
            (json!({ "exp": NOW - LEEWAY }), TokenError::Expired),
            (json!({ "exp": null }), TokenError::NoExpiry),
            (
                json!({ "iat": NOW + LEEWAY + 1 }),
                TokenError::IssuedInFuture,
            ),
            (json!({ "nonce": "n2" }), TokenError::WrongNonce),
            (json!({ "nonce": null }), TokenError::WrongNonce),
            (json!({ "sub": null }), TokenError::NoSubject),
            (json!({ "sub": "" }), TokenError::BadSubject),
        ];
        for (change, reason) in cases {
            assert_eq!(
                check(with(id_claims(), change.clone())),
                Err(reason),
                "{change}"
            );
        }
        assert_eq!(
            check(with(
                id_claims(),
                json!({ "aud": ["app", "other"], "azp": "app" })
            )),
            Ok("u1".into())
        );
    }

    #[test]
    fn auth_time_must_be_as_recent_as_the_sign_in_asked() {
        let at = |changes: Value, max_age: Option<u64>| {
            let jwt = Jwt::parse(&token(
                json!({ "alg": "RS256" }),
                with(id_claims(), changes),
            ))
            .unwrap();
            jwt.auth_time(max_age, NOW)
        };
        // No max_age asked: the token's, or now.
        assert_eq!(at(json!({}), None), Ok(NOW));
        assert_eq!(
            at(json!({ "auth_time": NOW - 86_400 }), None),
            Ok(NOW - 86_400)
        );
        assert_eq!(at(json!({ "auth_time": "yesterday" }), None), Ok(NOW));
        // Asked: present, and no older than max_age, give or take the leeway.
        assert_eq!(at(json!({}), Some(300)), Err(TokenError::AuthTimeMissing));
        assert_eq!(
            at(json!({ "auth_time": 1.5 }), Some(300)),
            Err(TokenError::AuthTimeMissing)
        );
        assert_eq!(
            at(json!({ "auth_time": NOW - 300 - LEEWAY }), Some(300)),
            Ok(NOW - 300 - LEEWAY)
        );
        assert_eq!(
            at(json!({ "auth_time": NOW - 301 - LEEWAY }), Some(300)),
            Err(TokenError::AuthTimeTooOld)
        );
        assert_eq!(
            at(json!({ "auth_time": NOW - 3600 }), Some(0)),
            Err(TokenError::AuthTimeTooOld)
        );
        assert_eq!(at(json!({ "auth_time": NOW - 10 }), Some(0)), Ok(NOW - 10));
        // Ahead: within the leeway it is now; beyond, refused.
        assert_eq!(at(json!({ "auth_time": NOW + LEEWAY }), Some(300)), Ok(NOW));
        assert_eq!(
            at(json!({ "auth_time": NOW + LEEWAY + 1 }), None),
            Err(TokenError::AuthTimeInFuture)
        );
    }

    fn logout_claims() -> Value {
        json!({ "iss": ISS, "aud": "app", "sub": "u1", "iat": NOW, "exp": NOW + 120, "jti": "j1",
                "events": { LOGOUT_EVENT: {} } })
    }

    fn check_logout(header: Value, claims: Value) -> Result<String, TokenError> {
        Jwt::parse(&token(header, claims))?.check_logout_token(ISS, "app", NOW)
    }

    #[test]
    fn logout_tokens_are_typed_carry_the_event_and_no_nonce() {
        let typed = json!({ "alg": "RS256", "typ": "logout+jwt" });
        assert_eq!(
            check_logout(typed.clone(), logout_claims()),
            Ok("u1".into())
        );
        assert_eq!(
            check_logout(json!({ "alg": "RS256" }), logout_claims()),
            Err(TokenError::LogoutUntyped)
        );
        assert_eq!(
            check_logout(json!({ "alg": "RS256", "typ": "JWT" }), logout_claims()),
            Err(TokenError::LogoutUntyped)
        );
        let cases = [
            (json!({ "events": null }), TokenError::LogoutNoEvent),
            (
                json!({ "events": { "other": {} } }),
                TokenError::LogoutNoEvent,
            ),
            (json!({ "nonce": "n" }), TokenError::LogoutHasNonce),
            (json!({ "jti": null }), TokenError::LogoutNoJti),
            (
                json!({ "sub": null, "sid": "s" }),
                TokenError::LogoutNoSubject,
            ),
            (json!({ "aud": "other" }), TokenError::WrongAudience),
            (
                json!({ "iat": NOW - 600, "exp": null }),
                TokenError::Expired,
            ),
            (json!({ "iat": NOW + 600 }), TokenError::IssuedInFuture),
        ];
        for (change, reason) in cases {
            assert_eq!(
                check_logout(typed.clone(), with(logout_claims(), change.clone())),
                Err(reason),
                "{change}"
            );
        }
        // An ID token is no logout token, whoever signed it.
        assert!(check_logout(json!({ "alg": "RS256", "typ": "JWT" }), id_claims()).is_err());
    }
}
