//! The state cookie of a sign-in: `__Host-sg-oidc`, holding the `state`,
//! `nonce` and PKCE verifier made for this browser's one authorization
//! request, and where to go after it, under an HMAC tag. The provider's
//! answer is taken only with the cookie of the browser that asked (ASVS
//! 10.1.2): its `state` must match the one the answer carries.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Oidc;

/// Seconds a sign-in may take, from the start to the callback.
pub const LIFETIME: u64 = 600;
/// The cookie's name.
pub const COOKIE: &str = "__Host-sg-oidc";
const MAX_LEN: usize = 2048;
const TAG_LEN: usize = 16;

/// One sign-in's secrets, made by the edge for one browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    pub state: String,
    pub nonce: String,
    /// PKCE `code_verifier` (RFC 7636), sent only to the token endpoint.
    pub verifier: String,
    /// A local path, checked before it was put here.
    pub return_to: String,
    pub exp: u64,
    /// The start's `max_age`: the provider was asked for a login at most
    /// this many seconds old, and the ID token's `auth_time` must show one.
    /// Absent in cookies of sign-ins started before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// Largest `max_age` a start takes: 400 days, the longest a session lives.
pub const MAX_MAX_AGE: u64 = 400 * 24 * 3600;

/// Reads a start's `max_age`: canonical decimal seconds (no sign, no
/// leading zero), at most [`MAX_MAX_AGE`].
pub fn parse_max_age(value: &str) -> Option<u64> {
    let canonical = !value.is_empty()
        && value.len() <= 10
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    canonical
        .then(|| value.parse().ok())
        .flatten()
        .filter(|&seconds| seconds <= MAX_MAX_AGE)
}

/// Why the callback's state was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// No state cookie: the callback did not come to the browser that started.
    Missing,
    /// Altered, expired, or not this edge's.
    Invalid,
    /// The `state` parameter is absent or not the cookie's.
    Mismatch,
}

impl StateError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "state_cookie_missing",
            Self::Invalid => "state_cookie_invalid",
            Self::Mismatch => "state_mismatch",
        }
    }
}

/// 32 random bytes, base64url: unguessable and specific to one sign-in.
fn random() -> Result<String, getrandom::Error> {
    let mut bytes = [0; 32];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl LoginState {
    /// Fresh secrets for a sign-in that returns to `return_to`, asking for
    /// a login at most `max_age` seconds old when there is one.
    pub fn new(
        return_to: String,
        max_age: Option<u64>,
        now: u64,
    ) -> Result<Self, getrandom::Error> {
        Ok(Self {
            state: random()?,
            nonce: random()?,
            verifier: random()?,
            return_to,
            exp: now + LIFETIME,
            max_age,
        })
    }

    /// The PKCE `code_challenge` (S256) of the verifier.
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// Whether `nonce` is this sign-in's, in constant time.
    pub fn nonce_matches(&self, nonce: &str) -> bool {
        self.nonce.as_bytes().ct_eq(nonce.as_bytes()).into()
    }
}

impl Oidc {
    /// `Set-Cookie` of the state: `SameSite=Lax` whatever the session
    /// cookie's, since the provider's redirect back is a cross-site
    /// navigation, and `Lax` cookies go with those.
    pub fn state_cookie(&self, state: &LoginState) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default());
        let tag = self.state_key.sign(&[payload.as_bytes()]);
        format!(
            "{COOKIE}={payload}.{}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={LIFETIME}",
            URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN])
        )
    }

    /// `Set-Cookie` that drops the state: a sign-in is answered once.
    pub fn clear_state_cookie(&self) -> String {
        format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
    }

    /// The sign-in a callback belongs to: the state cookie's, if it is
    /// intact, unexpired, and its `state` is the callback's.
    pub fn check_state(
        &self,
        cookie_header: Option<&str>,
        state: Option<&str>,
        now: u64,
    ) -> Result<LoginState, StateError> {
        let raw = match cookie_header.map(|h| crate::cookie::find(h, COOKIE)) {
            Some(crate::cookie::Presented::One(raw)) => raw,
            Some(crate::cookie::Presented::Many) => return Err(StateError::Invalid),
            _ => return Err(StateError::Missing),
        };
        if raw.len() > MAX_LEN {
            return Err(StateError::Invalid);
        }
        let (payload, tag) = raw.split_once('.').ok_or(StateError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StateError::Invalid)?;
        if tag.len() != TAG_LEN {
            return Err(StateError::Invalid);
        }
        self.state_key
            .verify_truncated(&[payload.as_bytes()], &tag)
            .map_err(|_| StateError::Invalid)?;
        let login: LoginState =
            crate::jwt::decode_part(payload).map_err(|_| StateError::Invalid)?;
        if now >= login.exp {
            return Err(StateError::Invalid);
        }
        let matches = state.is_some_and(|s| bool::from(s.as_bytes().ct_eq(login.state.as_bytes())));
        if !matches {
            return Err(StateError::Mismatch);
        }
        Ok(login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::HmacKey;
    use crate::token::{KeyRing, Kid};

    const NOW: u64 = 1_700_000_000;

    fn oidc(secret: u8) -> Oidc {
        let keys = KeyRing::new(vec![(
            Kid::parse("k1").unwrap(),
            HmacKey::new(&[secret; 32]),
        )])
        .unwrap();
        let vars = [
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_CLIENT_ID", "app"),
            ("OIDC_CLIENT_SECRET", "s"),
            ("OIDC_ALLOWED_DOMAINS", "*"),
        ];
        let get = |n: &str| {
            vars.iter()
                .find(|(v, _)| *v == n)
                .map(|(_, v)| v.to_string())
        };
        Oidc::from_lookup(get, Some(&keys)).unwrap().unwrap()
    }

    fn sent(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_owned()
    }

    #[test]
    fn a_state_comes_back_only_with_its_own_cookie_and_state() {
        let oidc = oidc(1);
        let login = LoginState::new("/dashboard".into(), None, NOW).unwrap();
        let cookie = sent(&oidc.state_cookie(&login));
        assert_eq!(
            oidc.check_state(Some(&cookie), Some(&login.state), NOW + 10),
            Ok(login.clone())
        );
        assert_eq!(
            oidc.check_state(None, Some(&login.state), NOW),
            Err(StateError::Missing)
        );
        assert_eq!(
            oidc.check_state(Some(&cookie), Some("other"), NOW),
            Err(StateError::Mismatch)
        );
        assert_eq!(
            oidc.check_state(Some(&cookie), None, NOW),
            Err(StateError::Mismatch)
        );
        assert_eq!(
            oidc.check_state(Some(&cookie), Some(&login.state), NOW + LIFETIME),
            Err(StateError::Invalid),
            "expired"
        );
        // Another browser's sign-in: its own cookie and state, not this one's.
        let other = LoginState::new("/".into(), None, NOW).unwrap();
        let theirs = sent(&oidc.state_cookie(&other));
        assert_eq!(
            oidc.check_state(Some(&theirs), Some(&login.state), NOW),
            Err(StateError::Mismatch)
        );
        // Another edge's (other session keys), or altered: invalid.
        let foreign = sent(&super::tests::oidc(2).state_cookie(&login));
        assert_eq!(
            oidc.check_state(Some(&foreign), Some(&login.state), NOW),
            Err(StateError::Invalid)
        );
        let altered = cookie.replacen('.', "A.", 1);
        assert_eq!(
            oidc.check_state(Some(&altered), Some(&login.state), NOW),
            Err(StateError::Invalid)
        );
    }

    #[test]
    fn max_age_rides_in_the_state_and_old_cookies_still_parse() {
        let oidc = oidc(1);
        let login = LoginState::new("/admin".into(), Some(300), NOW).unwrap();
        let cookie = sent(&oidc.state_cookie(&login));
        let back = oidc
            .check_state(Some(&cookie), Some(&login.state), NOW)
            .unwrap();
        assert_eq!(back.max_age, Some(300));
        // A cookie set before max_age was kept: the same JSON without it.
        let json =
            r#"{"state":"s1","nonce":"n1","verifier":"v1","return_to":"/","exp":1700000600}"#;
        let payload = URL_SAFE_NO_PAD.encode(json);
        let tag = oidc.state_key.sign(&[payload.as_bytes()]);
        let old = format!(
            "{COOKIE}={payload}.{}",
            URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN])
        );
        let back = oidc.check_state(Some(&old), Some("s1"), NOW).unwrap();
        assert_eq!((back.return_to.as_str(), back.max_age), ("/", None));
        // And a state without max_age is written in the old form.
        let plain = LoginState::new("/".into(), None, NOW).unwrap();
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("max_age"), "{json}");
    }

    #[test]
    fn max_age_is_canonical_decimal_seconds_within_400_days() {
        assert_eq!(parse_max_age("0"), Some(0));
        assert_eq!(parse_max_age("300"), Some(300));
        assert_eq!(parse_max_age("34560000"), Some(MAX_MAX_AGE));
        for bad in [
            "",
            "-1",
            "+5",
            "05",
            "1.5",
            "1e3",
            "5m",
            " 5",
            "34560001",
            "99999999999",
        ] {
            assert_eq!(parse_max_age(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn secrets_are_fresh_and_the_challenge_is_s256() {
        let (a, b) = (
            LoginState::new("/".into(), None, NOW).unwrap(),
            LoginState::new("/".into(), None, NOW).unwrap(),
        );
        assert_ne!(
            (a.state.clone(), a.nonce.clone(), a.verifier.clone()),
            (b.state.clone(), b.nonce.clone(), b.verifier.clone())
        );
        // RFC 7636 appendix B.
        let rfc = LoginState {
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            ..a
        };
        assert_eq!(
            rfc.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
