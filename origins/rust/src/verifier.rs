//! [`Verifier`]: an assertion checked against the key it must be signed
//! with, then against the request it arrived on.
//!
//! The key decides the algorithm, never the token: the shared secret takes
//! HS256 only, a public key only the algorithm its type fixes. The
//! signature is checked before any claim is read; then the claims, by the
//! same [`AssertionClaims::check`] the edge's own tests use.

use std::fmt;
use std::sync::Arc;

use sessiongate_core::assertion::{AssertionClaims, Expected};
use sessiongate_core::key::{HmacKey, MIN_SECRET_LEN};

use crate::jws::Jws;
use crate::key_set::{KeySet, KeySetError};
#[cfg(feature = "jwks-url")]
use crate::key_set_url::{KeySetUrl, KeySetUrlError};
use crate::{unix_now, Identity, VerifyError, DEFAULT_LEEWAY};

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

/// Checks assertions for one audience under one source of keys. Clones
/// share a fetched key set.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Keys,
    audience: String,
    leeway: u64,
}

/// Where the keys come from.
#[derive(Debug, Clone)]
enum Keys {
    /// `ASSERTION_KEY`, shared with the edge: HS256.
    Shared(HmacKey),
    /// A key set given once: ES256 and EdDSA.
    Pinned(Arc<KeySet>),
    /// The edge's key set, fetched and kept fresh: ES256 and EdDSA.
    #[cfg(feature = "jwks-url")]
    Url(Arc<KeySetUrl>),
}

impl Verifier {
    /// `assertion_key` is the edge's `ASSERTION_KEY`; `audience` its
    /// `AUDIENCE`. Assertions must be HS256.
    pub fn new(assertion_key: &str, audience: impl Into<String>) -> Result<Self, WeakKey> {
        if assertion_key.chars().count() < MIN_SECRET_LEN {
            return Err(WeakKey);
        }
        Ok(Self::with_keys(
            Keys::Shared(HmacKey::new(assertion_key.as_bytes())),
            audience,
        ))
    }

    /// `jwks_json` is the edge's key set, as `/.sessiongate/jwks.json`
    /// serves it, pinned: assertions must be ES256 or EdDSA, signed by the
    /// key their `kid` names. A key added at the edge is unknown here until
    /// you give a new set; see `with_key_set_url` (feature `jwks-url`) to
    /// follow the edge's.
    pub fn with_key_set(jwks_json: &str, audience: impl Into<String>) -> Result<Self, KeySetError> {
        let keys = KeySet::from_json(jwks_json.as_bytes())?;
        Ok(Self::with_keys(Keys::Pinned(Arc::new(keys)), audience))
    }

    /// `url` is the edge's `https://<edge>/.sessiongate/jwks.json` (plain
    /// `http:` only on this machine): assertions must be ES256 or EdDSA,
    /// signed by the key their `kid` names in the set fetched from there.
    ///
    /// Nothing is fetched until an assertion needs it, by
    /// [`verify_async`](Self::verify_async) or the tower layer. A set is
    /// used for 300 seconds; a `kid` it lacks fetches it again, at most
    /// once every 30 seconds. [`verify`](Self::verify) never fetches, and
    /// answers [`VerifyError::KeySetUnavailable`] while nothing fresh was.
    #[cfg(feature = "jwks-url")]
    pub fn with_key_set_url(
        url: &str,
        audience: impl Into<String>,
    ) -> Result<Self, KeySetUrlError> {
        let keys = KeySetUrl::new(url)?;
        Ok(Self::with_keys(Keys::Url(Arc::new(keys)), audience))
    }

    fn with_keys(keys: Keys, audience: impl Into<String>) -> Self {
        Self {
            keys,
            audience: audience.into(),
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Seconds of clock skew tolerated; [`DEFAULT_LEEWAY`] unless set.
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Verifies `assertion` for a request with this method and path (with
    /// its query, exactly as received) at Unix time `now`: the algorithm
    /// the key takes, the signature (HS256 in constant time), then `iss`,
    /// `aud`, `exp`, `iat`, the lifetime, `htm` and `htu`.
    ///
    /// Never waits for the network: with a key set URL, it verifies with
    /// the set already fetched, if fresh.
    pub fn verify(
        &self,
        assertion: &str,
        method: &str,
        path_and_query: &str,
        now: u64,
    ) -> Result<Identity, VerifyError> {
        let jws = Jws::read(assertion)?;
        let claims = match &self.keys {
            Keys::Shared(key) => jws.verify_hs256(key)?,
            Keys::Pinned(keys) => verify_signed(keys, jws)?,
            #[cfg(feature = "jwks-url")]
            Keys::Url(url) => {
                let keys = url.cached(jws.public_key_id()?, now)?;
                verify_signed(&keys, jws)?
            }
        };
        self.check(claims, method, path_and_query, now)
    }

    /// [`verify`](Self::verify) at the current system time.
    pub fn verify_now(
        &self,
        assertion: &str,
        method: &str,
        path_and_query: &str,
    ) -> Result<Identity, VerifyError> {
        self.verify(assertion, method, path_and_query, unix_now())
    }

    /// [`verify`](Self::verify), fetching the key set first when a key set
    /// URL's copy is missing, expired, or lacks the assertion's `kid`. For
    /// other sources, the same as `verify`.
    ///
    /// `now` also times the copy (its 300 seconds, the 30 between fetches
    /// for unknown kids): pass the current time, as
    /// [`verify_async_now`](Self::verify_async_now) does.
    pub async fn verify_async(
        &self,
        assertion: &str,
        method: &str,
        path_and_query: &str,
        now: u64,
    ) -> Result<Identity, VerifyError> {
        #[cfg(feature = "jwks-url")]
        if let Keys::Url(url) = &self.keys {
            let jws = Jws::read(assertion)?;
            let keys = url.get(jws.public_key_id()?, now).await?;
            return self.check(verify_signed(&keys, jws)?, method, path_and_query, now);
        }
        self.verify(assertion, method, path_and_query, now)
    }

    /// [`verify_async`](Self::verify_async) at the current system time.
    pub async fn verify_async_now(
        &self,
        assertion: &str,
        method: &str,
        path_and_query: &str,
    ) -> Result<Identity, VerifyError> {
        self.verify_async(assertion, method, path_and_query, unix_now())
            .await
    }

    /// Whether [`verify_async`](Self::verify_async) would fetch the key set
    /// for `assertion` at `now`: the tower layer's cue to wait for it.
    #[cfg(feature = "tower")]
    #[cfg_attr(not(feature = "jwks-url"), allow(unused_variables))]
    pub(crate) fn fetches_first(&self, assertion: &str, now: u64) -> bool {
        match &self.keys {
            Keys::Shared(_) | Keys::Pinned(_) => false,
            #[cfg(feature = "jwks-url")]
            Keys::Url(url) => Jws::read(assertion)
                .and_then(|jws| Ok(url.next(jws.public_key_id()?, now)))
                .is_ok_and(|next| matches!(next, crate::key_set_url::cache::Next::Fetch)),
        }
    }

    /// The claims of a verified signature, checked against the request.
    fn check(
        &self,
        claims: AssertionClaims,
        method: &str,
        path_and_query: &str,
        now: u64,
    ) -> Result<Identity, VerifyError> {
        let expected = Expected {
            audience: &self.audience,
            method,
            path_and_query,
            now,
            leeway: self.leeway,
        };
        Ok(claims.check(&expected)?.into())
    }
}

/// The claims of `jws` if the key its `kid` names signed it.
fn verify_signed(keys: &KeySet, jws: Jws<'_>) -> Result<AssertionClaims, VerifyError> {
    let key = keys
        .get(jws.public_key_id()?)
        .ok_or(VerifyError::UnknownKid)?;
    jws.verify_with(key)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::json;
    use sessiongate_core::assertion::{Kind, LIFETIME};

    use super::*;
    use crate::testing::{claims, key_set, TestKey};
    use crate::{test_assertion, AssertionError, JwtError};

    const KEY: &str = "assertion-key-of-at-least-32-chars";
    const NOW: u64 = 1_700_000_000;

    fn verifier() -> Verifier {
        Verifier::new(KEY, "app").unwrap()
    }

    fn bad_signature() -> Result<Identity, VerifyError> {
        Err(JwtError::BadSignature.into())
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
            Err(AssertionError::WrongMethod.into())
        );
        assert_eq!(
            v.verify(&assertion, "GET", "/a?x", NOW),
            Err(AssertionError::WrongPath.into())
        );
        assert_eq!(
            v.verify(&assertion, "GET", "/a", NOW + 65),
            Err(AssertionError::Expired.into())
        );
        assert!(
            v.verify(&assertion, "GET", "/a", NOW + 64).is_ok(),
            "within the leeway"
        );
        assert_eq!(
            v.clone()
                .leeway(0)
                .verify(&assertion, "GET", "/a", NOW + 60),
            Err(AssertionError::Expired.into())
        );
        let other = Verifier::new(KEY, "other-app").unwrap();
        assert_eq!(
            other.verify(&assertion, "GET", "/a", NOW),
            Err(AssertionError::WrongAudience.into())
        );
        let wrong_key = Verifier::new("another-key-of-at-least-32-chars!!", "app").unwrap();
        assert_eq!(
            wrong_key.verify(&assertion, "GET", "/a", NOW),
            bad_signature()
        );
    }

    #[test]
    fn refuses_short_keys() {
        assert_eq!(Verifier::new("short", "app").unwrap_err(), WeakKey);
    }

    #[test]
    fn the_identity_carries_email_groups_and_auth_time() {
        let key = HmacKey::new(KEY.as_bytes());
        let assertion = AssertionClaims {
            auth_time: NOW - 900,
            email: Some("alice@example.com".to_owned()),
            groups: vec!["admins".to_owned(), "staff".to_owned()],
            ..claims("app", "alice", "GET", "/admin", NOW)
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
            sid: "0123456789abcdef".to_owned(),
            auth_time: NOW - 30,
            kind: Kind::Bearer,
            client_id: Some("ci-bot".to_owned()),
            scope: Some("deploy:write read".to_owned()),
            ..claims("app", "ci-bot", "POST", "/api/deploy", NOW)
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

    fn edge_keys() -> (TestKey, TestKey) {
        (TestKey::es256("ec1", 1), TestKey::ed_dsa("ed1", 2))
    }

    fn pinned() -> Verifier {
        let (ec, ed) = edge_keys();
        Verifier::with_key_set(&key_set(&[&ec, &ed]), "app").unwrap()
    }

    #[test]
    fn a_pinned_key_set_verifies_es256_and_eddsa_by_kid() {
        let (ec, ed) = edge_keys();
        for key in [&ec, &ed] {
            let assertion = key.assertion("app", "alice", "GET", "/a?b=1", NOW);
            let identity = pinned().verify(&assertion, "GET", "/a?b=1", NOW + 10);
            assert_eq!(
                identity.map(|i| i.sub).as_deref(),
                Ok("alice"),
                "{}",
                key.alg()
            );
        }
    }

    #[test]
    fn a_signature_by_any_other_key_is_refused() {
        let impostors = [TestKey::es256("ec1", 3), TestKey::ed_dsa("ed1", 4)];
        for impostor in &impostors {
            let assertion = impostor.assertion("app", "mallory", "GET", "/", NOW);
            assert_eq!(
                pinned().verify(&assertion, "GET", "/", NOW),
                bad_signature()
            );
        }
        // The edge's key, another payload.
        let (ec, _) = edge_keys();
        let genuine = ec.assertion("app", "alice", "GET", "/", NOW);
        let forged = impostors[0].assertion("app", "mallory", "GET", "/", NOW);
        let mut parts: Vec<&str> = genuine.split('.').collect();
        parts[1] = forged.split('.').nth(1).unwrap();
        assert_eq!(
            pinned().verify(&parts.join("."), "GET", "/", NOW),
            bad_signature()
        );
    }

    #[test]
    fn the_key_not_the_token_decides_the_algorithm() {
        let (ec, ed) = edge_keys();
        let payload = serde_json::to_value(claims("app", "mallory", "GET", "/", NOW)).unwrap();
        let hs256_under = |secret: &[u8], kid: &str| {
            let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(payload.to_string())
            );
            let tag = HmacKey::new(secret).sign(&[input.as_bytes()]);
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
        };
        // HS256 keyed with what an attacker knows of the public keys.
        let ec_x = URL_SAFE_NO_PAD
            .decode(ec.jwk()["x"].as_str().unwrap())
            .unwrap();
        let ed_x = URL_SAFE_NO_PAD
            .decode(ed.jwk()["x"].as_str().unwrap())
            .unwrap();
        let refused = [
            hs256_under(&ec_x, "ec1"),
            hs256_under(&ed_x, "ed1"),
            hs256_under(ec.jwk().to_string().as_bytes(), "ec1"),
            hs256_under(key_set(&[&ec, &ed]).as_bytes(), "ec1"),
            // none, unsigned and signed.
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"ec1"}"#),
                URL_SAFE_NO_PAD.encode(payload.to_string())
            ),
            ec.sign_jws(&json!({ "alg": "none", "kid": "ec1" }), &payload),
            // ES256 named for the Ed25519 key, and EdDSA for the P-256 one.
            ec.sign_jws(&json!({ "alg": "ES256", "kid": "ed1" }), &payload),
            ed.sign_jws(&json!({ "alg": "EdDSA", "kid": "ec1" }), &payload),
            // A critical extension, however well signed.
            ec.sign_jws(
                &json!({ "alg": "ES256", "kid": "ec1", "crit": ["exp"], "exp": 1 }),
                &payload,
            ),
        ];
        for token in &refused {
            assert_eq!(
                pinned().verify(token, "GET", "/", NOW),
                Err(VerifyError::AlgorithmNotAllowed),
                "{token}"
            );
        }
        // And the shared secret takes HS256 only.
        for key in [&ec, &ed] {
            let assertion = key.assertion("app", "alice", "GET", "/", NOW);
            assert_eq!(
                verifier().verify(&assertion, "GET", "/", NOW),
                Err(VerifyError::AlgorithmNotAllowed)
            );
        }
        let hs256 = test_assertion(KEY, "app", "alice", "GET", "/", NOW);
        assert_eq!(
            pinned().verify(&hs256, "GET", "/", NOW),
            Err(VerifyError::AlgorithmNotAllowed)
        );
    }

    #[test]
    fn a_kid_the_set_lacks_or_none_at_all_is_unknown() {
        let stranger = TestKey::es256("ec2", 1);
        let assertion = stranger.assertion("app", "alice", "GET", "/", NOW);
        assert_eq!(
            pinned().verify(&assertion, "GET", "/", NOW),
            Err(VerifyError::UnknownKid)
        );
        let (ec, _) = edge_keys();
        let payload = serde_json::to_value(claims("app", "alice", "GET", "/", NOW)).unwrap();
        let without_kid = ec.sign_jws(&json!({ "alg": "ES256", "typ": "JWT" }), &payload);
        assert_eq!(
            pinned().verify(&without_kid, "GET", "/", NOW),
            Err(VerifyError::UnknownKid)
        );
    }

    #[test]
    fn a_public_key_assertion_is_bound_to_its_audience_request_and_time() {
        let (ec, ed) = edge_keys();
        for key in [&ec, &ed] {
            let assertion = key.assertion("app", "alice", "GET", "/a", NOW);
            let verify = |method, path, now| pinned().verify(&assertion, method, path, now);
            assert_eq!(
                verify("POST", "/a", NOW),
                Err(AssertionError::WrongMethod.into())
            );
            assert_eq!(
                verify("GET", "/b", NOW),
                Err(AssertionError::WrongPath.into())
            );
            assert_eq!(
                verify("GET", "/a?x=1", NOW),
                Err(AssertionError::WrongPath.into())
            );
            assert_eq!(
                verify("GET", "/a", NOW + LIFETIME + DEFAULT_LEEWAY),
                Err(AssertionError::Expired.into())
            );
            assert!(verify("GET", "/a", NOW + LIFETIME + DEFAULT_LEEWAY - 1).is_ok());
            assert_eq!(
                verify("GET", "/a", NOW - DEFAULT_LEEWAY - 1),
                Err(AssertionError::IssuedInFuture.into())
            );
            assert!(verify("GET", "/a", NOW - DEFAULT_LEEWAY).is_ok());
            let elsewhere = Verifier::with_key_set(&key_set(&[&ec, &ed]), "other-app").unwrap();
            assert_eq!(
                elsewhere.verify(&assertion, "GET", "/a", NOW),
                Err(AssertionError::WrongAudience.into())
            );
            let long = key.sign(&AssertionClaims {
                exp: NOW + LIFETIME + 1,
                ..claims("app", "alice", "GET", "/a", NOW)
            });
            assert_eq!(
                pinned().verify(&long, "GET", "/a", NOW),
                Err(AssertionError::TooLong.into())
            );
            let foreign = key.sign(&AssertionClaims {
                iss: "someone".to_owned(),
                ..claims("app", "alice", "GET", "/a", NOW)
            });
            assert_eq!(
                pinned().verify(&foreign, "GET", "/a", NOW),
                Err(AssertionError::WrongIssuer.into())
            );
        }
    }

    #[test]
    fn claims_are_read_only_once_the_signature_verifies() {
        let (ec, _) = edge_keys();
        let not_claims = ec.sign_jws(
            &json!({ "alg": "ES256", "typ": "JWT", "kid": "ec1" }),
            &json!({ "sub": 5 }),
        );
        assert_eq!(
            pinned().verify(&not_claims, "GET", "/", NOW),
            Err(JwtError::BadClaims.into())
        );
        // The same garbage under a bad signature is a bad signature.
        let (head, _) = not_claims.rsplit_once('.').unwrap();
        let unsigned = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 64]));
        assert_eq!(pinned().verify(&unsigned, "GET", "/", NOW), bad_signature());
        let short = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 63]));
        assert_eq!(pinned().verify(&short, "GET", "/", NOW), bad_signature());
    }

    #[test]
    fn refusals_never_repeat_the_token() {
        let (ec, _) = edge_keys();
        let assertion = ec.assertion("app", "alice", "GET", "/a", NOW);
        let hs256 = test_assertion(KEY, "app", "alice", "GET", "/a", NOW);
        let refusals = [
            pinned().verify(&assertion, "POST", "/a", NOW),
            pinned().verify(&assertion, "GET", "/a", NOW + 3600),
            pinned().verify(&hs256, "GET", "/a", NOW),
            verifier().verify(&assertion, "GET", "/a", NOW),
            Verifier::with_key_set(&key_set(&[&TestKey::es256("ec1", 9)]), "app")
                .unwrap()
                .verify(&assertion, "GET", "/a", NOW),
        ];
        for refusal in refusals {
            let message = refusal.unwrap_err().to_string();
            for part in assertion.split('.').chain(hs256.split('.')) {
                assert!(!message.contains(part), "{message}");
            }
            assert!(!message.contains("alice"), "{message}");
        }
    }

    #[test]
    fn a_key_set_that_cannot_be_used_is_refused_at_once() {
        assert_eq!(
            Verifier::with_key_set(r#"{"keys":[]}"#, "app").unwrap_err(),
            KeySetError::NoUsableKey
        );
        assert_eq!(
            Verifier::with_key_set("not json", "app").unwrap_err(),
            KeySetError::Malformed
        );
    }

    #[tokio::test]
    async fn verify_async_is_verify_for_keys_given_up_front() {
        let (ec, _) = edge_keys();
        let assertion = ec.assertion("app", "alice", "GET", "/", NOW);
        assert_eq!(
            pinned().verify_async(&assertion, "GET", "/", NOW).await,
            pinned().verify(&assertion, "GET", "/", NOW)
        );
        assert!(pinned()
            .verify_async(&assertion, "POST", "/", NOW)
            .await
            .is_err());
        let hs256 = test_assertion(KEY, "app", "alice", "GET", "/", NOW);
        assert!(verifier()
            .verify_async(&hs256, "GET", "/", NOW)
            .await
            .is_ok());
    }
}
