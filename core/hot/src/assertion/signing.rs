//! Public-key assertions (DESIGN §5): `ASSERTION_SIGNING_KEYS`, the keys
//! the edge signs assertions with, and the key set it publishes, so that an
//! origin verifies with nothing that can sign.
//!
//! Nothing here signs. A key is read far enough to know its algorithm
//! (`pkcs8`), the gate builds the JWS signing input, and WebCrypto makes the
//! signature in the driver, as it verifies the provider's and the
//! browser's; it also exports the public half of each key, which
//! [`SigningKeys::key_set`] checks and publishes.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;

use super::pkcs8::{self, KeyType, Pkcs8Error};
use crate::key::HmacKey;

/// Longest key id.
pub const MAX_KID_LEN: usize = 32;

/// What a key id may be, in words.
pub const KID_RULE: &str = "1 to 32 characters of A-Z, a-z, 0-9, - and _";

/// The JWS algorithm a key signs with, fixed by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
}

/// One key of `ASSERTION_SIGNING_KEYS`. Its DER never leaves the edge but
/// for WebCrypto's import, and `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    /// The PKCS#8 DER, base64url unpadded.
    pkcs8: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({} {}, ..)", self.kid, self.alg.as_str())
    }
}

impl SigningKey {
    /// Key `kid` from its PKCS#8 DER in base64url (or standard base64,
    /// as `openssl` prints it). A problem names the key id, never the key.
    pub fn new(kid: &str, pkcs8: &str) -> Result<Self, String> {
        let pkcs8 = pkcs8
            .trim()
            .trim_end_matches('=')
            .replace('+', "-")
            .replace('/', "_");
        let kind = URL_SAFE_NO_PAD
            .decode(&pkcs8)
            .map_err(|_| Pkcs8Error::NotPkcs8)
            .and_then(|der| pkcs8::key_type(&der));
        let alg = match kind {
            Ok(KeyType::P256) => Algorithm::Es256,
            Ok(KeyType::Ed25519) => Algorithm::EdDsa,
            Err(e) => return Err(format!("key {kid} {}", e.as_str())),
        };
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            pkcs8,
        })
    }

    /// Whether `kid` may be a key id: [`KID_RULE`].
    pub fn is_kid(kid: &str) -> bool {
        (1..=MAX_KID_LEN).contains(&kid.len())
            && kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// The PKCS#8 DER, base64url: what the driver imports into WebCrypto.
    pub fn pkcs8(&self) -> &str {
        &self.pkcs8
    }

    /// The JWS header, base64url, of what this key signs: it names the
    /// key's `alg` and `kid`.
    fn header(&self) -> String {
        // The key id is `[A-Za-z0-9_-]`: JSON as it is.
        let header = [
            r#"{"alg":""#,
            self.alg.as_str(),
            r#"","typ":"JWT","kid":""#,
            &self.kid,
            r#""}"#,
        ]
        .concat();
        URL_SAFE_NO_PAD.encode(header)
    }
}

/// `ASSERTION_SIGNING_KEYS`: the first key signs, every key is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeys(Vec<SigningKey>);

/// How the edge signs assertions.
#[derive(Debug, Clone)]
pub enum Signer {
    /// HS256 under `ASSERTION_KEY`, which the origin shares.
    Shared(HmacKey),
    /// `ASSERTION_SIGNING_KEYS`: the origin holds only public keys.
    Keys(SigningKeys),
}

/// Claims signed by a [`Signer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// The token, HS256: the edge holds the key.
    Token(String),
    /// The JWS signing input, `header.payload`, for WebCrypto to sign with
    /// key `kid`: the token is this, a dot, and the signature's base64url.
    Input { kid: String, input: String },
}

impl Signer {
    /// `claims` signed as a JWT, or made ready for the driver to sign.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Signed {
        // One serialisation for both kinds: each is a copy of the code.
        let header = match self {
            Self::Shared(_) => crate::jwt::HEADER.to_owned(),
            Self::Keys(keys) => keys.signer().header(),
        };
        let input = crate::jwt::signing_input(&header, claims);
        match self {
            Self::Shared(key) => Signed::Token(crate::jwt::sign_input(key, input)),
            Self::Keys(keys) => Signed::Input {
                kid: keys.signer().kid.clone(),
                input,
            },
        }
    }
}

impl SigningKeys {
    /// The keys, the signer first; `None` when there are none.
    pub fn new(keys: Vec<SigningKey>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self(keys))
    }

    /// The key that signs: the first.
    pub fn signer(&self) -> &SigningKey {
        &self.0[0]
    }

    /// Every key, the signer first.
    pub fn keys(&self) -> &[SigningKey] {
        &self.0
    }

    /// The key set to publish, `{"keys":[…]}`, from the public halves
    /// WebCrypto exported: a line per key, in order, of its coordinates
    /// `x` (and ` y` for P-256), base64url. A line that does not fit its
    /// key's type is refused. Written by hand, not serialised: every value
    /// is a key id or base64url, which JSON takes as it is.
    pub fn key_set(&self, exported: &str) -> Result<String, String> {
        let mut lines = exported.lines();
        let mut set = String::from(r#"{"keys":["#);
        for (i, key) in self.0.iter().enumerate() {
            let mut coordinates = lines.next().unwrap_or_default().split(' ');
            // 32 bytes, base64url: a P-256 coordinate, or an Ed25519 key.
            let mut coordinate = || {
                coordinates.next().filter(|c| {
                    c.len() == 43
                        && c.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
            };
            let x = coordinate();
            let (kty, crv, y) = match key.alg {
                Algorithm::Es256 => (
                    "EC",
                    "P-256",
                    coordinate().map(|y| [r#","y":""#, y, "\""].concat()),
                ),
                Algorithm::EdDsa => ("OKP", "Ed25519", Some(String::new())),
            };
            let (Some(x), Some(y), None) = (x, y, coordinates.next()) else {
                return Err(format!(
                    "key {} was not exported as its kind of key",
                    key.kid
                ));
            };
            if i > 0 {
                set.push(',');
            }
            for part in [
                r#"{"kty":""#,
                kty,
                r#"","crv":""#,
                crv,
                r#"","x":""#,
                x,
                "\"",
                &y,
                r#","kid":""#,
                &key.kid,
                r#"","alg":""#,
                key.alg.as_str(),
                r#"","use":"sig"}"#,
            ] {
                set.push_str(part);
            }
        }
        set.push_str("]}");
        Ok(set)
    }

    /// The keys as the driver imports them into WebCrypto: a line per key,
    /// `kid alg pkcs8`, the DER base64url.
    pub fn for_driver(&self) -> String {
        let mut lines = String::new();
        for key in &self.0 {
            for part in [&key.kid, " ", key.alg.as_str(), " ", &key.pkcs8, "\n"] {
                lines.push_str(part);
            }
        }
        lines
    }
}

/// Throwaway keys (PKCS#8, base64url) for tests, this crate's and
/// sessiongate-core's (its `test-keys` feature): a P-256 and an Ed25519 key.
#[cfg(any(test, feature = "test-keys"))]
pub mod test_keys {
    pub const P256: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwHbT5V--ylRq5c9EynjA0kc4GJ_oJSYWYygE6TGRSlqhRANCAASFIM-txnQODV5HemAybbJ0NsJr5_Gmm9jfBGuE8W5OfRVJ9bV_2vVqxD0Q4vqHwdbLjwv_9PK5wXXw4hKlbiW5";
    pub const ED: &str = "MC4CAQAwBQYDK2VwBCIEINFDZYi1IxZGBbZW55oogsRGRqPujHglx-EEiMmb5hJe";
}

#[cfg(test)]
mod tests {
    use super::test_keys::{ED, P256};
    use super::*;

    fn keys(entries: &[(&str, &str)]) -> SigningKeys {
        let keys = entries
            .iter()
            .map(|(kid, key)| SigningKey::new(kid, key).unwrap())
            .collect();
        SigningKeys::new(keys).unwrap()
    }

    #[test]
    fn the_first_key_signs_and_each_key_has_its_algorithm() {
        let keys = keys(&[("k2", ED), ("k1", P256)]);
        assert_eq!(keys.signer().kid, "k2");
        assert_eq!(keys.signer().alg, Algorithm::EdDsa);
        assert_eq!(keys.keys()[1].alg, Algorithm::Es256);
        assert_eq!(keys.keys()[1].pkcs8(), P256);
        assert!(SigningKeys::new(Vec::new()).is_none());
    }

    #[test]
    fn standard_base64_as_openssl_prints_it_reads_the_same() {
        let mut padded = ED.replace('-', "+").replace('_', "/");
        while !padded.len().is_multiple_of(4) {
            padded.push('=');
        }
        let key = SigningKey::new("k", &padded).unwrap();
        assert_eq!((key.alg, key.pkcs8()), (Algorithm::EdDsa, ED));
    }

    #[test]
    fn a_key_that_is_not_pkcs8_is_named_by_its_kid_never_shown() {
        for text in ["bm90IGEga2V5", "***", &P256[..60]] {
            let error = SigningKey::new("k1", text).unwrap_err();
            assert_eq!(
                error,
                "key k1 is not a PKCS#8 private key (base64url of its DER)"
            );
        }
    }

    #[test]
    fn key_ids_are_short_and_url_safe() {
        assert!(SigningKey::is_kid("2026-12_a"));
        assert!(SigningKey::is_kid(&"k".repeat(32)));
        for bad in ["", "k 2", "k.1", "ké", &"k".repeat(33)] {
            assert!(!SigningKey::is_kid(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_signing_input_names_the_algorithm_and_key() {
        let signer = Signer::Keys(keys(&[("k1", P256), ("k0", ED)]));
        let Signed::Input { kid, input } = signer.sign(&serde_json::json!({ "sub": "alice" }))
        else {
            panic!("the driver signs")
        };
        assert_eq!(kid, "k1");
        let (header, payload) = input.split_once('.').unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({ "alg": "ES256", "typ": "JWT", "kid": "k1" })
        );
        assert_eq!(
            URL_SAFE_NO_PAD.decode(payload).unwrap(),
            br#"{"sub":"alice"}"#
        );
    }

    #[test]
    fn a_shared_key_signs_hs256_at_the_edge() {
        let key = HmacKey::new(&[7; 32]);
        let claims = serde_json::json!({ "sub": "alice" });
        assert_eq!(
            Signer::Shared(key.clone()).sign(&claims),
            Signed::Token(crate::jwt::sign(&key, &claims))
        );
    }

    #[test]
    fn the_key_set_is_built_from_each_keys_coordinates_and_refuses_what_does_not_fit() {
        let keys = keys(&[("a", P256), ("b", ED)]);
        let x = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let y = URL_SAFE_NO_PAD.encode([2u8; 32]);
        let set: serde_json::Value =
            serde_json::from_str(&keys.key_set(&format!("{x} {y}\n{x}\n")).unwrap()).unwrap();
        assert_eq!(
            set,
            serde_json::json!({ "keys": [
                { "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": "a", "alg": "ES256", "use": "sig" },
                { "kty": "OKP", "crv": "Ed25519", "x": x, "kid": "b", "alg": "EdDSA", "use": "sig" },
            ]})
        );
        for (unfit, kid) in [
            (format!("{x}\n{x} {y}"), "a"),
            (format!("{x} {y}"), "b"),
            (format!("AAAA {y}\n{x}"), "a"),
            (format!("{x} {y}!\n{x}"), "a"),
            (format!("{x} {y}\n{x} {x}"), "b"),
        ] {
            assert_eq!(
                keys.key_set(&unfit),
                Err(format!("key {kid} was not exported as its kind of key")),
                "{unfit}"
            );
        }
    }
}
