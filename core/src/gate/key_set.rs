//! DESIGN §5: `GET /.sessiongate/jwks.json`, the public keys an origin
//! verifies assertions with. WebCrypto exports them from the signing keys
//! (a `PublicKeys` step, no KV); the gate checks and publishes them, for
//! caches to keep five minutes. Without signing keys there is none: `404`.

use super::reply::Reply;
use super::{Exchange, Gate, Op, Outcome, State, Step};
use crate::assertion::signing::Signer;

/// How long an origin (or a cache between) may keep the key set, five
/// minutes: a key added second is published this long before it signs
/// (README: rotation).
const CACHE_CONTROL: &str = "public, max-age=300";

impl Exchange {
    pub(super) fn key_set(&mut self, gate: Gate<'_>) -> Step {
        match &gate.config.assertion_signer {
            Signer::Shared(_) => self.finish(Reply::error(404, "not_found")),
            Signer::Keys(_) => self.wait(State::KeySet, vec![Op::PublicKeys]),
        }
    }

    pub(super) fn on_key_set(&mut self, gate: Gate<'_>, outcomes: Vec<Outcome>) -> Step {
        let Signer::Keys(keys) = &gate.config.assertion_signer else {
            return self.finish(Reply::error(404, "not_found"));
        };
        let exported = match outcomes.into_iter().next() {
            Some(Outcome::Value(Some(exported))) => Ok(exported),
            other => Err(super::provider::describe(other).unwrap_or_default()),
        };
        match exported.and_then(|exported| keys.key_set(&exported)) {
            Ok(set) => self.finish(Reply {
                status: 200,
                headers: vec![
                    ("content-type", "application/jwk-set+json".to_owned()),
                    ("cache-control", CACHE_CONTROL.to_owned()),
                ],
                body: set,
            }),
            Err(detail) => self.fail("signing_key_unusable", detail, Reply::misconfigured()),
        }
    }
}
