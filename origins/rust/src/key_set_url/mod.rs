//! The edge's key set fetched from its URL, `<edge>/.sessiongate/jwks.json`,
//! and kept as [`cache`] decides.
//!
//! One fetch at a time: requests that need the set while it is being
//! fetched wait for that fetch and take its answer, so a burst of requests
//! after the set expires, or while the edge is unreachable, makes one
//! request to the edge, not one each.

pub mod cache;

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use reqwest::{header, redirect, Client, Url};

use self::cache::{Cache, Next};
use crate::key_set::KeySet;
use crate::{Unavailable, VerifyError, MAX_KEY_SET_LEN};

/// How long a fetch of the key set may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a key set URL cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySetUrlError {
    /// Not an absolute `https:` or `http:` URL.
    NotAUrl,
    /// An `http:` URL of a host other than this machine's loopback: the
    /// key set decides who may sign identities, so it is fetched over TLS.
    Insecure,
    /// The HTTP client could not be set up (its TLS configuration).
    Client,
}

impl fmt::Display for KeySetUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAUrl => "the key set URL is not an absolute https: URL",
            Self::Insecure => {
                "the key set URL must be https: (http: only for localhost and loopback addresses)"
            }
            Self::Client => "the HTTP client for the key set could not be set up",
        })
    }
}

impl std::error::Error for KeySetUrlError {}

/// A key set URL, the set last fetched from it, and the one fetch at a time.
pub(crate) struct KeySetUrl {
    url: Url,
    client: Client,
    cache: Mutex<Cache>,
    one_fetch_at_a_time: tokio::sync::Mutex<()>,
}

impl fmt::Debug for KeySetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySetUrl")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl KeySetUrl {
    /// Checks `url`; nothing is fetched until an assertion needs it.
    pub(crate) fn new(url: &str) -> Result<Self, KeySetUrlError> {
        let url = Url::parse(url).map_err(|_| KeySetUrlError::NotAUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(KeySetUrlError::Insecure),
            _ => return Err(KeySetUrlError::NotAUrl),
        }
        let client = Client::builder()
            .timeout(FETCH_TIMEOUT)
            // The key set is served where it is asked for; a redirect would
            // let another host decide the keys.
            .redirect(redirect::Policy::none())
            .user_agent(concat!("sessiongate-origin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| KeySetUrlError::Client)?;
        Ok(Self {
            url,
            client,
            cache: Mutex::default(),
            one_fetch_at_a_time: tokio::sync::Mutex::new(()),
        })
    }

    /// What an assertion naming `kid` at `now` needs, without fetching.
    #[cfg(feature = "tower")]
    pub(crate) fn next(&self, kid: &str, now: u64) -> Next {
        self.cache().next(kid, now)
    }

    /// The cached set if it holds `kid`; never fetches.
    pub(crate) fn cached(&self, kid: &str, now: u64) -> Result<Arc<KeySet>, VerifyError> {
        self.cache().settled(kid, now)
    }

    /// The set holding `kid`, fetched first if the cache says so.
    pub(crate) async fn get(&self, kid: &str, now: u64) -> Result<Arc<KeySet>, VerifyError> {
        let answered_before = {
            let cache = self.cache();
            match cache.next(kid, now) {
                Next::Verify(keys) => return Ok(keys),
                Next::Refuse(e) => return Err(e),
                Next::Fetch => cache.answered(),
            }
        };
        let _turn = self.one_fetch_at_a_time.lock().await;
        if self.cache().answered() == answered_before {
            self.cache().started(now);
            let answer = self.fetch().await;
            self.cache().finished(answer, now);
        }
        self.cache().settled(kid, now)
    }

    async fn fetch(&self) -> Result<KeySet, Unavailable> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|_| Unavailable::Unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(Unavailable::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_KEY_SET_LEN as u64)
        {
            return Err(Unavailable::TooLarge);
        }
        // Read in chunks, to stop at the limit whatever the length claimed.
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| Unavailable::Unreachable)?
        {
            if body.len() + chunk.len() > MAX_KEY_SET_LEN {
                return Err(Unavailable::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::from_json(&body).map_err(Unavailable::Unusable)
    }

    /// The cache is consistent between any two statements, so a panic
    /// elsewhere while it was held leaves nothing to distrust.
    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `url` names this machine: `localhost` or a loopback address.
fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_set_is_fetched_over_tls_but_from_this_machine() {
        for url in [
            "https://edge.example/.sessiongate/jwks.json",
            "http://127.0.0.1:8787/.sessiongate/jwks.json",
            "http://127.8.9.10/jwks.json",
            "http://localhost:8787/.sessiongate/jwks.json",
            "http://[::1]:8787/.sessiongate/jwks.json",
        ] {
            assert!(KeySetUrl::new(url).is_ok(), "{url}");
        }
        for (url, error) in [
            (
                "http://edge.example/.sessiongate/jwks.json",
                KeySetUrlError::Insecure,
            ),
            ("http://10.0.0.1/jwks.json", KeySetUrlError::Insecure),
            (
                "http://localhost.evil.example/jwks.json",
                KeySetUrlError::Insecure,
            ),
            ("/.sessiongate/jwks.json", KeySetUrlError::NotAUrl),
            ("file:///etc/jwks.json", KeySetUrlError::NotAUrl),
            ("ftp://edge.example/jwks.json", KeySetUrlError::NotAUrl),
        ] {
            assert_eq!(KeySetUrl::new(url).unwrap_err(), error, "{url}");
        }
    }
}
