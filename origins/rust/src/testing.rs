//! Keys and assertions as the edge makes them, for examples and tests:
//! a signing key, its public JWK, and assertions signed with it exactly as
//! the edge signs them. Not for use outside tests: the keys come from a
//! fixed seed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sessiongate_core::assertion::{AssertionClaims, Kind, ISSUER, LIFETIME};

use crate::Claims;

/// A signing key of the edge's, with its `kid`.
pub struct TestKey {
    kid: String,
    secret: Secret,
}

enum Secret {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl TestKey {
    /// A P-256 key (ES256) made from `seed`: another seed, another key.
    pub fn es256(kid: &str, seed: u8) -> Self {
        // Never zero, and below the group order (0xFFFFFFFF00000000…).
        let scalar = [seed.clamp(1, 0xFE); 32];
        Self {
            kid: kid.to_owned(),
            secret: Secret::P256(
                p256::ecdsa::SigningKey::from_bytes(&scalar.into()).expect("a valid scalar"),
            ),
        }
    }

    /// An Ed25519 key (EdDSA) made from `seed`.
    pub fn ed_dsa(kid: &str, seed: u8) -> Self {
        Self {
            kid: kid.to_owned(),
            secret: Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[seed; 32])),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK, as the edge publishes it.
    pub fn jwk(&self) -> Value {
        match &self.secret {
            Secret::P256(key) => {
                let point = key.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(point.x().expect("uncompressed")),
                    "y": URL_SAFE_NO_PAD.encode(point.y().expect("uncompressed")),
                    "kid": self.kid, "alg": "ES256", "use": "sig",
                })
            }
            Secret::Ed25519(key) => json!({
                "kty": "OKP", "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
                "kid": self.kid, "alg": "EdDSA", "use": "sig",
            }),
        }
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> &'static str {
        match self.secret {
            Secret::P256(_) => "ES256",
            Secret::Ed25519(_) => "EdDSA",
        }
    }

    /// The signature of `message`: raw `r‖s` for ES256.
    pub fn signature(&self, message: &[u8]) -> [u8; 64] {
        // One trait, `signature::Signer`, for both curves.
        use ed25519_dalek::Signer as _;
        match &self.secret {
            Secret::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_bytes().into()
            }
            Secret::Ed25519(key) => key.sign(message).to_bytes(),
        }
    }

    /// A compact JWS of any header and payload, signed with this key.
    pub fn sign_jws(&self, header: &Value, payload: &Value) -> String {
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload.to_string(), &mut token);
        let signature = self.signature(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }

    /// `claims` as the edge signs them: `{"alg":…,"typ":"JWT","kid":…}`.
    pub fn sign(&self, claims: &AssertionClaims) -> String {
        let header = json!({ "alg": self.alg(), "typ": "JWT", "kid": self.kid });
        let payload = serde_json::to_value(claims).expect("claims serialize");
        self.sign_jws(&header, &payload)
    }

    /// An assertion for one request, as the edge would issue it.
    pub fn assertion(
        &self,
        audience: &str,
        sub: &str,
        method: &str,
        path_and_query: &str,
        now: u64,
    ) -> String {
        self.sign(&claims(audience, sub, method, path_and_query, now))
    }
}

/// The key set the edge publishes with these keys.
pub fn key_set(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>() }).to_string()
}

/// A session's assertion claims for one request, issued at `now`.
pub fn claims(
    audience: &str,
    sub: &str,
    method: &str,
    path_and_query: &str,
    now: u64,
) -> AssertionClaims {
    AssertionClaims {
        iss: ISSUER.to_owned(),
        aud: audience.to_owned(),
        sub: sub.to_owned(),
        sid: "AAAAAAAAAAAAAAAA".to_owned(),
        iat: now,
        exp: now + LIFETIME,
        auth_time: now,
        htm: method.to_owned(),
        htu: path_and_query.to_owned(),
        claims: Claims::new(),
        email: None,
        groups: Vec::new(),
        device_bound: false,
        kind: Kind::Session,
        client_id: None,
        scope: None,
    }
}
