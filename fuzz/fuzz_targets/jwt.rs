//! `jwt::verify` and `handoff::verify` on arbitrary strings, and a
//! sign / flip-one-byte / verify round trip.
//!
//! Input: the whole input (if UTF-8) is verified as a JWT and as a handoff.
//! Then bytes 0-1 choose a position, byte 2 an XOR mask, and the rest (if
//! UTF-8) is the `sub` of claims that are signed, verified, and verified
//! again with the chosen byte flipped.
//!
//! Invariants:
//! - a token accepted by `jwt::verify` has three parts, a 43-character
//!   signature, and is at most `MAX_JWT_LEN` long; `handoff::verify` accepts
//!   only a good `sub` (per `session::check_uid`), an `exp` in
//!   `(now, now + MAX_AHEAD]`, and claims within `MAX_CLAIMS_BYTES`;
//! - what `jwt::sign` produces verifies and gives back the same claims
//!   (or is refused as `TooLong` if over `MAX_JWT_LEN`); as a handoff it is
//!   accepted exactly when `sub` passes `check_uid`;
//! - flipping any one byte of a signed token (to another valid UTF-8
//!   string) makes both `jwt::verify` and `handoff::verify` fail.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use sessiongate_core::handoff;
use sessiongate_core::jwt::{self, JwtError, MAX_JWT_LEN};
use sessiongate_core::key::HmacKey;
use sessiongate_core::session::{check_claims, check_uid};

/// Same clock and key as the seeds in corpus/jwt.
const NOW: u64 = 1_700_000_000;
const SECRET: &[u8] = b"fuzz-handoff-key-0123456789abcdef";

fn key() -> &'static HmacKey {
    static KEY: OnceLock<HmacKey> = OnceLock::new();
    KEY.get_or_init(|| HmacKey::new(SECRET))
}

fuzz_target!(|data: &[u8]| {
    let key = key();

    // 1. Arbitrary text.
    if let Ok(text) = std::str::from_utf8(data) {
        match jwt::verify::<Value>(key, text) {
            Ok(_) => {
                assert!(text.len() <= MAX_JWT_LEN);
                let parts: Vec<&str> = text.split('.').collect();
                assert_eq!(parts.len(), 3, "accepted a JWT without three parts");
                assert_eq!(parts[2].len(), 43, "accepted a non-canonical signature");
            }
            Err(JwtError::TooLong) => assert!(text.len() > MAX_JWT_LEN),
            Err(_) => {}
        }
        for now in [NOW, NOW + 60, 0, u64::MAX] {
            if let Ok(h) = handoff::verify(key, text, now) {
                assert!(check_uid(&h.uid).is_ok(), "handoff accepted bad uid {:?}", h.uid);
                assert!(check_claims(&h.claims).is_ok(), "handoff accepted oversized claims");
                let claims: Value = jwt::verify(key, text).expect("handoff accepted a bad JWT");
                let exp = claims["exp"].as_u64().expect("handoff accepted without exp");
                assert!(exp > now && exp <= now.saturating_add(handoff::MAX_AHEAD));
                assert_eq!(claims["sub"].as_str(), Some(h.uid.as_str()));
            }
        }
    }

    // 2. Sign, verify, flip one byte, verify again.
    let [p0, p1, mask, rest @ ..] = data else {
        return;
    };
    let Ok(sub) = std::str::from_utf8(rest) else {
        return;
    };
    let claims = json!({ "sub": sub, "exp": NOW + 60, "claims": { "role": sub } });
    let token = jwt::sign(key, &claims);
    match jwt::verify::<Value>(key, &token) {
        Ok(back) => assert_eq!(back, claims, "round trip changed the claims"),
        Err(JwtError::TooLong) => assert!(token.len() > MAX_JWT_LEN),
        Err(e) => panic!("signed token refused: {e:?}"),
    }
    let expect_handoff = token.len() <= MAX_JWT_LEN
        && check_uid(sub).is_ok()
        && check_claims(&[("role".to_owned(), sub.to_owned())].into()).is_ok();
    assert_eq!(
        handoff::verify(key, &token, NOW).is_ok(),
        expect_handoff,
        "handoff of sub {sub:?}: {:?}",
        handoff::verify(key, &token, NOW)
    );

    let pos = usize::from(u16::from_le_bytes([*p0, *p1])) % token.len();
    let mask = if *mask == 0 { 1 } else { *mask };
    let mut flipped = token.clone().into_bytes();
    flipped[pos] ^= mask;
    let Ok(flipped) = String::from_utf8(flipped) else {
        return;
    };
    if flipped == token {
        return;
    }
    assert!(
        jwt::verify::<Value>(key, &flipped).is_err(),
        "token with byte {pos} ^ {mask:#04x} still verifies: {flipped}"
    );
    assert!(
        handoff::verify(key, &flipped, NOW).is_err(),
        "handoff with byte {pos} ^ {mask:#04x} still verifies: {flipped}"
    );
});
