//! The token vectors in core/tests/vectors/tokens.json, computed outside this
//! crate, against mint, parse and verify.

use serde::Deserialize;
use sessiongate_core::key::HmacKey;
use sessiongate_core::token::{KeyRing, Kid, SessionId};

#[derive(Deserialize)]
struct Vectors {
    keys: Vec<Key>,
    now: u64,
    valid: Vec<Valid>,
    invalid: Vec<Invalid>,
}

#[derive(Deserialize)]
struct Key {
    kid: String,
    secret: String,
}

#[derive(Deserialize)]
struct Valid {
    name: String,
    kid: String,
    id: String,
    stamp: u64,
    token: String,
}

#[derive(Deserialize)]
struct Invalid {
    name: String,
    token: String,
    error: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("vectors/tokens.json")).expect("tokens.json parses")
}

fn ring(keys: &[Key]) -> KeyRing {
    let keys = keys
        .iter()
        .map(|k| {
            (
                Kid::parse(&k.kid).unwrap(),
                HmacKey::new(k.secret.as_bytes()),
            )
        })
        .collect();
    KeyRing::new(keys).unwrap()
}

#[test]
fn valid_vectors_verify_to_their_parts() {
    let v = vectors();
    let ring = ring(&v.keys);
    for case in &v.valid {
        let token = ring
            .verify(&case.token, v.now)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(token.kid().as_str(), case.kid, "{}", case.name);
        assert_eq!(token.id().to_string(), case.id, "{}", case.name);
        assert_eq!(token.stamp(), case.stamp, "{}", case.name);
    }
}

#[test]
fn minting_with_the_primary_key_reproduces_its_vectors() {
    let v = vectors();
    let ring = ring(&v.keys);
    let primary = &v.keys[0].kid;
    for case in v.valid.iter().filter(|c| &c.kid == primary) {
        let id: SessionId = case.id.parse().unwrap();
        assert_eq!(ring.mint(&id, case.stamp), case.token, "{}", case.name);
    }
}

#[test]
fn invalid_vectors_fail_with_their_documented_error() {
    let v = vectors();
    let ring = ring(&v.keys);
    for case in &v.invalid {
        let error = ring.verify(&case.token, v.now).expect_err(&case.name);
        assert_eq!(format!("{error:?}"), case.error, "{}", case.name);
    }
}
