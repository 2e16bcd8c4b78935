//! `X-Sessiongate-User` (DESIGN §4.7): the user id in a request header, in
//! one encoding that no header handling can turn into another user's id.
//!
//! A user id of visible ASCII alone (`alice`, `a,b`, `ada@example.com`) is
//! sent as it is. Any other (`zoë`, `日本`, `a b`) is sent as RFC 8187's
//! extended value, `UTF-8''` and its UTF-8 bytes percent-encoded
//! (`UTF-8''zo%C3%AB`): a header holds no bytes beyond ASCII that every
//! server reads alike (many read them as Latin-1). An id that itself
//! begins with the marker is encoded too, so a plain value never reads as
//! an encoded one. The assertion's `sub` carries the id exactly; this
//! header is the convenience.

use std::borrow::Cow;

/// What begins an encoded value.
pub const MARKER: &str = "UTF-8''";

/// The header's value for `uid`.
pub fn encode(uid: &str) -> Cow<'_, str> {
    let plain = uid.bytes().all(|b| b.is_ascii_graphic()) && !has_marker(uid);
    if plain {
        return Cow::Borrowed(uid);
    }
    let mut out = String::with_capacity(MARKER.len() + uid.len() * 3);
    out.push_str(MARKER);
    for b in uid.bytes() {
        if is_attr_char(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Cow::Owned(out)
}

/// The user id a header's value names; `None` for a malformed encoding.
pub fn decode(value: &str) -> Option<Cow<'_, str>> {
    if !has_marker(value) {
        return Some(Cow::Borrowed(value));
    }
    let encoded = &value.as_bytes()[MARKER.len()..];
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        match encoded[i] {
            b'%' => {
                let hex = std::str::from_utf8(encoded.get(i + 1..i + 3)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if is_attr_char(b) => {
                bytes.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

fn has_marker(value: &str) -> bool {
    value
        .get(..MARKER.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(MARKER))
}

/// RFC 8187's `attr-char`: what an extended value holds unencoded.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_ascii_goes_as_it_is() {
        for uid in ["alice", "a,b", "ada@example.com", "u-1_2.3~", "x'y\"z"] {
            assert_eq!(encode(uid), uid);
            assert_eq!(decode(uid).as_deref(), Some(uid));
        }
    }

    #[test]
    fn anything_else_is_percent_encoded_utf8_behind_the_marker() {
        assert_eq!(encode("zoë"), "UTF-8''zo%C3%AB");
        assert_eq!(encode("日本"), "UTF-8''%E6%97%A5%E6%9C%AC");
        assert_eq!(encode("a b"), "UTF-8''a%20b");
        assert_eq!(encode("50%"), "50%");
        // An id that looks encoded is encoded, so it reads back as itself.
        assert_eq!(encode("UTF-8''abc"), "UTF-8''UTF-8%27%27abc");
        assert_eq!(encode("utf-8''abc"), "UTF-8''utf-8%27%27abc");
        for uid in ["zoë", "日本", "a b", "UTF-8''abc", "a%20b é", "😀"] {
            assert_eq!(decode(&encode(uid)).as_deref(), Some(uid), "{uid}");
        }
    }

    #[test]
    fn a_malformed_encoding_names_no_one() {
        for bad in [
            "UTF-8''%",
            "UTF-8''%G1",
            "UTF-8''a b",
            "UTF-8''%FF",
            "utf-8''%C3",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
