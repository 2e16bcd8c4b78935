//! `token::KeyRing::verify` and `Token`'s parser on arbitrary UTF-8.
//!
//! Invariants:
//! - `raw.parse::<Token>()` succeeds only for canonical text:
//!   `token.to_string() == raw`, and never for input over `MAX_TOKEN_LEN`.
//! - `verify` accepts only what parses, under a kid in the ring, with a stamp
//!   no further ahead than `MAX_FUTURE_SKEW`, and exactly what that key would
//!   have minted (`mint(id, stamp) == raw`).
//! - The `SessionId` / `IdHash` parsers are canonical too.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sessiongate_core::key::HmacKey;
use sessiongate_core::token::{IdHash, KeyRing, Kid, SessionId, Token, TokenError, MAX_FUTURE_SKEW, MAX_TOKEN_LEN};

/// Same clock as the seed tokens in corpus/token (minted at 1_700_000_000).
const NOW: u64 = 1_700_000_000;

struct Rings {
    /// Verifies: primary k1, also k2.
    both: KeyRing,
    /// Mints as k1 / as k2, to re-mint what `both` accepted.
    k1: KeyRing,
    k2: KeyRing,
}

fn rings() -> &'static Rings {
    static RINGS: OnceLock<Rings> = OnceLock::new();
    RINGS.get_or_init(|| {
        let k1 = (Kid::parse("k1").unwrap(), HmacKey::new(b"fuzz-session-key-one-0123456789ab"));
        let k2 = (Kid::parse("k2").unwrap(), HmacKey::new(b"fuzz-session-key-two-0123456789ab"));
        Rings {
            both: KeyRing::new(vec![k1.clone(), k2.clone()]).unwrap(),
            k1: KeyRing::new(vec![k1]).unwrap(),
            k2: KeyRing::new(vec![k2]).unwrap(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let rings = rings();

    let parsed = raw.parse::<Token>();
    match &parsed {
        Ok(token) => {
            assert!(raw.len() <= MAX_TOKEN_LEN, "over-long token parsed: {raw:?}");
            assert_eq!(token.to_string(), raw, "parsed token is not canonical");
        }
        Err(TokenError::TooLong) => assert!(raw.len() > MAX_TOKEN_LEN),
        Err(e) => assert_eq!(*e, TokenError::Malformed, "parse gave {e:?}"),
    }

    // Verify at a fixed time and at a time derived from the input, so both
    // the accept path (seeds) and the future-stamp path are reached.
    let later = data.iter().fold(NOW, |t, &b| t.wrapping_mul(31).wrapping_add(u64::from(b)));
    for now in [NOW, later, 0, u64::MAX] {
        match rings.both.verify(raw, now) {
            Ok(token) => {
                let parsed = parsed.as_ref().expect("verify accepted what does not parse");
                assert_eq!(&token, parsed);
                assert!(rings.both.contains(token.kid()));
                assert!(token.stamp() <= now.saturating_add(MAX_FUTURE_SKEW));
                let minter = match token.kid().as_str() {
                    "k1" => &rings.k1,
                    "k2" => &rings.k2,
                    other => panic!("verified under unknown kid {other}"),
                };
                assert_eq!(minter.mint(token.id(), token.stamp()), raw, "verified token is not what the key mints");
            }
            Err(TokenError::TooLong | TokenError::Malformed) => {
                assert!(parsed.is_err(), "verify called parsed text malformed")
            }
            Err(TokenError::UnknownKey) => {
                let parsed = parsed.as_ref().expect("unknown key for unparsed text");
                assert!(!rings.both.contains(parsed.kid()));
            }
            Err(TokenError::BadTag | TokenError::FutureStamp) => {
                let parsed = parsed.as_ref().expect("tag checked on unparsed text");
                assert!(rings.both.contains(parsed.kid()));
            }
        }
    }

    // The component parsers are canonical as well.
    if let Ok(id) = raw.parse::<SessionId>() {
        assert_eq!(id.to_string(), raw);
        let hash = id.hash();
        assert_eq!(hash.to_string().parse::<IdHash>(), Ok(hash));
    }
    if let Ok(hash) = raw.parse::<IdHash>() {
        assert_eq!(hash.to_string(), raw);
        assert!(raw.starts_with(&hash.sid()));
    }
    if let Some(kid) = Kid::parse(raw) {
        assert_eq!(kid.as_str(), raw);
    }
});
