//! A secret HMAC-SHA256 key, keyed once and reused.
//!
//! Keying HMAC hashes the secret into two pad states; cloning those states per
//! use skips that work on every request. The secret itself is not kept, and
//! `Debug` prints nothing of it.

use hmac::{digest::MacError, Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Shortest secret accepted for any key (DESIGN §8).
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Clone)]
pub struct HmacKey(Hmac<Sha256>);

impl HmacKey {
    /// Keys HMAC-SHA256 with `secret`. Length rules are the config's job;
    /// HMAC itself takes a key of any length.
    pub fn new(secret: &[u8]) -> Self {
        // new_from_slice only fails for fixed-size keys; HMAC has none.
        match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(mac) => Self(mac),
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        }
    }

    /// The full 32-byte tag over `parts`, fed in order as one message.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.keyed(parts).finalize().into_bytes().into()
    }

    /// Constant-time check of a full 32-byte tag.
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> Result<(), MacError> {
        self.keyed(parts).verify_slice(tag)
    }

    /// Constant-time check of a tag truncated to its leftmost bytes.
    pub fn verify_truncated(&self, parts: &[&[u8]], tag: &[u8]) -> Result<(), MacError> {
        self.keyed(parts).verify_truncated_left(tag)
    }

    fn keyed(&self, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac
    }
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_case_2() {
        let key = HmacKey::new(b"Jefe");
        let tag = key.sign(&[b"what do ya want ", b"for nothing?"]);
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn truncated_tags_verify_only_when_they_match() {
        let key = HmacKey::new(b"k");
        let tag = key.sign(&[b"message"]);
        assert!(key.verify_truncated(&[b"message"], &tag[..16]).is_ok());
        assert!(key.verify_truncated(&[b"messagf"], &tag[..16]).is_err());
        assert!(key.verify_truncated(&[b"message"], &[]).is_err());
        assert!(key.verify(&[b"message"], &tag).is_ok());
        assert!(key.verify(&[b"message"], &tag[..31]).is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(format!("{:?}", HmacKey::new(b"secret")), "HmacKey(..)");
    }
}
