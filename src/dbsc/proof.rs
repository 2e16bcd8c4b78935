//! The browser's proof of its key: a JWT signed ES256 by the key, whose
//! header is `{"alg":"ES256","typ":"dbsc+jwt","jwk":…}` at registration and
//! whose `jti` is the challenge it answers.
//!
//! Only ES256 is accepted, as only ES256 is offered: `alg` names the one
//! algorithm this code verifies, never chooses it, so `none`, HS256 (with
//! the public key as the secret) and RS256 are refused before any
//! signature is looked at. The signature is checked with RustCrypto's
//! `p256`.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::EncodedPoint;
use serde::{Deserialize, Serialize};

/// Longest proof accepted: a proof is a few hundred bytes.
pub const MAX_PROOF_LEN: usize = 4 * 1024;
/// The JWT `typ` of DBSC proofs.
pub const TYP: &str = "dbsc+jwt";

/// Why a proof was refused. Messages carry no part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    /// No `Secure-Session-Response` header.
    Missing,
    TooLong,
    /// Not three base64url parts of JSON objects, or no `jti`.
    Malformed,
    /// `alg` other than ES256, or a `crit` extension.
    UnsupportedAlgorithm,
    /// `typ` other than `dbsc+jwt`.
    WrongType,
    /// No key in the header at registration, or one that is not a P-256 point.
    BadKey,
    BadSignature,
}

impl ProofError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "proof_missing",
            Self::TooLong => "proof_too_long",
            Self::Malformed => "proof_malformed",
            Self::UnsupportedAlgorithm => "proof_alg_unsupported",
            Self::WrongType => "proof_typ_unsupported",
            Self::BadKey => "proof_key_invalid",
            Self::BadSignature => "proof_bad_signature",
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A P-256 public key as a JWK, as the session record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl Jwk {
    fn verifying_key(&self) -> Result<VerifyingKey, ProofError> {
        if self.kty != "EC" || self.crv != "P-256" {
            return Err(ProofError::BadKey);
        }
        let coordinate = |c: &str| -> Result<[u8; 32], ProofError> {
            let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| ProofError::BadKey)?;
            bytes.try_into().map_err(|_| ProofError::BadKey)
        };
        let (x, y) = (coordinate(&self.x)?, coordinate(&self.y)?);
        let point = EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
        VerifyingKey::from_encoded_point(&point).map_err(|_| ProofError::BadKey)
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    jwk: Option<Jwk>,
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Payload {
    jti: String,
}

/// A proof whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The key it was signed with.
    pub key: Jwk,
    /// The challenge it answers.
    pub jti: String,
}

/// Verifies `token`: with `registered` (a refresh) against that key; else
/// (a registration) against the key its header carries.
pub fn verify(token: &str, registered: Option<&Jwk>) -> Result<Proof, ProofError> {
    if token.len() > MAX_PROOF_LEN {
        return Err(ProofError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Malformed);
    };
    let header: Header = decode_json(header)?;
    if header.alg != "ES256" || header.crit.is_some() {
        return Err(ProofError::UnsupportedAlgorithm);
    }
    if header.typ.as_deref() != Some(TYP) {
        return Err(ProofError::WrongType);
    }
    let key = match registered {
        Some(registered) => registered.clone(),
        None => header.jwk.ok_or(ProofError::BadKey)?,
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(ProofError::BadSignature)?;
    let signed = &token[..header_end(token)];
    key.verifying_key()?
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| ProofError::BadSignature)?;
    let payload: Payload = decode_json(payload)?;
    Ok(Proof {
        key,
        jti: payload.jti,
    })
}

/// Where the signed part (`header.payload`) of a three-part token ends.
fn header_end(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, ProofError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ProofError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| ProofError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::SigningKey;
    use serde_json::{json, Value};

    pub(crate) fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    pub(crate) fn jwk(key: &SigningKey) -> Value {
        let point = key.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn sign(key: &SigningKey, header: Value, payload: Value) -> String {
        let signed = format!("{}.{}", b64(&header), b64(&payload));
        let signature: Signature = key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    fn registration(key: &SigningKey, jti: &str) -> String {
        let header = json!({ "alg": "ES256", "typ": TYP, "jwk": jwk(key) });
        sign(key, header, json!({ "jti": jti }))
    }

    #[test]
    fn a_registration_proof_yields_its_key_and_challenge() {
        let key = signing_key(1);
        let proof = verify(&registration(&key, "c1"), None).unwrap();
        assert_eq!(proof.jti, "c1");
        assert_eq!(serde_json::to_value(&proof.key).unwrap(), jwk(&key));
    }

    #[test]
    fn a_refresh_proof_must_be_signed_by_the_registered_key() {
        let (registered, other) = (signing_key(1), signing_key(2));
        let stored: Jwk = serde_json::from_value(jwk(&registered)).unwrap();
        let header = json!({ "alg": "ES256", "typ": TYP });
        let good = sign(&registered, header.clone(), json!({ "jti": "c" }));
        assert_eq!(verify(&good, Some(&stored)).unwrap().jti, "c");
        // Signed by another key, whatever key its header names.
        let forged = sign(&other, header, json!({ "jti": "c" }));
        assert_eq!(
            verify(&forged, Some(&stored)),
            Err(ProofError::BadSignature)
        );
        assert_eq!(
            verify(&registration(&other, "c"), Some(&stored)),
            Err(ProofError::BadSignature)
        );
    }

    #[test]
    fn algorithms_other_than_es256_are_refused_unverified() {
        let key = signing_key(1);
        let payload = b64(&json!({ "jti": "c" }));
        for alg in ["none", "HS256", "RS256", "ES384", "es256"] {
            let header = b64(&json!({ "alg": alg, "typ": TYP, "jwk": jwk(&key) }));
            let token = format!("{header}.{payload}.");
            assert_eq!(
                verify(&token, None),
                Err(ProofError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        let crit = json!({ "alg": "ES256", "typ": TYP, "jwk": jwk(&key), "crit": ["b64"] });
        assert_eq!(
            verify(&sign(&key, crit, json!({ "jti": "c" })), None),
            Err(ProofError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn the_type_and_the_key_are_checked() {
        let key = signing_key(1);
        for typ in [json!("JWT"), json!(null)] {
            let header = json!({ "alg": "ES256", "typ": typ, "jwk": jwk(&key) });
            assert_eq!(
                verify(&sign(&key, header, json!({ "jti": "c" })), None),
                Err(ProofError::WrongType)
            );
        }
        let no_key = json!({ "alg": "ES256", "typ": TYP });
        assert_eq!(
            verify(&sign(&key, no_key, json!({ "jti": "c" })), None),
            Err(ProofError::BadKey)
        );
        let mut off_curve = jwk(&key);
        off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
        let header = json!({ "alg": "ES256", "typ": TYP, "jwk": off_curve });
        assert_eq!(
            verify(&sign(&key, header, json!({ "jti": "c" })), None),
            Err(ProofError::BadKey)
        );
    }

    #[test]
    fn malformed_proofs_are_refused_without_panicking() {
        let key = signing_key(1);
        let good = registration(&key, "c");
        let no_jti = sign(
            &key,
            json!({ "alg": "ES256", "typ": TYP, "jwk": jwk(&key) }),
            json!({ "sub": "c" }),
        );
        for bad in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            &good[..good.len() - 3],
            &no_jti,
        ] {
            assert!(verify(bad, None).is_err(), "{bad:?}");
        }
        assert_eq!(
            verify(&"a".repeat(MAX_PROOF_LEN + 1), None),
            Err(ProofError::TooLong)
        );
    }
}
