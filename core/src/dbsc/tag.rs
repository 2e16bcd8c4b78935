//! The tagged values of device binding: `<kid>.<field>….<tag>`, the tag the
//! first 16 bytes of HMAC(key[kid], the session's id hash ‖ everything
//! before the tag, its last dot included), base64url. Bound to one session
//! and, by their keys (`Binding`), to one use.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::token::{IdHash, KeyRing, Kid};

const TAG_LEN: usize = 16;
/// Longest value read: far above any this code makes.
const MAX_LEN: usize = 128;

/// `fields` of the session `hash`, tagged under the ring's first key.
pub(super) fn seal(ring: &KeyRing, hash: &IdHash, fields: &[&str]) -> String {
    let mut value = ring.primary().to_string();
    for field in fields {
        value.push('.');
        value.push_str(field);
    }
    value.push('.');
    let tag = ring
        .primary_key()
        .sign(&[hash.as_bytes(), value.as_bytes()]);
    URL_SAFE_NO_PAD.encode_string(&tag[..TAG_LEN], &mut value);
    value
}

/// The `N` fields of `raw`, if it is a value of this shape whose tag, under
/// the key its kid names, is the session `hash`'s (checked in constant time).
pub(super) fn open<'a, const N: usize>(
    ring: &KeyRing,
    hash: &IdHash,
    raw: &'a str,
) -> Option<[&'a str; N]> {
    if raw.len() > MAX_LEN {
        return None;
    }
    let (signed, tag) = raw.rsplit_once('.')?;
    let mut parts = signed.split('.');
    let key = ring.get(Kid::parse(parts.next()?)?)?;
    let fields: Vec<&str> = parts.collect();
    let fields: [&str; N] = fields.try_into().ok()?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .ok()
        .filter(|t| t.len() == TAG_LEN)?;
    key.verify_truncated(&[hash.as_bytes(), &raw.as_bytes()[..=signed.len()]], &tag)
        .ok()?;
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::HmacKey;
    use crate::token::SessionId;

    fn ring(secret: u8) -> KeyRing {
        KeyRing::new(vec![(
            Kid::parse("k1").unwrap(),
            HmacKey::new(&[secret; 32]),
        )])
        .unwrap()
    }

    #[test]
    fn a_value_opens_only_for_its_session_key_and_shape() {
        let (hash, other) = (
            SessionId::from_bytes([1; 32]).hash(),
            SessionId::from_bytes([2; 32]).hash(),
        );
        let value = seal(&ring(7), &hash, &["100", "n"]);
        assert!(value.starts_with("k1.100.n."));
        assert_eq!(open::<2>(&ring(7), &hash, &value), Some(["100", "n"]));
        assert_eq!(open::<2>(&ring(7), &other, &value), None);
        assert_eq!(open::<2>(&ring(8), &hash, &value), None);
        assert_eq!(open::<1>(&ring(7), &hash, &value), None);
        for bad in [
            "",
            ".",
            "k1..",
            "k9.100.n.AAAA",
            &value.replacen("100", "101", 1),
            &format!("{value}x"),
            &"k1.1.".repeat(40),
        ] {
            assert_eq!(open::<2>(&ring(7), &hash, bad), None, "{bad:?}");
        }
    }
}
