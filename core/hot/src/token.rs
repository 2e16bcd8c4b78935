//! Session tokens: `sg1.<kid>.<id>.<t>.<tag>` (DESIGN §1).
//!
//! The token carries the session's random id, the time it was last stamped
//! and a truncated HMAC over both, so a forged, truncated or idle-expired
//! token is rejected before any storage is touched. Parsing checks length
//! and shape before any work and decodes into fixed arrays: nothing here
//! allocates in proportion to what an attacker sends.
//!
//! ```
//! use sessiongate_hot::key::HmacKey;
//! use sessiongate_hot::token::{KeyRing, Kid, SessionId};
//!
//! let ring = KeyRing::new(vec![(Kid::parse("k1").unwrap(), HmacKey::new(&[7; 32]))]).unwrap();
//! let id = SessionId::from_bytes([1; 32]);
//! let token = ring.mint(&id, 1_700_000_000);
//! let checked = ring.verify(&token, 1_700_000_030).unwrap();
//! assert_eq!(checked.id(), &id);
//! assert!(ring.verify(&token.replace("sg1.k1", "sg1.k2"), 1_700_000_030).is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::key::HmacKey;

/// Version prefix; a future format gets a new one.
pub const VERSION: &str = "sg1";
/// Longest token accepted; longer input is rejected unread.
pub const MAX_TOKEN_LEN: usize = 160;
/// How far in the future a stamp may lie before the token is refused
/// (clock skew between edge locations).
pub const MAX_FUTURE_SKEW: u64 = 60;

const ID_LEN: usize = 32;
const ID_B64_LEN: usize = 43;
const TAG_LEN: usize = 16;
const TAG_B64_LEN: usize = 22;
const MAX_KID_LEN: usize = 8;
const MAX_STAMP_DIGITS: usize = 20;

/// Why a token was refused. Every variant maps to the reason `invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_LEN`].
    TooLong,
    /// Not `sg1.<kid>.<id>.<t>.<tag>` with each part in canonical form.
    Malformed,
    /// The kid names no key in `SESSION_KEYS`.
    UnknownKey,
    /// The tag does not match: forged or altered.
    BadTag,
    /// Stamped more than [`MAX_FUTURE_SKEW`] seconds from now.
    FutureStamp,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLong => "token too long",
            Self::Malformed => "token malformed",
            Self::UnknownKey => "token signed with an unknown key id",
            Self::BadTag => "token tag does not verify",
            Self::FutureStamp => "token stamped in the future",
        })
    }
}

impl std::error::Error for TokenError {}

/// A key id: `[a-z0-9]{1,8}`, stored inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Kid {
    bytes: [u8; MAX_KID_LEN],
    len: u8,
}

impl Kid {
    /// Whether `s` is 1 to 8 characters of `[a-z0-9]`.
    pub fn is_valid(s: &str) -> bool {
        (1..=MAX_KID_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }

    /// `None` unless `s` [is valid](Self::is_valid).
    pub fn parse(s: &str) -> Option<Self> {
        if !Self::is_valid(s) {
            return None;
        }
        let mut bytes = [0; MAX_KID_LEN];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(Self {
            bytes,
            len: s.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({})", self.as_str())
    }
}

/// 32 random bytes naming a session for its whole life.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId([u8; ID_LEN]);

impl SessionId {
    /// A fresh id from the platform CSPRNG (`crypto.getRandomValues` on Workers).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0; ID_LEN];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
        Self(bytes)
    }

    /// What storage knows the session by: SHA-256 of the id, so a leaked
    /// store or log holds no usable session.
    pub fn hash(&self) -> IdHash {
        IdHash(Sha256::digest(self.0).into())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_b64::<ID_B64_LEN>(f, &self.0)
    }
}

// The id is a bearer secret: never print it by accident.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

impl FromStr for SessionId {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_exact::<ID_LEN>(s, ID_B64_LEN).map(Self)
    }
}

/// SHA-256 of a session id; base64url in KV keys, logs and `sid`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IdHash([u8; 32]);

impl IdHash {
    /// Length of the base64url form.
    pub const ENCODED_LEN: usize = 43;

    /// The short public name of a session: the first 16 characters of the
    /// hash, as in the assertion's `sid` and the logs.
    pub fn sid(&self) -> String {
        // 12 bytes are exactly 16 base64 characters: the encoding's prefix.
        let mut buf = [0; 16];
        match URL_SAFE_NO_PAD.encode_slice(&self.0[..12], &mut buf) {
            Ok(16) => buf.iter().map(|&b| char::from(b)).collect(),
            _ => String::new(),
        }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Appends the base64url form to `out`, as `Display` writes it.
    pub fn encode_into(&self, out: &mut String) {
        URL_SAFE_NO_PAD.encode_string(self.0, out);
    }
}

impl fmt::Display for IdHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_b64::<{ IdHash::ENCODED_LEN }>(f, &self.0)
    }
}

impl FromStr for IdHash {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_exact::<32>(s, Self::ENCODED_LEN).map(Self)
    }
}

/// A token whose shape has been checked; its tag is checked by [`KeyRing::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    kid: Kid,
    id: SessionId,
    stamp: u64,
    tag: [u8; TAG_LEN],
}

impl Token {
    pub fn kid(&self) -> Kid {
        self.kid
    }

    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// Unix seconds when the token was last stamped.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }
}

impl FromStr for Token {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong);
        }
        let mut parts = s.split('.');
        let mut next = || parts.next().ok_or(TokenError::Malformed);
        let (version, kid, id, stamp, tag) = (next()?, next()?, next()?, next()?, next()?);
        if parts.next().is_some() || version != VERSION {
            return Err(TokenError::Malformed);
        }
        Ok(Self {
            kid: Kid::parse(kid).ok_or(TokenError::Malformed)?,
            id: id.parse()?,
            stamp: parse_stamp(stamp)?,
            tag: decode_exact::<TAG_LEN>(tag, TAG_B64_LEN)?,
        })
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{VERSION}.{}.{}.{}.", self.kid, self.id, self.stamp)?;
        write_b64::<TAG_B64_LEN>(f, &self.tag)
    }
}

/// The session keys: the first mints, every one verifies (DESIGN §1).
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<(Kid, HmacKey)>,
}

impl KeyRing {
    /// `None` for an empty list: a ring must be able to mint.
    pub fn new(keys: Vec<(Kid, HmacKey)>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// The kid new tokens are minted with.
    pub fn primary(&self) -> Kid {
        self.keys[0].0
    }

    pub fn contains(&self, kid: Kid) -> bool {
        self.get(kid).is_some()
    }

    /// A token for `id` stamped at `stamp`, under the primary key.
    pub fn mint(&self, id: &SessionId, stamp: u64) -> String {
        let (kid, key) = &self.keys[0];
        let signed = format!("{VERSION}.{kid}.{id}.{stamp}");
        let tag = key.sign(&[signed.as_bytes()]);
        let mut token = signed;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&tag[..TAG_LEN], &mut token);
        token
    }

    /// Parses `raw` and checks its key, tag (in constant time) and stamp.
    /// Idle expiry is the session policy's to judge, not the token's.
    pub fn verify(&self, raw: &str, now: u64) -> Result<Token, TokenError> {
        let token: Token = raw.parse()?;
        let key = self.get(token.kid).ok_or(TokenError::UnknownKey)?;
        // The shape check above makes `raw` canonical, so the signed text is
        // exactly what precedes its last dot.
        let signed = &raw[..raw.len() - TAG_B64_LEN - 1];
        key.verify_truncated(&[signed.as_bytes()], &token.tag)
            .map_err(|_| TokenError::BadTag)?;
        if token.stamp > now.saturating_add(MAX_FUTURE_SKEW) {
            return Err(TokenError::FutureStamp);
        }
        Ok(token)
    }

    /// A ring of keys for another use, one per key of this one and under
    /// the same kids: each is HMAC(key, `label`), so that tags made for one
    /// use never verify for another.
    pub fn derive(&self, label: &[u8]) -> Self {
        let keys = self
            .keys
            .iter()
            .map(|(kid, key)| (*kid, HmacKey::new(&key.sign(&[label]))))
            .collect();
        Self { keys }
    }

    /// The key new tags are made with.
    pub fn primary_key(&self) -> &HmacKey {
        &self.keys[0].1
    }

    pub fn get(&self, kid: Kid) -> Option<&HmacKey> {
        self.keys
            .iter()
            .find(|(k, _)| *k == kid)
            .map(|(_, key)| key)
    }
}

/// Decimal seconds, canonical: no sign, no leading zero, no overflow.
pub fn parse_stamp(s: &str) -> Result<u64, TokenError> {
    let canonical = !s.is_empty()
        && s.len() <= MAX_STAMP_DIGITS
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return Err(TokenError::Malformed);
    }
    s.parse().map_err(|_| TokenError::Malformed)
}

/// Decodes canonical unpadded base64url of exactly `encoded_len` characters
/// into exactly `N` bytes.
fn decode_exact<const N: usize>(s: &str, encoded_len: usize) -> Result<[u8; N], TokenError> {
    if s.len() != encoded_len {
        return Err(TokenError::Malformed);
    }
    let mut out = [0; N];
    match URL_SAFE_NO_PAD.decode_slice(s, &mut out) {
        Ok(n) if n == N => Ok(out),
        _ => Err(TokenError::Malformed),
    }
}

fn write_b64<const LEN: usize>(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut buf = [0; LEN];
    match URL_SAFE_NO_PAD.encode_slice(bytes, &mut buf) {
        Ok(n) if n == LEN => f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?),
        _ => Err(fmt::Error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn ring(kids: &[&str]) -> KeyRing {
        let keys = kids
            .iter()
            .map(|kid| {
                (
                    Kid::parse(kid).unwrap(),
                    HmacKey::new(format!("secret-of-{kid}").as_bytes()),
                )
            })
            .collect();
        KeyRing::new(keys).unwrap()
    }

    fn id() -> SessionId {
        SessionId::from_bytes([42; 32])
    }

    #[test]
    fn minted_token_has_the_documented_shape() {
        let token = ring(&["k1"]).mint(&id(), NOW);
        let parts: Vec<_> = token.split('.').collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0], "sg1");
        assert_eq!(parts[1], "k1");
        assert_eq!(parts[2].len(), 43);
        assert_eq!(parts[3], NOW.to_string());
        assert_eq!(parts[4].len(), 22);
        assert!(token.len() <= MAX_TOKEN_LEN);
    }

    #[test]
    fn display_reproduces_the_parsed_token() {
        let token = ring(&["k1"]).mint(&id(), NOW);
        assert_eq!(token.parse::<Token>().unwrap().to_string(), token);
    }

    #[test]
    fn the_first_key_mints_and_every_key_verifies() {
        let old = ring(&["old"]);
        let rotated = ring(&["new", "old"]);
        let old_token = old.mint(&id(), NOW);
        assert_eq!(
            rotated.verify(&old_token, NOW).unwrap().kid().as_str(),
            "old"
        );
        assert!(rotated.mint(&id(), NOW).starts_with("sg1.new."));
        assert_eq!(
            ring(&["new"]).verify(&old_token, NOW),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn a_different_secret_under_the_same_kid_fails_the_tag() {
        let token = ring(&["k1"]).mint(&id(), NOW);
        let impostor =
            KeyRing::new(vec![(Kid::parse("k1").unwrap(), HmacKey::new(b"other"))]).unwrap();
        assert_eq!(impostor.verify(&token, NOW), Err(TokenError::BadTag));
    }

    #[test]
    fn stamps_up_to_the_skew_are_accepted_and_later_ones_refused() {
        let ring = ring(&["k1"]);
        assert!(ring
            .verify(&ring.mint(&id(), NOW + MAX_FUTURE_SKEW), NOW)
            .is_ok());
        assert_eq!(
            ring.verify(&ring.mint(&id(), NOW + MAX_FUTURE_SKEW + 1), NOW),
            Err(TokenError::FutureStamp)
        );
    }

    #[test]
    fn non_canonical_stamps_are_malformed() {
        for stamp in ["", "01", "+1", "-1", "1e9", "18446744073709551616", " 1"] {
            assert_eq!(parse_stamp(stamp), Err(TokenError::Malformed), "{stamp:?}");
        }
        assert_eq!(parse_stamp("0"), Ok(0));
        assert_eq!(parse_stamp("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn shape_errors_are_reported_before_any_key_lookup() {
        let ring = ring(&["k1"]);
        let good = ring.mint(&id(), NOW);
        let cases = [
            good.replacen("sg1", "sg2", 1),
            format!("{good}."),
            format!(".{good}"),
            good.replacen(".k1.", ".K1.", 1),
            good.replacen(".k1.", "..", 1),
            good[..good.len() - 1].to_string(),
            format!("{good}A"),
            good.replace('.', ","),
        ];
        for case in cases {
            assert_eq!(
                ring.verify(&case, NOW),
                Err(TokenError::Malformed),
                "{case}"
            );
        }
        assert_eq!(ring.verify(&"a".repeat(161), NOW), Err(TokenError::TooLong));
    }

    #[test]
    fn non_canonical_base64_is_malformed() {
        // 43 characters carry 258 bits: the last 2 must be zero.
        let mut s = SessionId::from_bytes([0; 32]).to_string();
        assert!(s.ends_with('A'));
        s.pop();
        s.push('B');
        assert_eq!(s.parse::<SessionId>(), Err(TokenError::Malformed));
    }

    #[test]
    fn ids_are_random_and_hash_to_a_short_public_sid() {
        let (a, b) = (
            SessionId::generate().unwrap(),
            SessionId::generate().unwrap(),
        );
        assert_ne!(a, b);
        assert_eq!(a.hash().to_string().len(), IdHash::ENCODED_LEN);
        assert_eq!(a.hash().sid().len(), 16);
        assert!(a.hash().to_string().starts_with(&a.hash().sid()));
        assert_eq!(a.hash().to_string().parse::<IdHash>().unwrap(), a.hash());
        assert_eq!(format!("{a:?}"), "SessionId(..)");
    }
}
