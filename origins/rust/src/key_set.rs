//! The edge's key set (`/.sessiongate/jwks.json`): the public keys
//! assertions are signed with, each found by its `kid`.
//!
//! Only what can verify an assertion is kept: an EC P-256 key, for ES256,
//! and an OKP Ed25519 key, for EdDSA. A key of another type, without a
//! `kid`, meant for another `use` or naming another `alg` is passed over,
//! as a set shared with other signers may hold such keys. A set that
//! publishes a private key, names a key twice, holds a key that does not
//! decode, or leaves nothing to verify with is refused whole: each is a
//! mistake at the edge that should be seen, not worked around.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::jws::Algorithm;

/// Why a key set cannot be used. Names a key by its `kid` or its position,
/// never by its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySetError {
    /// Not JSON of the shape `{"keys":[…]}`.
    Malformed,
    /// The key at this position (from 1) has a private or secret member
    /// (`d`, or `k`): the edge must publish public keys only.
    PrivateKey { position: usize },
    /// Two usable keys have this `kid`.
    DuplicateKid(String),
    /// The key with this `kid` is an EC P-256 or OKP Ed25519 key whose
    /// coordinates do not decode to a point of the curve (or, for Ed25519,
    /// to a point of small order).
    InvalidKey(String),
    /// No key can verify an assertion.
    NoUsableKey,
}

impl fmt::Display for KeySetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("the key set is not {\"keys\":[…]}"),
            Self::PrivateKey { position } => write!(
                f,
                "key {position} of the key set is a private key: publish public keys only"
            ),
            Self::DuplicateKid(kid) => write!(f, "the key set has kid {kid:?} twice"),
            Self::InvalidKey(kid) => write!(f, "key {kid:?} of the key set does not decode"),
            Self::NoUsableKey => f.write_str(
                "the key set has no EC P-256 (ES256) or OKP Ed25519 (EdDSA) signing key with a kid",
            ),
        }
    }
}

impl std::error::Error for KeySetError {}

/// A public key an assertion can be verified with.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// The one algorithm this key verifies.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Es256(_) => Algorithm::Es256,
            Self::EdDsa(_) => Algorithm::EdDsa,
        }
    }

    /// Whether `signature` (ES256: raw `r‖s`) signs `message`. Ed25519 is
    /// verified strictly: no malleable signatures, no weak keys.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        match self {
            Self::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok()),
            Self::EdDsa(key) => key
                .verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
                .is_ok(),
        }
    }
}

/// The usable keys of a key set, by `kid`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct KeySet {
    keys: BTreeMap<String, PublicKey>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys.iter().map(|(kid, key)| (kid, key.algorithm())))
            .finish()
    }
}

impl KeySet {
    /// Reads a JWK Set, keeping the keys that can verify assertions.
    pub(crate) fn from_json(json: &[u8]) -> Result<Self, KeySetError> {
        let Ok(Value::Object(mut set)) = serde_json::from_slice(json) else {
            return Err(KeySetError::Malformed);
        };
        let Some(Value::Array(jwks)) = set.remove("keys") else {
            return Err(KeySetError::Malformed);
        };
        let mut keys = BTreeMap::new();
        for (index, jwk) in jwks.iter().enumerate() {
            let Value::Object(jwk) = jwk else {
                return Err(KeySetError::Malformed);
            };
            if jwk.contains_key("d") || jwk.contains_key("k") {
                return Err(KeySetError::PrivateKey {
                    position: index + 1,
                });
            }
            let Some((kid, alg)) = usable(jwk) else {
                continue;
            };
            let key =
                public_key(jwk, alg).ok_or_else(|| KeySetError::InvalidKey(kid.to_owned()))?;
            if keys.insert(kid.to_owned(), key).is_some() {
                return Err(KeySetError::DuplicateKid(kid.to_owned()));
            }
        }
        if keys.is_empty() {
            return Err(KeySetError::NoUsableKey);
        }
        Ok(Self { keys })
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.keys.get(kid)
    }
}

/// The `kid` of a key meant to verify signatures of the algorithm its type
/// fixes, and that algorithm; `None` for a key to pass over.
fn usable(jwk: &Map<String, Value>) -> Option<(&str, Algorithm)> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let alg = match (member("kty")?, member("crv")?) {
        ("EC", "P-256") => Algorithm::Es256,
        ("OKP", "Ed25519") => Algorithm::EdDsa,
        _ => return None,
    };
    let kid = member("kid").filter(|kid| !kid.is_empty())?;
    let for_signatures = jwk.get("use").is_none_or(|u| u == "sig");
    let for_this_alg = jwk.get("alg").is_none_or(|a| a == alg.as_str());
    let for_verifying = jwk.get("key_ops").is_none_or(|ops| {
        ops.as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"))
    });
    (for_signatures && for_this_alg && for_verifying).then_some((kid, alg))
}

/// The key's coordinates as a point of its curve.
fn public_key(jwk: &Map<String, Value>, alg: Algorithm) -> Option<PublicKey> {
    let coordinate = |name: &str| -> Option<[u8; 32]> {
        let encoded = jwk.get(name)?.as_str()?;
        URL_SAFE_NO_PAD.decode(encoded).ok()?.try_into().ok()
    };
    match alg {
        Algorithm::Es256 => {
            let mut sec1 = [0u8; 65];
            sec1[0] = 0x04; // uncompressed: x then y
            sec1[1..33].copy_from_slice(&coordinate("x")?);
            sec1[33..].copy_from_slice(&coordinate("y")?);
            p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                .ok()
                .map(PublicKey::Es256)
        }
        Algorithm::EdDsa => ed25519_dalek::VerifyingKey::from_bytes(&coordinate("x")?)
            .ok()
            .filter(|key| !key.is_weak())
            .map(PublicKey::EdDsa),
        Algorithm::Hs256 => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestKey;
    use serde_json::json;

    fn read(set: &Value) -> Result<KeySet, KeySetError> {
        KeySet::from_json(set.to_string().as_bytes())
    }

    #[test]
    fn each_key_type_verifies_its_own_algorithm_found_by_kid() {
        let (ec, ed) = (TestKey::es256("ec", 1), TestKey::ed_dsa("ed", 2));
        let set = read(&json!({ "keys": [ec.jwk(), ed.jwk()] })).unwrap();
        assert_eq!(set.get("ec").unwrap().algorithm(), Algorithm::Es256);
        assert_eq!(set.get("ed").unwrap().algorithm(), Algorithm::EdDsa);
        assert!(set.get("other").is_none());
        assert_eq!(format!("{set:?}"), r#"{"ec": Es256, "ed": EdDsa}"#);
    }

    #[test]
    fn keys_that_cannot_verify_assertions_are_passed_over() {
        let good = TestKey::es256("good", 1).jwk();
        let with = |changes: Value| {
            let mut jwk = TestKey::ed_dsa("other", 2).jwk();
            for (name, value) in changes.as_object().unwrap() {
                match value {
                    Value::Null => jwk.as_object_mut().unwrap().remove(name),
                    _ => jwk
                        .as_object_mut()
                        .unwrap()
                        .insert(name.clone(), value.clone()),
                };
            }
            jwk
        };
        for (ignored, why) in [
            (
                json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "other" }),
                "RSA",
            ),
            (with(json!({ "crv": "X25519" })), "another curve"),
            (with(json!({ "kty": "EC" })), "OKP curve under EC"),
            (with(json!({ "kid": null })), "no kid"),
            (with(json!({ "kid": "" })), "empty kid"),
            (with(json!({ "use": "enc" })), "for encryption"),
            (with(json!({ "alg": "ES256" })), "names another alg"),
            (with(json!({ "alg": "none" })), "names none"),
            (with(json!({ "key_ops": ["sign"] })), "not for verifying"),
        ] {
            let set = read(&json!({ "keys": [good, ignored] })).unwrap();
            assert!(set.get("other").is_none(), "{why}");
            assert!(set.get("good").is_some(), "{why}");
            assert_eq!(
                read(&json!({ "keys": [ignored] })),
                Err(KeySetError::NoUsableKey),
                "{why}"
            );
        }
        let explicit = with(json!({ "use": "sig", "alg": "EdDSA", "key_ops": ["verify"] }));
        assert!(read(&json!({ "keys": [explicit] }))
            .unwrap()
            .get("other")
            .is_some());
    }

    #[test]
    fn private_keys_duplicate_kids_and_broken_keys_refuse_the_set() {
        let ec = TestKey::es256("k1", 1).jwk();
        let mut private = TestKey::ed_dsa("k2", 2).jwk();
        private["d"] = json!("c2VjcmV0");
        assert_eq!(
            read(&json!({ "keys": [ec, private] })),
            Err(KeySetError::PrivateKey { position: 2 })
        );
        let secret = json!({ "kty": "oct", "k": "c2VjcmV0", "kid": "s" });
        assert_eq!(
            read(&json!({ "keys": [secret, ec] })),
            Err(KeySetError::PrivateKey { position: 1 })
        );
        let twin = TestKey::ed_dsa("k1", 2).jwk();
        assert_eq!(
            read(&json!({ "keys": [ec, twin] })),
            Err(KeySetError::DuplicateKid("k1".to_owned()))
        );
        let mut off_curve = ec.clone();
        off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([1u8; 32]));
        let mut short = ec.clone();
        short["x"] = json!("AAAA");
        let mut weak = TestKey::ed_dsa("k1", 2).jwk();
        weak["x"] = json!(URL_SAFE_NO_PAD.encode([0u8; 32])); // the identity: small order
        let mut no_y = ec.clone();
        no_y.as_object_mut().unwrap().remove("y");
        for broken in [off_curve, short, weak, no_y] {
            assert_eq!(
                read(&json!({ "keys": [broken] })),
                Err(KeySetError::InvalidKey("k1".to_owned())),
                "{broken}"
            );
        }
    }

    #[test]
    fn only_a_set_of_keys_is_a_key_set() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"keys":{}}"#,
            r#"{"keys":[1]}"#,
            "{\"keys\":[",
        ] {
            assert_eq!(
                KeySet::from_json(bad.as_bytes()),
                Err(KeySetError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            KeySet::from_json(br#"{"keys":[]}"#),
            Err(KeySetError::NoUsableKey)
        );
    }

    #[test]
    fn each_key_verifies_only_its_own_signatures() {
        let (ec, other_ec, ed) = (
            TestKey::es256("ec", 1),
            TestKey::es256("ec", 3),
            TestKey::ed_dsa("ed", 2),
        );
        let set = read(&json!({ "keys": [ec.jwk(), ed.jwk()] })).unwrap();
        let message = b"header.payload";
        let ec_signature = ec.signature(message);
        assert!(set.get("ec").unwrap().verifies(message, &ec_signature));
        assert!(!set
            .get("ec")
            .unwrap()
            .verifies(b"header.other", &ec_signature));
        assert!(!set
            .get("ec")
            .unwrap()
            .verifies(message, &other_ec.signature(message)));
        assert!(!set.get("ed").unwrap().verifies(message, &ec_signature));
        assert!(set
            .get("ed")
            .unwrap()
            .verifies(message, &ed.signature(message)));
        assert!(!set.get("ec").unwrap().verifies(message, &[0u8; 64]));
    }
}
