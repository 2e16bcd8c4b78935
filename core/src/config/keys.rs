//! Secrets: `SESSION_KEYS`, `ASSERTION_KEY`, `HANDOFF_KEY` and
//! `ADMIN_TOKEN` (docs/DESIGN.md §8). `ASSERTION_KEY` is required unless
//! `ASSERTION_SIGNING_KEYS` signs the assertions.
//!
//! A problem names a secret's position or key id, never its text.
//! `SESSION_KEYS` is a section of its own: device binding and sign-in
//! derive their keys from it, whatever is wrong with the other secrets.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::value::{keyed_entries, secret};
use super::Vars;
use crate::key::HmacKey;
use crate::token::{KeyRing, Kid};

/// The keys shared with the origin, and the admin API's.
pub(super) struct Secrets {
    /// `None` while unset, which only signing keys allow.
    pub assertion_key: Option<HmacKey>,
    pub handoff_key: HmacKey,
    /// `None` turns the admin API off.
    pub admin_token: Option<AdminToken>,
}

/// `SESSION_KEYS`.
pub(super) fn ring(vars: &mut Vars) -> Option<KeyRing> {
    vars.check(
        "SESSION_KEYS",
        vars.required("SESSION_KEYS").and_then(|v| key_ring(&v)),
    )
}

/// `ASSERTION_KEY`, `HANDOFF_KEY` and `ADMIN_TOKEN`. With signing keys,
/// `ASSERTION_KEY` may be unset; set, it is still checked (a migration
/// half done keeps a valid edge) and used by nothing.
pub(super) fn secrets(vars: &mut Vars, signing_keys: bool) -> Option<Secrets> {
    let assertion_key = match vars.get("ASSERTION_KEY") {
        None if signing_keys => Some(None),
        value => vars.check(
            "ASSERTION_KEY",
            value
                .ok_or_else(|| "is not set".to_owned())
                .and_then(|v| secret(&v))
                .map(Some),
        ),
    };
    // An assertion must never pass for a handoff.
    let handoff_key = vars.check(
        "HANDOFF_KEY",
        vars.required("HANDOFF_KEY").and_then(|v| {
            let same = vars
                .get("ASSERTION_KEY")
                .is_some_and(|a| a.as_bytes().ct_eq(v.as_bytes()).into());
            if same {
                Err("must differ from ASSERTION_KEY".to_owned())
            } else {
                secret(&v)
            }
        }),
    );
    let admin_token = vars.check(
        "ADMIN_TOKEN",
        vars.get("ADMIN_TOKEN")
            .map(|v| AdminToken::new(&v))
            .transpose(),
    );
    Some(Secrets {
        assertion_key: assertion_key?,
        handoff_key: handoff_key?,
        admin_token: admin_token?,
    })
}

/// `ADMIN_TOKEN`, kept only as its SHA-256 so that comparing it takes the
/// same time whatever the length of what is presented.
#[derive(Clone)]
pub struct AdminToken([u8; 32]);

impl AdminToken {
    pub fn new(v: &str) -> Result<Self, String> {
        secret(v).map(|_| Self(Sha256::digest(v.as_bytes()).into()))
    }

    /// Constant-time comparison with a presented bearer token.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&presented).into()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

/// `kid:secret,kid:secret`; the first pair mints.
fn key_ring(v: &str) -> Result<KeyRing, String> {
    let mut keys: Vec<(Kid, HmacKey)> = Vec::new();
    let rule = "1 to 8 characters of a-z and 0-9";
    for (kid, key) in keyed_entries(v, Kid::is_valid, rule, "secret")? {
        let key = secret(key).map_err(|problem| format!("the secret of key id {kid} {problem}"))?;
        // keyed_entries checked the id.
        keys.extend(Kid::parse(kid).map(|kid| (kid, key)));
    }
    KeyRing::new(keys).ok_or_else(|| "lists no keys".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{parse, problems, SECRET_A, SECRET_B};

    #[test]
    fn secrets_never_appear_in_errors() {
        let short = "tooshort-but-secret";
        let text = problems(&[
            ("SESSION_KEYS", &format!("k1:{short}")),
            ("ASSERTION_KEY", short),
            ("HANDOFF_KEY", "x"),
            ("ADMIN_TOKEN", short),
        ]);
        assert!(!text.contains(short), "{text}");
        assert!(
            text.contains("SESSION_KEYS: the secret of key id k1 is shorter than 32 characters")
        );
        assert!(text.contains("ASSERTION_KEY: is shorter than 32 characters"));
        assert!(text.contains("ADMIN_TOKEN: is shorter than 32 characters"));
        let garbled = problems(&[("SESSION_KEYS", SECRET_B)]);
        assert_eq!(garbled, "SESSION_KEYS: entry 1 is not kid:secret");
    }

    #[test]
    fn key_rings_check_ids_and_duplicates() {
        assert!(parse(&[("SESSION_KEYS", &format!("new:{SECRET_B}, old:{SECRET_A}"))]).is_ok());
        assert_eq!(
            problems(&[("SESSION_KEYS", &format!("k1:{SECRET_A},k1:{SECRET_B}"))]),
            "SESSION_KEYS: key id \"k1\" appears twice"
        );
        assert_eq!(
            problems(&[("SESSION_KEYS", &format!("Key:{SECRET_A}"))]),
            "SESSION_KEYS: entry 1: the key id must be 1 to 8 characters of a-z and 0-9"
        );
    }

    #[test]
    fn the_handoff_key_must_differ_from_the_assertion_key() {
        assert_eq!(
            problems(&[("HANDOFF_KEY", SECRET_A)]),
            "HANDOFF_KEY: must differ from ASSERTION_KEY"
        );
    }

    #[test]
    fn admin_token_compares_by_value() {
        let token = AdminToken::new(SECRET_A).unwrap();
        assert!(token.matches(SECRET_A));
        assert!(!token.matches(SECRET_B));
        assert!(!token.matches(""));
    }
}
