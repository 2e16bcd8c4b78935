//! Verify, at your origin, who sessiongate says is making a request.
//!
//! sessiongate forwards each authenticated request with a
//! `Sessiongate-Assertion` header: a JWT that names the user (`sub`), the
//! session (`sid`), the session's claims, and the exact method and path it
//! was issued for, valid for 60 seconds. [`Verifier`] checks all of that
//! against the request it arrived on, so an assertion captured from one
//! route is no key to any other.
//!
//! # Keys
//!
//! The edge signs assertions in one of two ways; give the [`Verifier`] the
//! matching key:
//!
//! - with **signing keys of its own** (`ASSERTION_SIGNING_KEYS`), ES256 or
//!   EdDSA, whose public halves it publishes at `/.sessiongate/jwks.json`:
//!   the origin holds nothing that can sign. [`Verifier::with_key_set_url`]
//!   (feature `jwks-url`) fetches that set and follows the edge as it
//!   rotates keys; [`Verifier::with_key_set`] pins a copy of it.
//! - with the **shared `ASSERTION_KEY`**, HS256: [`Verifier::new`].
//!
//! The key decides the algorithm, never the token: `none` is never taken,
//! HS256 never against public keys, a public-key algorithm never against
//! the shared secret. The signature is checked before any claim is read.
//!
//! ```
//! use sessiongate_origin::Verifier;
//! # let now = 1_700_000_000;
//! # let edge_key = sessiongate_origin::testing::TestKey::es256("k250101", 1);
//! # let edge_assertion = edge_key.assertion("my-app", "alice", "GET", "/orders?page=2", now);
//! // The edge's /.sessiongate/jwks.json, pinned.
//! let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k250101","alg":"ES256","use":"sig",
//!     "x":"b_A7lJJBzh2t1DUZ5pYOCoW0GmmgXDKBA6orzhWUyhY",
//!     "y":"PE91OlW_AdxT9sCwx-7ni0DG_30lqW4igrmJzvccFEo"}]}"#;
//! let verifier = Verifier::with_key_set(jwks, "my-app")?;
//!
//! // In a handler, with the header's value and the request's method and path:
//! let identity = verifier.verify(&edge_assertion, "GET", "/orders?page=2", now)?;
//! assert_eq!(identity.sub, "alice");
//!
//! // The same assertion presented on another route is refused.
//! assert!(verifier.verify(&edge_assertion, "POST", "/orders", now).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the shared key, and the login handoff that starts a session:
//!
//! ```
//! use sessiongate_origin::{Handoff, Verifier};
//! # let now = 1_700_000_000;
//! # let edge_assertion = sessiongate_origin::test_assertion("assertion-key-of-at-least-32-chars", "my-app", "alice", "GET", "/orders?page=2", now);
//! let verifier = Verifier::new("assertion-key-of-at-least-32-chars", "my-app")?;
//! let identity = verifier.verify(&edge_assertion, "GET", "/orders?page=2", now)?;
//! assert_eq!(identity.sub, "alice");
//!
//! // A login handler starts a session by answering with a handoff header:
//! let header_value = Handoff::new("alice").claim("role", "admin").sign("handoff-key-of-at-least-32-chars!", now);
//! # let _ = header_value;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `tower`: [`layer::SessiongateLayer`] does this for every request of a
//!   tower or axum service and puts the [`Identity`] in the request's
//!   extensions.
//! - `jwks-url`: [`Verifier::with_key_set_url`], which fetches the key set
//!   with `reqwest` (rustls, no OpenSSL) on tokio.

use std::time::{SystemTime, UNIX_EPOCH};

pub use sessiongate_core::assertion::{AssertionError, Kind, LIFETIME};
pub use sessiongate_core::handoff::MAX_AHEAD as MAX_HANDOFF_AHEAD;
pub use sessiongate_core::jwt::JwtError;
pub use sessiongate_core::session::Claims;
/// The user id an `X-Sessiongate-User` value names: as it is, or decoded
/// from `UTF-8''…` (DESIGN §4.7); `None` for a malformed encoding. The
/// assertion's `sub` is the same id, exactly.
pub use sessiongate_core::user_header::decode as decode_user_header;

mod error;
mod handoff;
mod identity;
mod jws;
mod key_set;
#[cfg(feature = "jwks-url")]
mod key_set_url;
#[cfg(feature = "tower")]
pub mod layer;
#[doc(hidden)]
pub mod testing;
mod verifier;

pub use error::{Unavailable, VerifyError};
pub use handoff::Handoff;
pub use identity::Identity;
pub use key_set::KeySetError;
#[cfg(feature = "jwks-url")]
pub use key_set_url::cache::{
    CACHE_FOR as KEY_SET_MAX_AGE, REFETCH_COOLDOWN as KEY_SET_REFETCH_COOLDOWN,
};
#[cfg(feature = "jwks-url")]
pub use key_set_url::{KeySetUrlError, FETCH_TIMEOUT as KEY_SET_FETCH_TIMEOUT};
pub use verifier::{Verifier, WeakKey};

/// Request header carrying the assertion.
pub const ASSERTION_HEADER: &str = sessiongate_core::assertion::HEADER;
/// Response header that logs a user in (see [`Handoff`]).
pub const LOGIN_HEADER: &str = sessiongate_core::handoff::HEADER;
/// Response header that logs the user out: `current` or `all`.
pub const LOGOUT_HEADER: &str = sessiongate_core::gate::LOGOUT_HEADER;
/// Seconds of clock difference between edge and origin tolerated on `iat`
/// and `exp` unless [`Verifier::leeway`] says otherwise.
pub const DEFAULT_LEEWAY: u64 = 5;
/// Longest key set read from a URL: room for dozens of keys, and a bound
/// on what a misdirected URL can make the origin hold.
pub const MAX_KEY_SET_LEN: usize = 64 * 1024;

/// `value` if it is a `return_to` safe to redirect to: a path on this
/// origin (not `//host`, `/\\host` or an absolute URL), whatever decoding a
/// browser or framework applies. The edge already drops unsafe ones on the
/// way to the login page; check again before redirecting.
pub fn safe_return_to(value: &str) -> Option<&str> {
    sessiongate_core::routes::is_safe_return_to(value).then_some(value)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An HS256 assertion as the edge would issue it, for examples and tests
/// (for ES256 and EdDSA, see `testing::TestKey`).
#[doc(hidden)]
pub fn test_assertion(
    key: &str,
    audience: &str,
    sub: &str,
    method: &str,
    path_and_query: &str,
    now: u64,
) -> String {
    testing::claims(audience, sub, method, path_and_query, now)
        .sign(&sessiongate_core::key::HmacKey::new(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
