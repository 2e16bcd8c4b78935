//! HS256 JSON Web Tokens: the assertion the edge signs and the login
//! handoff it verifies (DESIGN §5, §6).
//!
//! Only HS256 is produced or accepted: a token naming any other `alg`
//! (`none` included) is refused before its signature is looked at, and the
//! signature is checked in constant time before the payload is parsed.
//!
//! ```
//! use sessiongate_hot::jwt;
//! use sessiongate_hot::key::HmacKey;
//!
//! let key = HmacKey::new(b"a shared secret of at least 32 bytes");
//! let token = jwt::sign(&key, &serde_json::json!({ "sub": "alice" }));
//! let claims: serde_json::Value = jwt::verify(&key, &token).unwrap();
//! assert_eq!(claims["sub"], "alice");
//! ```

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::key::HmacKey;

/// Longest JWT accepted: far above any assertion or handoff (claims are at
/// most 1 KiB), far below anything that costs real work.
pub const MAX_JWT_LEN: usize = 8 * 1024;

/// `{"alg":"HS256","typ":"JWT"}`, encoded.
pub const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
const SIGNATURE_B64_LEN: usize = 43;

/// Why a JWT was refused. Messages carry no part of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    TooLong,
    /// Not three base64url parts, or a header that is not a JSON object.
    Malformed,
    /// `alg` other than HS256, or a `crit` extension.
    UnsupportedAlgorithm,
    BadSignature,
    /// The payload is not the claims expected.
    BadClaims,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLong => "jwt too long",
            Self::Malformed => "jwt malformed",
            Self::UnsupportedAlgorithm => "jwt alg is not HS256",
            Self::BadSignature => "jwt signature does not verify",
            Self::BadClaims => "jwt claims are not of the expected shape",
        })
    }
}

impl std::error::Error for JwtError {}

#[derive(Deserialize)]
struct Header {
    alg: String,
    crit: Option<serde_json::Value>,
}

/// Signs `claims` as an HS256 JWT.
pub fn sign<T: Serialize>(key: &HmacKey, claims: &T) -> String {
    sign_input(key, signing_input(HEADER, claims))
}

/// The HS256 JWT whose signing input is `input`, which names HS256 in
/// its header ([`HEADER`]).
pub fn sign_input(key: &HmacKey, mut input: String) -> String {
    let signature = key.sign(&[input.as_bytes()]);
    input.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut input);
    input
}

/// The JWS signing input of `claims`, `header.payload`, under a header
/// given in base64url: the token but for the dot and signature after.
pub fn signing_input<T: Serialize>(header: &str, claims: &T) -> String {
    // Sized for a typical assertion, so the payload is written without regrowing.
    let mut payload = Vec::with_capacity(512);
    if serde_json::to_writer(&mut payload, claims).is_err() {
        payload.clear();
    }
    let mut input =
        String::with_capacity(header.len() + payload.len() * 4 / 3 + SIGNATURE_B64_LEN + 4);
    input.push_str(header);
    input.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut input);
    input
}

/// Verifies an HS256 JWT and decodes its claims into `T`. Time claims are
/// the caller's to check.
pub fn verify<T: DeserializeOwned>(key: &HmacKey, token: &str) -> Result<T, JwtError> {
    if token.len() > MAX_JWT_LEN {
        return Err(JwtError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = decode_part(header).map_err(|_| JwtError::Malformed)?;
    if header.alg != "HS256" || header.crit.is_some() {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    if signature.len() != SIGNATURE_B64_LEN {
        return Err(JwtError::BadSignature);
    }
    let signature = decode(signature)?;
    let signed = &token[..token.len() - SIGNATURE_B64_LEN - 1];
    key.verify(&[signed.as_bytes()], &signature)
        .map_err(|_| JwtError::BadSignature)?;
    decode_part(payload).map_err(|e| match e {
        PartError::NotBase64url => JwtError::Malformed,
        PartError::NotJson => JwtError::BadClaims,
    })
}

fn decode(part: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)
}

/// Why a JWS header or payload could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartError {
    NotBase64url,
    /// Not UTF-8 JSON of the expected shape.
    NotJson,
}

/// A JWS header or payload, base64url of JSON, read into `T`. Every JWT
/// and JWS is read here, from text: one JSON reader in the wasm, not one
/// for text and one for bytes.
pub fn decode_part<T: DeserializeOwned>(part: &str) -> Result<T, PartError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| PartError::NotBase64url)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| PartError::NotJson)?;
    serde_json::from_str(text).map_err(|_| PartError::NotJson)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn key() -> HmacKey {
        HmacKey::new(b"0123456789abcdef0123456789abcdef")
    }

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    /// A token with any header, signed properly with `key`.
    fn with_header(header: &str, claims: &str, key: &HmacKey) -> String {
        let signed = format!("{}.{}", b64(header), b64(claims));
        let sig = key.sign(&[signed.as_bytes()]);
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    #[test]
    fn header_constant_is_the_standard_hs256_header() {
        assert_eq!(b64(r#"{"alg":"HS256","typ":"JWT"}"#), HEADER);
    }

    #[test]
    fn signs_what_rfc_7519_tools_produce() {
        // Same secret, header and payload as the jwt.io HS256 example.
        let key = HmacKey::new(b"a-string-secret-at-least-256-bits-long");
        let token = with_header(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"sub":"1234567890","name":"John Doe","admin":true,"iat":1516239022}"#,
            &key,
        );
        assert_eq!(
            token.rsplit('.').next().unwrap(),
            "KMUFsIDTnFmyG3nMiGM6H9FNFUROf3wh7SmqJp-QV30"
        );
        let claims: Value = verify(&key, &token).unwrap();
        assert_eq!(claims["name"], "John Doe");
    }

    #[test]
    fn round_trips_typed_claims() {
        let token = sign(&key(), &json!({"sub": "a", "n": 1}));
        let claims: Value = verify(&key(), &token).unwrap();
        assert_eq!(claims, json!({"sub": "a", "n": 1}));
    }

    #[test]
    fn every_other_algorithm_is_refused() {
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"HS256","crit":["exp"]}"#,
        ] {
            let token = with_header(header, r#"{"sub":"a"}"#, &key());
            assert_eq!(
                verify::<Value>(&key(), &token),
                Err(JwtError::UnsupportedAlgorithm),
                "{header}"
            );
        }
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(r#"{"sub":"a"}"#));
        assert_eq!(
            verify::<Value>(&key(), &unsigned),
            Err(JwtError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn a_wrong_key_or_altered_payload_fails_the_signature() {
        let token = sign(&key(), &json!({"sub": "a"}));
        let other = HmacKey::new(b"another key of thirty-two bytes!");
        assert_eq!(verify::<Value>(&other, &token), Err(JwtError::BadSignature));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(r#"{"sub":"b"}"#);
        parts[1] = &forged;
        assert_eq!(
            verify::<Value>(&key(), &parts.join(".")),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn shapes_other_than_three_parts_are_malformed() {
        let token = sign(&key(), &json!({}));
        for bad in ["", "a.b", "a.b.c.d", &format!("{token}.x"), "!!!.b.c"] {
            assert!(verify::<Value>(&key(), bad).is_err(), "{bad}");
        }
        assert_eq!(
            verify::<Value>(&key(), &"a".repeat(MAX_JWT_LEN + 1)),
            Err(JwtError::TooLong)
        );
    }

    /// Keys come from configuration only: a token that names its own key
    /// (`jwk`, `jku`, `kid`) and is signed with it is refused.
    #[test]
    fn keys_named_in_the_header_are_never_used() {
        let attacker = b"attacker-key-attacker-key-attacker";
        let claims = r#"{"sub":"mallory"}"#;
        for header in [
            r#"{"alg":"HS256","jwk":{"kty":"oct","k":"YXR0YWNrZXIta2V5LWF0dGFja2VyLWtleS1hdHRhY2tlcg"}}"#,
            r#"{"alg":"HS256","jku":"https://evil.example/keys"}"#,
            r#"{"alg":"HS256","kid":"../../attacker"}"#,
        ] {
            let token = with_header(header, claims, &HmacKey::new(attacker));
            assert_eq!(
                verify::<serde_json::Value>(&key(), &token),
                Err(JwtError::BadSignature),
                "{header}"
            );
        }
    }

    #[test]
    fn claims_of_the_wrong_shape_are_refused_after_the_signature() {
        #[derive(Debug, Deserialize)]
        struct Needs {
            #[allow(dead_code)]
            sub: String,
        }
        let token = sign(&key(), &json!({"sub": 5}));
        assert_eq!(
            verify::<Needs>(&key(), &token).unwrap_err(),
            JwtError::BadClaims
        );
    }
}
