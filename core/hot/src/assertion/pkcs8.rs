//! Reading a PKCS#8 private key (RFC 5208, RFC 5958) far enough to know
//! what it is: its algorithm, and for P-256 its curve. The key itself is
//! never used here: WebCrypto imports it, and signs (DESIGN §5). DER is
//! read strictly (definite lengths, nothing left over), never trusted.

/// What a PKCS#8 key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// An EC key on P-256 (prime256v1).
    P256,
    Ed25519,
}

/// Why a key is not a usable PKCS#8 key; never names its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkcs8Error {
    /// Not the DER of a PKCS#8 private key.
    NotPkcs8,
    /// An RSA key.
    Rsa,
    /// An EC key on another curve than P-256.
    OtherCurve,
    /// A key of another algorithm.
    OtherAlgorithm,
}

impl Pkcs8Error {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotPkcs8 => "is not a PKCS#8 private key (base64url of its DER)",
            Self::Rsa => "is an RSA key: use P-256 (ES256) or Ed25519 (EdDSA)",
            Self::OtherCurve => "is an EC key on another curve than P-256",
            Self::OtherAlgorithm => "is neither a P-256 nor an Ed25519 key",
        }
    }
}

/// id-ecPublicKey, 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// prime256v1, 1.2.840.10045.3.1.7.
const PRIME256V1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// id-Ed25519, 1.3.101.112.
const ED25519: &[u8] = &[0x2B, 0x65, 0x70];
/// rsaEncryption, 1.2.840.113549.1.1.1.
const RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;

/// The type of the PKCS#8 key `der` holds.
pub fn key_type(der: &[u8]) -> Result<KeyType, Pkcs8Error> {
    let mut outer = Der(der);
    let mut info = Der(outer.take(SEQUENCE)?);
    if !outer.0.is_empty() {
        return Err(Pkcs8Error::NotPkcs8);
    }
    // version: 0 (PKCS#8 v1) or 1 (v2, with the public key after).
    if !matches!(info.take(INTEGER)?, [0] | [1]) {
        return Err(Pkcs8Error::NotPkcs8);
    }
    let mut algorithm = Der(info.take(SEQUENCE)?);
    let oid = algorithm.take(OID)?;
    let private_key = Der(info.take(OCTET_STRING)?);
    match oid {
        EC_PUBLIC_KEY => {
            if algorithm.take(OID)? != PRIME256V1 {
                return Err(Pkcs8Error::OtherCurve);
            }
            // ECPrivateKey (RFC 5915): version 1, then the 32-byte scalar.
            let mut key = Der(Der(private_key.0).take(SEQUENCE)?);
            if key.take(INTEGER)? != [1] || key.take(OCTET_STRING)?.len() != 32 {
                return Err(Pkcs8Error::NotPkcs8);
            }
            Ok(KeyType::P256)
        }
        ED25519 if algorithm.0.is_empty() => {
            // CurvePrivateKey (RFC 8410): the 32-byte seed.
            let mut key = private_key;
            if key.take(OCTET_STRING)?.len() != 32 || !key.0.is_empty() {
                return Err(Pkcs8Error::NotPkcs8);
            }
            Ok(KeyType::Ed25519)
        }
        RSA => Err(Pkcs8Error::Rsa),
        _ => Err(Pkcs8Error::OtherAlgorithm),
    }
}

/// DER yet to be read.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The contents of the next element, which must be of type `tag`.
    fn take(&mut self, tag: u8) -> Result<&'a [u8], Pkcs8Error> {
        let (&found, rest) = self.0.split_first().ok_or(Pkcs8Error::NotPkcs8)?;
        let (&first, rest) = rest.split_first().ok_or(Pkcs8Error::NotPkcs8)?;
        let (len, rest) = match first {
            0..=0x7F => (usize::from(first), rest),
            // Long form, one or two length bytes: no key is longer.
            0x81 | 0x82 => {
                let n = usize::from(first & 0x7F);
                let bytes = rest.get(..n).ok_or(Pkcs8Error::NotPkcs8)?;
                let len = bytes.iter().fold(0, |len, &b| len << 8 | usize::from(b));
                (len, &rest[n..])
            }
            _ => return Err(Pkcs8Error::NotPkcs8),
        };
        if found != tag || rest.len() < len {
            return Err(Pkcs8Error::NotPkcs8);
        }
        let (contents, rest) = rest.split_at(len);
        self.0 = rest;
        Ok(contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    /// Node's `generateKeyPairSync("ec", { namedCurve: "P-256" })`, as
    /// PKCS#8 DER: the public key inside, as WebCrypto exports it too.
    const P256: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwHbT5V++ylRq5c9EynjA0kc4GJ/oJSYWYygE6TGRSlqhRANCAASFIM+txnQODV5HemAybbJ0NsJr5/Gmm9jfBGuE8W5OfRVJ9bV/2vVqxD0Q4vqHwdbLjwv/9PK5wXXw4hKlbiW5";
    /// The same for Ed25519: the seed alone (PKCS#8 v1).
    const ED: &str = "MC4CAQAwBQYDK2VwBCIEINFDZYi1IxZGBbZW55oogsRGRqPujHglx+EEiMmb5hJe";
    /// A P-384 key.
    const P384: &str = "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBJ8kENB1QbGBGEjzVSqhX+LjbLwagQSwuVGxl7TwREK7IbaQyy18ECF6NIKXx5dKahZANiAATr1iSL60uqWQcd2LzcOfW0xe3pqL9x9MWtrOofoD2lue0BJSntyPKVa0zrAtjZwrWTUUn9x4ytb7PMBL623DCmC7kjyhx7gx1k+dG+zr4kJr4eZFBYPxO7TT/Ab1iLZsE=";

    fn der(b64: &str) -> Vec<u8> {
        STANDARD.decode(b64).unwrap()
    }

    #[test]
    fn p256_and_ed25519_keys_are_told_apart() {
        assert_eq!(key_type(&der(P256)), Ok(KeyType::P256));
        assert_eq!(key_type(&der(ED)), Ok(KeyType::Ed25519));
    }

    #[test]
    fn other_keys_and_other_bytes_are_refused_by_what_they_are() {
        assert_eq!(key_type(&der(P384)), Err(Pkcs8Error::OtherCurve));
        // An RSA key's PKCS#8 start: the algorithm is enough to refuse it.
        let rsa = [
            0x30, 0x1B, 0x02, 0x01, 0x00, 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7,
            0x0D, 0x01, 0x01, 0x01, 0x05, 0x00, 0x04, 0x07, 0x30, 0x05, 0x02, 0x01, 0x00, 0x02,
            0x00,
        ];
        assert_eq!(key_type(&rsa), Err(Pkcs8Error::Rsa));
        let mut x25519 = der(ED);
        x25519[11] = 0x6E; // 1.3.101.110: X25519, not a signing key
        assert_eq!(key_type(&x25519), Err(Pkcs8Error::OtherAlgorithm));
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x80],
            &[0x30, 0x03, 0x02, 0x01, 0x00],
            b"not der at all",
        ] {
            assert_eq!(key_type(bad), Err(Pkcs8Error::NotPkcs8), "{bad:?}");
        }
        let mut trailing = der(ED);
        trailing.push(0);
        assert_eq!(key_type(&trailing), Err(Pkcs8Error::NotPkcs8));
        let mut short_seed = der(ED);
        short_seed.truncate(short_seed.len() - 1);
        assert_eq!(key_type(&short_seed), Err(Pkcs8Error::NotPkcs8));
    }
}
