//! A P-256 public key as a JWK: what a device-bound session's record keeps
//! (`session::Record::device_key`) and what WebCrypto imports to check
//! the device's proofs (`dbsc::proof`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

impl Jwk {
    /// Whether it has a P-256 key's shape: two coordinates of 32 bytes.
    /// Whether the point is on the curve is WebCrypto's to say.
    pub fn is_p256(&self) -> bool {
        let coordinate = |c: &str| URL_SAFE_NO_PAD.decode(c).is_ok_and(|b| b.len() == 32);
        self.kty == "EC" && self.crv == "P-256" && coordinate(&self.x) && coordinate(&self.y)
    }

    /// The JSON WebCrypto's `importKey("jwk", …)` takes.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
