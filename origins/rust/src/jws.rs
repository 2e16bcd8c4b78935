//! The assertion as a compact JWS: its header read far enough to choose a
//! key (`alg`, `kid`), its signature checked, and only then its payload.
//!
//! The payload is private to this module and read only by
//! [`Jws::verify_with`] after the signature checked out, so no claim can be
//! used before it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use sessiongate_core::assertion::AssertionClaims;
use sessiongate_core::jwt::{self, MAX_JWT_LEN};
use sessiongate_core::key::HmacKey;

use crate::key_set::PublicKey;
use crate::{JwtError, VerifyError};

/// The algorithms an assertion may name: which one a verifier takes is
/// fixed by its key, never by the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// HMAC SHA-256 under the shared `ASSERTION_KEY`.
    Hs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "HS256" => Some(Self::Hs256),
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
}

/// Raw `r‖s` for ES256, and an Ed25519 signature: both 64 bytes.
const SIGNATURE_LEN: usize = 64;

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// An assertion whose header was read and whose signature was not yet
/// checked.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    pub(crate) alg: Algorithm,
    kid: Option<String>,
    token: &'a str,
    /// `header.payload`, what the signature covers.
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Jws<'a> {
    /// Reads the header: three base64url parts, at most [`MAX_JWT_LEN`]
    /// long, naming an algorithm some verifier takes, without `crit`.
    pub(crate) fn read(token: &'a str) -> Result<Self, VerifyError> {
        if token.len() > MAX_JWT_LEN {
            return Err(JwtError::TooLong.into());
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed.into());
        };
        let header = decode(header)?;
        // serde reads a struct from an array too; a header is an object.
        if !header.trim_ascii_start().starts_with(b"{") {
            return Err(JwtError::Malformed.into());
        }
        // Read into a struct, not a map, so that a member given twice is
        // refused rather than one of the two taken.
        let header: Header = serde_json::from_slice(&header).map_err(|_| JwtError::Malformed)?;
        if header.crit.is_some() {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        let alg = Algorithm::from_name(&header.alg).ok_or(VerifyError::AlgorithmNotAllowed)?;
        Ok(Self {
            alg,
            kid: header.kid,
            token,
            signing_input: &token[..token.len() - signature.len() - 1],
            payload,
            signature,
        })
    }

    /// The `kid` to look up among public keys; an HS256 token never gets
    /// that far.
    pub(crate) fn public_key_id(&self) -> Result<&str, VerifyError> {
        if self.alg == Algorithm::Hs256 {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        self.kid.as_deref().ok_or(VerifyError::UnknownKid)
    }

    /// The claims of an HS256 assertion under the shared secret. A `kid` in
    /// its header is not looked at: there is one key.
    pub(crate) fn verify_hs256(self, key: &HmacKey) -> Result<AssertionClaims, VerifyError> {
        if self.alg != Algorithm::Hs256 {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        Ok(jwt::verify(key, self.token)?)
    }

    /// The claims, once `key` verified the signature: `key` must be of the
    /// algorithm the header names.
    pub(crate) fn verify_with(self, key: &PublicKey) -> Result<AssertionClaims, VerifyError> {
        if key.algorithm() != self.alg {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        let signature: [u8; SIGNATURE_LEN] = decode(self.signature)?
            .try_into()
            .map_err(|_| JwtError::BadSignature)?;
        if !key.verifies(self.signing_input.as_bytes(), &signature) {
            return Err(JwtError::BadSignature.into());
        }
        serde_json::from_slice(&decode(self.payload)?).map_err(|_| JwtError::BadClaims.into())
    }
}

fn decode(part: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str) -> String {
        format!("{}.{}.{}", b64(header), b64("{}"), b64("signature"))
    }

    #[test]
    fn reads_alg_and_kid_and_what_the_signature_covers() {
        let token = token(r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#);
        let jws = Jws::read(&token).unwrap();
        assert_eq!(jws.alg, Algorithm::Es256);
        assert_eq!(jws.public_key_id(), Ok("k1"));
        assert_eq!(
            jws.signing_input,
            token.rsplit_once('.').unwrap().0,
            "header.payload"
        );
    }

    #[test]
    fn algorithms_no_verifier_takes_and_crit_are_refused_before_any_key() {
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"es256","kid":"k1"}"#,
            r#"{"alg":"RS256","kid":"k1"}"#,
            r#"{"alg":"Ed25519","kid":"k1"}"#,
            r#"{"alg":"ES256","kid":"k1","crit":["exp"]}"#,
            r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
        ] {
            assert_eq!(
                Jws::read(&token(header)).unwrap_err(),
                VerifyError::AlgorithmNotAllowed,
                "{header}"
            );
        }
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}"));
        assert_eq!(
            Jws::read(&unsigned).unwrap_err(),
            VerifyError::AlgorithmNotAllowed
        );
    }

    #[test]
    fn an_hs256_token_names_no_public_key_and_a_public_key_token_needs_a_kid() {
        let hs256 = token(r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#);
        assert_eq!(
            Jws::read(&hs256).unwrap().public_key_id(),
            Err(VerifyError::AlgorithmNotAllowed)
        );
        let no_kid = token(r#"{"alg":"EdDSA","typ":"JWT"}"#);
        assert_eq!(
            Jws::read(&no_kid).unwrap().public_key_id(),
            Err(VerifyError::UnknownKid)
        );
    }

    #[test]
    fn other_shapes_are_malformed() {
        let malformed = VerifyError::from(JwtError::Malformed);
        for bad in [
            String::new(),
            "a.b".to_owned(),
            format!("{}.x", token(r#"{"alg":"ES256"}"#)),
            "!!!.b.c".to_owned(),
            token(r#"["alg","ES256"]"#),
            token(r#"{"alg":"ES256","alg":"HS256"}"#),
            token(r#"{"alg":"ES256","kid":7}"#),
            token(r#"{"typ":"JWT"}"#),
        ] {
            assert_eq!(Jws::read(&bad).unwrap_err(), malformed, "{bad}");
        }
        assert_eq!(
            Jws::read(&"a".repeat(MAX_JWT_LEN + 1)).unwrap_err(),
            VerifyError::from(JwtError::TooLong)
        );
    }
}
