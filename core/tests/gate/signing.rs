//! Public-key assertions (DESIGN §5): with `ASSERTION_SIGNING_KEYS` the
//! driver signs each forward's assertion with the first key (natively, the
//! stand-in for WebCrypto in `store`), and `/.sessiongate/jwks.json`
//! publishes the public half of every key, at no KV cost.

use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sessiongate_core::gate::Sign;
use sessiongate_core::store::sign;

/// Node's `generateKeyPairSync`, as PKCS#8 DER, base64url.
pub(super) const P256: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwHbT5V--ylRq5c9EynjA0kc4GJ_oJSYWYygE6TGRSlqhRANCAASFIM-txnQODV5HemAybbJ0NsJr5_Gmm9jfBGuE8W5OfRVJ9bV_2vVqxD0Q4vqHwdbLjwv_9PK5wXXw4hKlbiW5";
const ED25519: &str = "MC4CAQAwBQYDK2VwBCIEINFDZYi1IxZGBbZW55oogsRGRqPujHglx-EEiMmb5hJe";

fn world(keys: &str) -> World {
    World::with(config_with(&[("ASSERTION_SIGNING_KEYS", keys)]))
}

/// The assertion the driver would set, and the key set the edge publishes.
pub(super) fn signed_assertion(world: &World, fwd: &Forwarded) -> String {
    assert!(
        fwd.headers.iter().all(|(n, _)| *n != assertion::HEADER),
        "the edge leaves the assertion to the driver's signature"
    );
    let request: &Sign = fwd.sign.as_deref().expect("a signature to make");
    assert_eq!(request.header, assertion::HEADER);
    let sessiongate_core::assertion::signing::Signer::Keys(keys) = &world.config.assertion_signer
    else {
        panic!("signing keys")
    };
    sign(keys, request).unwrap()
}

fn key_set(world: &World) -> serde_json::Value {
    let u = url("/.sessiongate/jwks.json");
    let r = reply(world.handle(get(&u, None)));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/jwk-set+json"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    serde_json::from_str(&r.body).unwrap()
}

/// Verifies `jwt` against the published `set`: its header's alg and kid
/// name a key of the set, whose signature it carries.
fn verify(set: &serde_json::Value, jwt: &str) -> serde_json::Value {
    let (input, signature) = jwt.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    let json = |part: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let header = json(header);
    let key = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is published");
    assert_eq!(header["alg"], key["alg"]);
    let b64 = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    match header["alg"].as_str().unwrap() {
        "ES256" => {
            use p256::ecdsa::signature::Verifier as _;
            let point = p256::EncodedPoint::from_affine_coordinates(
                b64("x").as_slice().into(),
                b64("y").as_slice().into(),
                false,
            );
            let key = p256::ecdsa::VerifyingKey::from_encoded_point(&point).unwrap();
            let signature = p256::ecdsa::Signature::from_slice(&signature).unwrap();
            key.verify(input.as_bytes(), &signature).unwrap();
        }
        "EdDSA" => {
            use ed25519_dalek::Verifier as _;
            let key =
                ed25519_dalek::VerifyingKey::from_bytes(&b64("x").try_into().unwrap()).unwrap();
            let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
            key.verify(input.as_bytes(), &signature).unwrap();
        }
        other => panic!("alg {other}"),
    }
    json(payload)
}

#[test]
fn the_first_key_signs_and_the_key_set_verifies_it() {
    for (keys, kid, alg) in [
        (format!("p1:{P256},e1:{ED25519}"), "p1", "ES256"),
        (format!("e1:{ED25519},p1:{P256}"), "e1", "EdDSA"),
    ] {
        let world = world(&keys);
        let (token, id) = world.session("zoë", 60);
        let (c, u) = (cookie(&token), url("/dashboard"));
        let fwd = forward(world.handle(get(&u, Some(&c))));
        assert_eq!(fwd.sign.as_ref().unwrap().kid, kid);
        let jwt = signed_assertion(&world, &fwd);
        let set = key_set(&world);
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            header,
            serde_json::json!({ "alg": alg, "typ": "JWT", "kid": kid })
        );
        let claims = verify(&set, &jwt);
        assert_eq!(
            (claims["sub"].as_str(), claims["aud"].as_str()),
            (Some("zoë"), Some("app"))
        );
        assert_eq!(claims["sid"], id.hash().sid());
        assert_eq!(
            (claims["htm"].as_str(), claims["htu"].as_str()),
            (Some("GET"), Some("/dashboard"))
        );
    }
}

#[test]
fn the_key_set_holds_every_key_public_only_and_costs_no_kv() {
    let world = world(&format!("p1:{P256},e1:{ED25519}"));
    let set = key_set(&world);
    let keys = set["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys.iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["p1", "e1"]
    );
    for key in keys {
        assert!(key.get("d").is_none(), "never the private part");
        assert_eq!(key["use"], "sig");
    }
    assert_eq!(
        (keys[0]["kty"].as_str(), keys[0]["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(
        (keys[1]["kty"].as_str(), keys[1]["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(keys[1].get("y").is_none());
    assert_eq!(world.counts().total(), 0);
    let u = url("/.sessiongate/jwks.json");
    let post = reply(world.handle(Inbound {
        method: "POST",
        ..get(&u, None)
    }));
    assert_eq!(
        (post.status, post.header("allow")),
        (405, Some("GET, HEAD"))
    );
}

#[test]
fn without_signing_keys_there_is_no_key_set_and_assertions_are_hs256() {
    let world = World::new();
    let u = url("/.sessiongate/jwks.json");
    let r = reply(world.handle(get(&u, None)));
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, r#"{"error":"not_found"}"#)
    );
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let fwd = forward(world.handle(get(&u, Some(&c))));
    assert!(fwd.sign.is_none());
    assert_eq!(dashboard_assertion(&fwd).sub, "alice");
}

#[test]
fn a_key_the_driver_cannot_sign_with_fails_closed() {
    let world = world(&format!("p1:{P256}"));
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let mut exchange = fwd.exchange.borrow_mut().take().unwrap();
    let step = exchange.resume(
        world.gate(),
        Input::Unsigned("DataError: the key is not valid".to_owned()),
    );
    let Step::Finish(Answer::Reply(reply), log) = step else {
        panic!("{step:?}")
    };
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (500, r#"{"error":"misconfigured"}"#)
    );
    assert_eq!(log.reason, Some("signing_key_unusable"));
}
