//! The provider's documents: its discovery metadata and its signing keys
//! (JWKS), read from JSON, checked, and kept in the isolate's memory for
//! at most [`MAX_AGE`] (the Cache API keeps them as long, per location).

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Deserialize;
use serde_json::Value;

use super::endpoint_url;

/// Longest a copy of either document is used before it is fetched again.
pub const MAX_AGE: u64 = 3600;
/// Least time between two fetches of the keys for a `kid` they lack: a
/// token naming a made-up `kid` must not make the edge hammer the provider.
pub const REFETCH_INTERVAL: u64 = 60;
/// Largest document read.
pub const MAX_DOCUMENT: usize = 64 * 1024;
/// How long a failed fetch of a document is remembered: until then it is
/// not asked for again, so an issuer that is down (or answers with what
/// cannot be used) is not asked once per forged token.
pub const FAILURE_MEMORY: u64 = 30;

/// What the edge needs of the discovery document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// RFC 9207: the provider names itself in the authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Why the issuer's documents cannot be used: the provider's trouble,
/// never the client's. [`ProviderError::as_str`] is the log's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderError {
    /// A discovery document that is not JSON of the fields needed, or names an endpoint that is not https.
    MetadataInvalid,
    /// A discovery document naming another issuer (ASVS 10.5.3).
    IssuerMismatch,
    /// A key set that is not a JSON object with `keys`.
    KeysInvalid,
    /// A document past the size read.
    DocumentTooLarge,
    /// A fetch that failed, or failed within the last moments.
    Unavailable,
    /// The gate asked for no document: a bug, not the provider's.
    Internal,
}

impl ProviderError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MetadataInvalid => "provider_metadata_invalid",
            Self::IssuerMismatch => "provider_issuer_mismatch",
            Self::KeysInvalid => "provider_keys_invalid",
            Self::DocumentTooLarge => "provider_document_too_large",
            Self::Unavailable => "provider_unavailable",
            Self::Internal => "internal",
        }
    }
}

impl Metadata {
    /// Reads a discovery document, which must name exactly `issuer`
    /// (ASVS 10.5.3: no provider impersonates another) and https endpoints.
    pub fn parse(json: &str, issuer: &str) -> Result<Self, ProviderError> {
        let metadata: Self =
            serde_json::from_str(json).map_err(|_| ProviderError::MetadataInvalid)?;
        if metadata.issuer != issuer {
            return Err(ProviderError::IssuerMismatch);
        }
        let endpoints = [
            Some(&metadata.authorization_endpoint),
            Some(&metadata.token_endpoint),
            Some(&metadata.jwks_uri),
            metadata.userinfo_endpoint.as_ref(),
            metadata.end_session_endpoint.as_ref(),
        ];
        if endpoints
            .into_iter()
            .flatten()
            .any(|url| endpoint_url(url).is_err())
        {
            return Err(ProviderError::MetadataInvalid);
        }
        Ok(metadata)
    }
}

/// One signing key of the provider, as WebCrypto imports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kid: Option<String>,
    /// `RS256` or `ES256`: what the key is for, from its type.
    pub alg: &'static str,
    /// The public JWK's JSON, for the verifying step.
    pub jwk: String,
}

/// The provider's signing keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jwks {
    pub keys: Vec<Key>,
}

impl Jwks {
    /// Reads a JWKS, keeping the RSA and P-256 keys meant for signatures;
    /// a private part is never kept (nor should a provider publish one).
    pub fn parse(json: &str) -> Result<Self, ProviderError> {
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<Value>,
        }
        let set: Set = serde_json::from_str(json).map_err(|_| ProviderError::KeysInvalid)?;
        let keys = set
            .keys
            .into_iter()
            .filter_map(|key| {
                let text = |name: &str| key.get(name).and_then(Value::as_str);
                if text("use").is_some_and(|u| u != "sig") {
                    return None;
                }
                let (alg, public) = match (text("kty")?, text("crv")) {
                    ("RSA", _) => ("RS256", serde_json::json!({ "kty": "RSA", "n": text("n")?, "e": text("e")? })),
                    ("EC", Some("P-256")) => (
                        "ES256",
                        serde_json::json!({ "kty": "EC", "crv": "P-256", "x": text("x")?, "y": text("y")? }),
                    ),
                    _ => return None,
                };
                // A key pinned to another algorithm is not this one's.
                if text("alg").is_some_and(|a| a != alg) {
                    return None;
                }
                Some(Key {
                    kid: text("kid").map(str::to_owned),
                    alg,
                    jwk: public.to_string(),
                })
            })
            .collect();
        Ok(Self { keys })
    }

    /// The key a token's header names: by `kid`, and for its `alg`; without
    /// a `kid`, the one key for that `alg`.
    pub fn find(&self, kid: Option<&str>, alg: &str) -> Option<&Key> {
        let mut candidates = self
            .keys
            .iter()
            .filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid));
        let first = candidates.next()?;
        (kid.is_some() || candidates.next().is_none()).then_some(first)
    }
}

/// A document with the time it was fetched.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub value: Arc<T>,
    pub at: u64,
}

impl<T> Fetched<T> {
    pub fn is_fresh(&self, now: u64) -> bool {
        now.saturating_sub(self.at) < MAX_AGE
    }
}

/// The isolate's copies of the providers' documents, each under the URL
/// it came from: the sign-in provider's and the bearer tokens' issuer
/// (DESIGN §15) share one copy when they are the same. The URLs come from
/// the configuration and the discovery documents, never from a request,
/// so the copies stay few.
#[derive(Debug, Default)]
pub struct ProviderCache {
    inner: Mutex<Copies>,
}

#[derive(Debug, Default)]
struct Copies {
    metadata: Vec<(String, Fetched<Metadata>)>,
    jwks: Vec<(String, Fetched<Jwks>)>,
    /// When each key set was last fetched for a `kid` it lacked.
    refetched_at: Vec<(String, u64)>,
    /// When a fetch of each document last failed.
    failed_at: Vec<(String, u64)>,
}

/// The value kept under `url`, if any.
fn under<'a, T>(entries: &'a mut [(String, T)], url: &str) -> Option<&'a mut T> {
    entries.iter_mut().find(|(u, _)| u == url).map(|(_, v)| v)
}

/// Keeps `value` under `url`, replacing what was there.
fn keep<T>(entries: &mut Vec<(String, T)>, url: &str, value: T) {
    match under(entries, url) {
        Some(slot) => *slot = value,
        None => entries.push((url.to_owned(), value)),
    }
}

impl ProviderCache {
    /// The discovery document from `url`, if a fresh copy is kept.
    pub fn metadata(&self, url: &str, now: u64) -> Option<Arc<Metadata>> {
        let mut copies = self.lock();
        let fetched = under(&mut copies.metadata, url).filter(|m| m.is_fresh(now))?;
        Some(fetched.value.clone())
    }

    /// The key set from `url`, if a fresh copy is kept.
    pub fn jwks(&self, url: &str, now: u64) -> Option<Arc<Jwks>> {
        let mut copies = self.lock();
        let fetched = under(&mut copies.jwks, url).filter(|j| j.is_fresh(now))?;
        Some(fetched.value.clone())
    }

    pub fn keep_metadata(&self, url: &str, fetched: Fetched<Metadata>) {
        keep(&mut self.lock().metadata, url, fetched);
    }

    pub fn keep_jwks(&self, url: &str, fetched: Fetched<Jwks>) {
        keep(&mut self.lock().jwks, url, fetched);
    }

    /// Whether the keys at `url` may be fetched again for an unknown `kid`
    /// now; if so, the fetch is counted.
    pub fn may_refetch(&self, url: &str, now: u64) -> bool {
        let mut copies = self.lock();
        let last = under(&mut copies.refetched_at, url).copied();
        let allowed = last.is_none_or(|at| now.saturating_sub(at) >= REFETCH_INTERVAL);
        if allowed {
            keep(&mut copies.refetched_at, url, now);
        }
        allowed
    }

    /// Remembers that fetching `url` failed at `now`.
    pub fn remember_failure(&self, url: &str, now: u64) {
        keep(&mut self.lock().failed_at, url, now);
    }

    /// Whether fetching `url` failed within [`FAILURE_MEMORY`] of `now`.
    pub fn failed_recently(&self, url: &str, now: u64) -> bool {
        let mut copies = self.lock();
        under(&mut copies.failed_at, url).is_some_and(|at| now.saturating_sub(*at) < FAILURE_MEMORY)
    }

    fn lock(&self) -> MutexGuard<'_, Copies> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://id.example.com";

    fn discovery(overrides: Value) -> String {
        let mut doc = json!({
            "issuer": ISSUER,
            "authorization_endpoint": "https://id.example.com/auth",
            "token_endpoint": "https://id.example.com/token",
            "jwks_uri": "https://id.example.com/jwks",
            "userinfo_endpoint": "https://id.example.com/me",
        });
        doc.as_object_mut()
            .unwrap()
            .extend(overrides.as_object().unwrap().clone());
        doc.to_string()
    }

    #[test]
    fn metadata_must_name_the_configured_issuer_and_https_endpoints() {
        let metadata = Metadata::parse(&discovery(json!({})), ISSUER).unwrap();
        assert_eq!(metadata.token_endpoint, "https://id.example.com/token");
        assert_eq!(metadata.end_session_endpoint, None);
        assert_eq!(
            Metadata::parse(
                &discovery(json!({ "issuer": "https://evil.example" })),
                ISSUER
            ),
            Err(ProviderError::IssuerMismatch)
        );
        assert_eq!(
            Metadata::parse(
                &discovery(json!({ "issuer": "https://id.example.com/" })),
                ISSUER
            ),
            Err(ProviderError::IssuerMismatch),
            "exactly, not up to a slash"
        );
        assert_eq!(
            Metadata::parse(
                &discovery(json!({ "token_endpoint": "http://id.example.com/token" })),
                ISSUER
            ),
            Err(ProviderError::MetadataInvalid)
        );
        for nonsense in ["", "<html>", "[]", "{}", "null"] {
            assert_eq!(
                Metadata::parse(nonsense, ISSUER),
                Err(ProviderError::MetadataInvalid)
            );
        }
    }

    #[test]
    fn keys_are_kept_for_signatures_by_type_and_found_by_kid() {
        let jwks = Jwks::parse(
            &json!({ "keys": [
                { "kty": "RSA", "kid": "r1", "n": "AQAB", "e": "AQAB", "use": "sig" },
                { "kty": "EC", "crv": "P-256", "kid": "e1", "x": "eA", "y": "eQ", "d": "secret" },
                { "kty": "RSA", "kid": "enc", "n": "AQAB", "e": "AQAB", "use": "enc" },
                { "kty": "EC", "crv": "P-384", "kid": "e384", "x": "eA", "y": "eQ" },
                { "kty": "RSA", "kid": "pinned", "n": "AQAB", "e": "AQAB", "alg": "PS256" },
                { "kty": "oct", "kid": "sym", "k": "c2VjcmV0" },
            ]})
            .to_string(),
        )
        .unwrap();
        let kids: Vec<_> = jwks
            .keys
            .iter()
            .map(|k| k.kid.as_deref().unwrap())
            .collect();
        assert_eq!(kids, ["r1", "e1"]);
        assert!(
            !jwks.keys[1].jwk.contains("secret"),
            "no private part is kept"
        );
        assert_eq!(jwks.find(Some("r1"), "RS256").unwrap().alg, "RS256");
        assert!(
            jwks.find(Some("r1"), "ES256").is_none(),
            "a key is used only for its own algorithm"
        );
        assert!(jwks.find(Some("nope"), "RS256").is_none());
        assert_eq!(jwks.find(None, "ES256").unwrap().kid.as_deref(), Some("e1"));
        assert!(Jwks::parse("{\"keys\":7}").is_err());
    }

    #[test]
    fn copies_age_out_and_refetches_are_rate_limited_per_url() {
        const KEYS: &str = "https://id.example.com/jwks";
        const OTHER: &str = "https://other.example.com/jwks";
        let cache = ProviderCache::default();
        cache.keep_jwks(
            KEYS,
            Fetched {
                value: Arc::new(Jwks::default()),
                at: 1000,
            },
        );
        assert!(cache.jwks(KEYS, 1000 + MAX_AGE - 1).is_some());
        assert!(cache.jwks(KEYS, 1000 + MAX_AGE).is_none());
        assert!(
            cache.jwks(OTHER, 1000).is_none(),
            "each URL has its own copy"
        );
        assert!(cache.may_refetch(KEYS, 1000));
        assert!(!cache.may_refetch(KEYS, 1000 + REFETCH_INTERVAL - 1));
        assert!(
            cache.may_refetch(OTHER, 1000 + 1),
            "each issuer has its own limit"
        );
        assert!(cache.may_refetch(KEYS, 1000 + REFETCH_INTERVAL));
    }
}
