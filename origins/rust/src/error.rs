//! Why an assertion was refused, or could not be checked at all.
//!
//! A refusal (`401`) and a key set that cannot be had (`503`) are kept
//! apart: the first says the request is not who it claims to be, the
//! second says nothing about the request.

use std::fmt;

use crate::key_set::KeySetError;
use crate::{AssertionError, JwtError};

/// Why [`Verifier`](crate::Verifier) refused an assertion, or could not
/// check it. `Display` names the reason and never any part of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The assertion is malformed, its signature does not verify, or its
    /// claims are not for this audience, request or time.
    Assertion(AssertionError),
    /// The header's `alg` is not one the verifier's key takes: `none` never,
    /// HS256 never against public keys, ES256 and EdDSA never against the
    /// shared secret, and a public key only its own algorithm. A header
    /// with `crit` is refused the same way: no extension is implemented.
    AlgorithmNotAllowed,
    /// The header names no `kid`, or one the key set does not hold (a key
    /// set URL is fetched again first, at most every 30 seconds).
    UnknownKid,
    /// The key set could not be had, so the assertion was not checked:
    /// answer `503`, not `401`.
    KeySetUnavailable(Unavailable),
}

/// Why a key set fetched from its URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// [`Verifier::verify`](crate::Verifier::verify), which never waits for
    /// the network, found no key set fetched in the last 300 seconds: call
    /// [`Verifier::verify_async`](crate::Verifier::verify_async) (the tower
    /// layer does) to fetch it.
    NotFetched,
    /// No answer: the connection, TLS or a 5-second timeout failed.
    Unreachable,
    /// The answer's status was not 2xx (redirects are not followed).
    Status(u16),
    /// The answer was longer than [`MAX_KEY_SET_LEN`](crate::MAX_KEY_SET_LEN).
    TooLarge,
    /// The answer is not a key set that can be used.
    Unusable(KeySetError),
}

impl VerifyError {
    /// A short name for the reason, for a log line: the same names the
    /// other sessiongate origin libraries use.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Assertion(e) => match e {
                AssertionError::Jwt(JwtError::TooLong | JwtError::Malformed) => "malformed",
                AssertionError::Jwt(JwtError::UnsupportedAlgorithm) => "alg_not_allowed",
                AssertionError::Jwt(JwtError::BadSignature) => "bad_signature",
                AssertionError::Jwt(JwtError::BadClaims) => "bad_claims",
                AssertionError::WrongIssuer => "wrong_issuer",
                AssertionError::WrongAudience => "wrong_audience",
                AssertionError::Expired => "expired",
                AssertionError::IssuedInFuture => "issued_in_future",
                AssertionError::TooLong => "too_long",
                AssertionError::WrongMethod => "wrong_method",
                AssertionError::WrongPath => "wrong_path",
            },
            Self::AlgorithmNotAllowed => "alg_not_allowed",
            Self::UnknownKid => "unknown_kid",
            Self::KeySetUnavailable(_) => "key_set_unavailable",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Assertion(e) => e.fmt(f),
            Self::AlgorithmNotAllowed => {
                f.write_str("assertion alg is not allowed for the verifier's key, or it has crit")
            }
            Self::UnknownKid => f.write_str("assertion kid names no key in the key set"),
            Self::KeySetUnavailable(why) => write!(f, "key set unavailable: {why}"),
        }
    }
}

impl std::error::Error for VerifyError {}

impl From<AssertionError> for VerifyError {
    fn from(e: AssertionError) -> Self {
        Self::Assertion(e)
    }
}

impl From<JwtError> for VerifyError {
    fn from(e: JwtError) -> Self {
        Self::Assertion(AssertionError::Jwt(e))
    }
}

impl From<Unavailable> for VerifyError {
    fn from(why: Unavailable) -> Self {
        Self::KeySetUnavailable(why)
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFetched => f.write_str("not fetched in the last 300 s"),
            Self::Unreachable => f.write_str("its URL did not answer"),
            Self::Status(status) => write!(f, "its URL answered {status}"),
            Self::TooLarge => f.write_str("the answer is too long"),
            Self::Unusable(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Unavailable {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason has its own name but for the two ways of being
    /// malformed and of naming a refused algorithm.
    #[test]
    fn each_reason_has_a_name_and_a_message() {
        let reasons = [
            VerifyError::from(JwtError::Malformed),
            JwtError::BadSignature.into(),
            JwtError::BadClaims.into(),
            AssertionError::WrongIssuer.into(),
            AssertionError::WrongAudience.into(),
            AssertionError::Expired.into(),
            AssertionError::IssuedInFuture.into(),
            AssertionError::TooLong.into(),
            AssertionError::WrongMethod.into(),
            AssertionError::WrongPath.into(),
            VerifyError::AlgorithmNotAllowed,
            VerifyError::UnknownKid,
            Unavailable::Unreachable.into(),
        ];
        let mut names: Vec<&str> = reasons.iter().map(VerifyError::as_str).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), reasons.len());
        assert_eq!(
            VerifyError::from(JwtError::TooLong).as_str(),
            "malformed",
            "a token too long to read is one that cannot be read"
        );
        for reason in &reasons {
            assert!(!reason.to_string().is_empty(), "{reason:?}");
        }
        assert_eq!(
            VerifyError::from(Unavailable::Status(500)).to_string(),
            "key set unavailable: its URL answered 500"
        );
    }
}
