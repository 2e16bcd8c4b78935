//! The browser's proof of its key: a JWT signed ES256 by the key, whose
//! header is `{"alg":"ES256","typ":"dbsc+jwt","jwk":…}` at registration and
//! whose `jti` is the challenge it answers.
//!
//! Only ES256 is accepted, as only ES256 is offered: `alg` names the one
//! algorithm this code verifies, never chooses it, so `none`, HS256 (with
//! the public key as the secret) and RS256 are refused before any
//! signature is looked at. Everything but the signature is checked here,
//! without I/O: [`read`] takes the proof apart and checks its header and
//! key; the gate has the driver check the signature with WebCrypto (a
//! `Verify` step, as for OpenID Connect's ID tokens, DESIGN §11); only
//! then does [`Unverified::verified`] read the payload.
//!
//! ```
//! use sessiongate_core::dbsc::proof::{read, ProofError};
//!
//! // An HS256 token is refused before its signature is looked at.
//! let hs256 = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImRic2Mrand0In0.eyJqdGkiOiJjIn0.c2ln";
//! assert_eq!(read(hs256, None).unwrap_err(), ProofError::UnsupportedAlgorithm);
//! ```

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;

pub use sessiongate_hot::jwk::Jwk;

/// Longest proof accepted: a proof is a few hundred bytes.
pub const MAX_PROOF_LEN: usize = 4 * 1024;
/// The JWT `typ` of DBSC proofs.
pub const TYP: &str = "dbsc+jwt";
/// The one algorithm proofs are signed with.
pub const ALG: &str = "ES256";

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
    /// No key in the header at registration, or one that is not a P-256
    /// point (its shape checked here, the curve by WebCrypto).
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

/// A proof whose header and key checked out, its signature not yet
/// checked: what the gate hands the driver to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    /// The key it must be signed with.
    pub key: Jwk,
    token: String,
    /// Where the signed part (`header.payload`) ends.
    signed_end: usize,
    /// Where the payload begins.
    payload_start: usize,
}

impl Unverified {
    /// What the signature is over: `header.payload`.
    pub fn signed(&self) -> &str {
        &self.token[..self.signed_end]
    }

    /// The signature, base64url (64 bytes: raw r‖s, as WebCrypto takes it).
    pub fn signature(&self) -> &str {
        &self.token[self.signed_end + 1..]
    }

    /// The proof, once its signature is known to be the key's: only now is
    /// its payload read.
    pub fn verified(self) -> Result<Proof, ProofError> {
        let payload: Payload = decode_json(&self.token[self.payload_start..self.signed_end])?;
        Ok(Proof {
            key: self.key,
            jti: payload.jti,
        })
    }
}

/// A proof whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The key it was signed with.
    pub key: Jwk,
    /// The challenge it answers.
    pub jti: String,
}

/// Reads `token` and checks all but its signature: with `registered` (a
/// refresh) it must be signed by that key; else (a registration) by the
/// key its header carries.
pub fn read(token: &str, registered: Option<&Jwk>) -> Result<Unverified, ProofError> {
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
    if header.alg != ALG || header.crit.is_some() {
        return Err(ProofError::UnsupportedAlgorithm);
    }
    if header.typ.as_deref() != Some(TYP) {
        return Err(ProofError::WrongType);
    }
    let key = match registered {
        Some(registered) => registered.clone(),
        None => header.jwk.ok_or(ProofError::BadKey)?,
    };
    if !key.is_p256() {
        return Err(ProofError::BadKey);
    }
    // ES256's signature is r‖s, 32 bytes each.
    if !URL_SAFE_NO_PAD
        .decode(signature)
        .is_ok_and(|bytes| bytes.len() == 64)
    {
        return Err(ProofError::BadSignature);
    }
    let signed_end = token.len() - signature.len() - 1;
    Ok(Unverified {
        key,
        token: token.to_owned(),
        signed_end,
        payload_start: signed_end - payload.len(),
    })
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, ProofError> {
    crate::jwt::decode_part(part).map_err(|_| ProofError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::{Outcome, VERIFY_KEY_INVALID, VERIFY_VALID};
    use crate::store::verify_signature;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use serde_json::{json, Value};

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn jwk(key: &SigningKey) -> Value {
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

    /// What the gate does with a proof: read it, have its signature
    /// checked (here natively, as the native driver does), then the payload.
    fn verify(token: &str, registered: Option<&Jwk>) -> Result<Proof, ProofError> {
        let proof = read(token, registered)?;
        let outcome =
            verify_signature(ALG, &proof.key.to_json(), proof.signed(), proof.signature());
        match outcome {
            Outcome::Value(Some(v)) if v == VERIFY_VALID => proof.verified(),
            Outcome::Value(Some(v)) if v == VERIFY_KEY_INVALID => Err(ProofError::BadKey),
            _ => Err(ProofError::BadSignature),
        }
    }

    #[test]
    fn a_registration_proof_yields_its_key_and_challenge() {
        let key = signing_key(1);
        let token = registration(&key, "c1");
        let unverified = read(&token, None).unwrap();
        assert_eq!(unverified.signed(), &token[..token.rfind('.').unwrap()]);
        assert_eq!(unverified.signature(), token.rsplit('.').next().unwrap());
        let proof = verify(&token, None).unwrap();
        assert_eq!(proof.jti, "c1");
        assert_eq!(serde_json::to_value(&proof.key).unwrap(), jwk(&key));
        let imported: Value = serde_json::from_str(&proof.key.to_json()).unwrap();
        assert_eq!(imported, jwk(&key));
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
        assert_eq!(read(&forged, Some(&stored)).unwrap().key, stored);
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
                read(&token, None),
                Err(ProofError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        let crit = json!({ "alg": "ES256", "typ": TYP, "jwk": jwk(&key), "crit": ["b64"] });
        assert_eq!(
            read(&sign(&key, crit, json!({ "jti": "c" })), None),
            Err(ProofError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn the_type_and_the_key_are_checked() {
        let key = signing_key(1);
        for typ in [json!("JWT"), json!(null)] {
            let header = json!({ "alg": "ES256", "typ": typ, "jwk": jwk(&key) });
            assert_eq!(
                read(&sign(&key, header, json!({ "jti": "c" })), None),
                Err(ProofError::WrongType)
            );
        }
        let no_key = json!({ "alg": "ES256", "typ": TYP });
        assert_eq!(
            read(&sign(&key, no_key, json!({ "jti": "c" })), None),
            Err(ProofError::BadKey)
        );
        // Shapes that are no P-256 key, refused without WebCrypto.
        for (field, value) in [
            ("kty", json!("RSA")),
            ("crv", json!("P-384")),
            ("x", json!(URL_SAFE_NO_PAD.encode([7u8; 31]))),
            ("y", json!("not base64url!")),
        ] {
            let mut bad = jwk(&key);
            bad[field] = value;
            let header = json!({ "alg": "ES256", "typ": TYP, "jwk": bad });
            assert_eq!(
                read(&sign(&key, header, json!({ "jti": "c" })), None),
                Err(ProofError::BadKey),
                "{field}"
            );
        }
        // A point off the curve has the shape: the verifier refuses it.
        let mut off_curve = jwk(&key);
        off_curve["y"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]));
        let header = json!({ "alg": "ES256", "typ": TYP, "jwk": off_curve });
        let token = sign(&key, header, json!({ "jti": "c" }));
        assert!(read(&token, None).is_ok());
        assert_eq!(verify(&token, None), Err(ProofError::BadKey));
    }

    #[test]
    fn the_payload_is_read_only_once_the_signature_checks_out() {
        let (key, other) = (signing_key(1), signing_key(2));
        let header = json!({ "alg": "ES256", "typ": TYP, "jwk": jwk(&key) });
        let no_jti = sign(&key, header.clone(), json!({ "sub": "c" }));
        assert_eq!(verify(&no_jti, None), Err(ProofError::Malformed));
        // Signed by another key: a bad signature, whatever the payload.
        let forged = sign(&other, header, json!({ "sub": "c" }));
        assert_eq!(verify(&forged, None), Err(ProofError::BadSignature));
    }

    #[test]
    fn malformed_proofs_are_refused_without_panicking() {
        let key = signing_key(1);
        let good = registration(&key, "c");
        for bad in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            &good[..good.len() - 3],
            &format!("{good}x"),
        ] {
            assert!(verify(bad, None).is_err(), "{bad:?}");
        }
        assert_eq!(
            read(&"a".repeat(MAX_PROOF_LEN + 1), None),
            Err(ProofError::TooLong)
        );
    }
}
