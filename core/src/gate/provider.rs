//! An issuer's documents for one exchange (DESIGN §12, §15): its
//! discovery document, then its keys, each from the isolate's memory, else
//! this location's Cache API, else the issuer; and the key a token names,
//! with one rate-limited refetch for a `kid` the keys lack. OpenID sign-in
//! and bearer tokens both go through here; each step is an [`Op`] the
//! caller waits on.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Op, Outcome};
use crate::oidc::metadata::{
    Fetched, Jwks, Key, Metadata, ProviderCache, ProviderError, FAILURE_MEMORY, MAX_AGE,
    MAX_DOCUMENT,
};
use crate::oidc::{self, token::Jwt};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Doc {
    Metadata,
    Jwks,
}

/// Where the awaited document is asked for.
#[derive(Debug, Clone, Copy)]
enum Source {
    Cache,
    Issuer,
}

/// Why the issuer's documents could not be had: the issuer's trouble, not
/// the client's. `detail` is for the log.
#[derive(Debug)]
pub(super) struct Unavailable {
    pub reason: ProviderError,
    pub detail: Option<String>,
}

/// What [`Documents::key`] found.
pub(super) enum KeyLookup {
    Found(Key),
    /// The keys lack the token's `kid`: fetch them once more.
    Refetch(Op),
    /// Still lacking after the refetch, or one was made too recently.
    Unknown,
}

/// The documents one exchange has, and the one it waits for.
#[derive(Debug, Default)]
pub(super) struct Documents {
    pub metadata: Option<Arc<Metadata>>,
    pub jwks: Option<Arc<Jwks>>,
    /// The keys came from the issuer in this exchange: no refetch for an
    /// unknown `kid`.
    jwks_fetched: bool,
    waiting: Option<(Source, Doc)>,
}

/// A document as this location's Cache API keeps it.
#[derive(Serialize, Deserialize)]
struct CachedDoc {
    at: u64,
    body: String,
}

impl Documents {
    /// Whether a step for a document is awaited.
    pub fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// `doc`, from the isolate's memory when it has a fresh copy (`None`:
    /// it is here now); else the Cache API read to wait on. A document
    /// whose fetch failed within [`FAILURE_MEMORY`] is unavailable at once.
    pub fn need(
        &mut self,
        issuer: &str,
        cache: Option<&ProviderCache>,
        doc: Doc,
        now: u64,
    ) -> Result<Option<Op>, Unavailable> {
        let url = self.url(issuer, doc);
        if let Some(cache) = cache {
            let kept = match doc {
                Doc::Metadata => cache.metadata(&url, now).map(|m| self.metadata = Some(m)),
                Doc::Jwks => cache.jwks(&url, now).map(|j| self.jwks = Some(j)),
            };
            if kept.is_some() {
                return Ok(None);
            }
        }
        check_not_failed(cache, &url, now)?;
        self.waiting = Some((Source::Cache, doc));
        Ok(Some(Op::CacheRead {
            key: cache_key(&url),
        }))
    }

    /// Reads the outcome of the step [`need`](Self::need) (or this) asked
    /// for: `Ok(None)` when the document is here now; `Ok(Some(op))` for
    /// the next step (the issuer, when the Cache API had no fresh copy).
    /// A document fetched is kept in memory and, by `background`, in the
    /// Cache API.
    pub fn take(
        &mut self,
        issuer: &str,
        cache: Option<&ProviderCache>,
        outcome: Option<Outcome>,
        now: u64,
        background: &mut Vec<Op>,
    ) -> Result<Option<Op>, Unavailable> {
        let Some((source, doc)) = self.waiting.take() else {
            return Err(Unavailable {
                reason: ProviderError::Internal,
                detail: Some("no document was awaited".to_owned()),
            });
        };
        let url = self.url(issuer, doc);
        match (source, outcome) {
            (Source::Cache, Some(Outcome::Value(Some(text)))) => {
                let cached = serde_json::from_str::<CachedDoc>(&text)
                    .ok()
                    .filter(|c| now.saturating_sub(c.at) < MAX_AGE);
                match cached.map(|c| self.keep(issuer, cache, doc, &url, &c.body, c.at)) {
                    Some(Ok(())) => Ok(None),
                    // Missing, stale or unreadable: ask the issuer, unless
                    // it failed meanwhile.
                    _ => {
                        check_not_failed(cache, &url, now)?;
                        Ok(Some(self.fetch(url, doc)))
                    }
                }
            }
            (Source::Cache, _) => {
                check_not_failed(cache, &url, now)?;
                Ok(Some(self.fetch(url, doc)))
            }
            (Source::Issuer, Some(Outcome::Response { status: 200, body })) => {
                self.jwks_fetched |= doc == Doc::Jwks;
                self.keep(issuer, cache, doc, &url, &body, now)
                    .inspect_err(|_| remember_failure(cache, &url, now))?;
                let value = serde_json::to_string(&CachedDoc { at: now, body }).unwrap_or_default();
                background.push(Op::CacheWrite {
                    key: cache_key(&url),
                    value,
                    ttl: MAX_AGE,
                });
                Ok(None)
            }
            (Source::Issuer, other) => {
                remember_failure(cache, &url, now);
                Err(Unavailable {
                    reason: ProviderError::Unavailable,
                    detail: describe(other),
                })
            }
        }
    }

    /// The key `token`'s header names, for its `alg`; once per exchange,
    /// and at most once a minute per isolate, the keys are fetched again
    /// for a `kid` they lack (the issuer may have rotated).
    pub fn key(&mut self, cache: Option<&ProviderCache>, token: &Jwt, now: u64) -> KeyLookup {
        let Some(jwks) = &self.jwks else {
            return KeyLookup::Unknown;
        };
        if let Some(key) = jwks.find(token.kid.as_deref(), token.alg) {
            return KeyLookup::Found(key.clone());
        }
        let Some(url) = self.metadata.as_ref().map(|m| m.jwks_uri.clone()) else {
            return KeyLookup::Unknown;
        };
        if !self.jwks_fetched && cache.is_none_or(|c| c.may_refetch(&url, now)) {
            return KeyLookup::Refetch(self.fetch(url, Doc::Jwks));
        }
        KeyLookup::Unknown
    }

    fn fetch(&mut self, url: String, doc: Doc) -> Op {
        self.waiting = Some((Source::Issuer, doc));
        Op::Fetch {
            url,
            method: "GET".to_owned(),
            headers: vec![("accept".to_owned(), "application/json".to_owned())],
            body: None,
            // The same public document for every request: concurrent
            // fetches of it are one.
            shared: true,
        }
    }

    fn url(&self, issuer: &str, doc: Doc) -> String {
        match (doc, &self.metadata) {
            (Doc::Jwks, Some(metadata)) => metadata.jwks_uri.clone(),
            _ => oidc::discovery_url(issuer),
        }
    }

    /// Reads a fetched (or cached) document into the exchange and the
    /// isolate.
    fn keep(
        &mut self,
        issuer: &str,
        cache: Option<&ProviderCache>,
        doc: Doc,
        url: &str,
        body: &str,
        at: u64,
    ) -> Result<(), Unavailable> {
        let invalid = |reason| Unavailable {
            reason,
            detail: None,
        };
        if body.len() > MAX_DOCUMENT {
            return Err(invalid(ProviderError::DocumentTooLarge));
        }
        match doc {
            Doc::Metadata => {
                let metadata = Arc::new(Metadata::parse(body, issuer).map_err(invalid)?);
                if let Some(cache) = cache {
                    let value = metadata.clone();
                    cache.keep_metadata(url, Fetched { value, at });
                }
                self.metadata = Some(metadata);
            }
            Doc::Jwks => {
                let jwks = Arc::new(Jwks::parse(body).map_err(invalid)?);
                if let Some(cache) = cache {
                    let value = jwks.clone();
                    cache.keep_jwks(url, Fetched { value, at });
                }
                self.jwks = Some(jwks);
            }
        }
        Ok(())
    }
}

/// Unavailable at once when a fetch of `url` failed within
/// [`FAILURE_MEMORY`]: no fetch, however many requests ask.
fn check_not_failed(cache: Option<&ProviderCache>, url: &str, now: u64) -> Result<(), Unavailable> {
    match cache {
        Some(cache) if cache.failed_recently(url, now) => Err(Unavailable {
            reason: ProviderError::Unavailable,
            detail: Some(format!(
                "a fetch of {url} failed within the last {FAILURE_MEMORY} s"
            )),
        }),
        _ => Ok(()),
    }
}

fn remember_failure(cache: Option<&ProviderCache>, url: &str, now: u64) {
    if let Some(cache) = cache {
        cache.remember_failure(url, now);
    }
}

/// The Cache API key of a provider document: a URL of our own.
fn cache_key(url: &str) -> String {
    format!(
        "https://oidc.sessiongate.invalid/{}",
        oidc::form_encode(url)
    )
}

/// A failed step's outcome, for the log.
pub(super) fn describe(outcome: Option<Outcome>) -> Option<String> {
    Some(match outcome {
        Some(Outcome::Failed(e)) => e,
        Some(Outcome::Response { status, .. }) => format!("the provider answered {status}"),
        other => format!("unexpected outcome {other:?}"),
    })
}
