//! The assertion's signing section (docs/DESIGN.md §5, §8):
//! `ASSERTION_SIGNING_KEYS`, the keys the edge signs assertions with, whose
//! public halves it publishes. Unset, assertions are HS256 under
//! `ASSERTION_KEY` (the secrets section).

use super::value::keyed_entries;
use super::Vars;
use crate::assertion::signing::{SigningKey, SigningKeys, KID_RULE};

pub const VAR: &str = "ASSERTION_SIGNING_KEYS";

/// `Some(None)` when unset; `None` when set and wrong (the problem names
/// a key's id or position, never the key).
pub(super) fn read(vars: &mut Vars) -> Option<Option<SigningKeys>> {
    match vars.get(VAR) {
        None => Some(None),
        Some(v) => vars.check(VAR, keys(&v)).map(Some),
    }
}

/// `kid:<PKCS#8 DER, base64url>,…`: the first signs.
fn keys(v: &str) -> Result<SigningKeys, String> {
    let keys = keyed_entries(v, SigningKey::is_kid, KID_RULE, "key")?
        .into_iter()
        .map(|(kid, pkcs8)| SigningKey::new(kid, pkcs8))
        .collect::<Result<_, _>>()?;
    SigningKeys::new(keys).ok_or_else(|| "lists no keys".to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse, problems, SECRET_A};
    use crate::assertion::signing::test_keys::{ED, P256};
    use crate::assertion::signing::Signer;

    /// A P-384 key: not one assertions may be signed with.
    const P384: &str = "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBJ8kENB1QbGBGEjzVSqhX-LjbLwagQSwuVGxl7TwREK7IbaQyy18ECF6NIKXx5dKahZANiAATr1iSL60uqWQcd2LzcOfW0xe3pqL9x9MWtrOofoD2lue0BJSntyPKVa0zrAtjZwrWTUUn9x4ytb7PMBL623DCmC7kjyhx7gx1k-dG-zr4kJr4eZFBYPxO7TT_Ab1iLZsE";

    #[test]
    fn with_signing_keys_assertion_key_may_be_unset() {
        let keys = format!("k1:{P256}");
        let config = parse(&[("ASSERTION_SIGNING_KEYS", &keys), ("ASSERTION_KEY", "")]).unwrap();
        let Signer::Keys(keys) = config.assertion_signer else {
            panic!("signed with the keys")
        };
        assert_eq!(keys.signer().kid, "k1");
        // Still read, and still checked, when a migration left it set.
        let short = problems(&[
            ("ASSERTION_SIGNING_KEYS", &format!("k1:{P256}")),
            ("ASSERTION_KEY", "short"),
        ]);
        assert!(short.starts_with("ASSERTION_KEY: "), "{short}");
    }

    #[test]
    fn without_them_assertion_key_is_required_as_before() {
        assert!(matches!(
            parse(&[]).unwrap().assertion_signer,
            Signer::Shared(_)
        ));
        assert_eq!(
            problems(&[("ASSERTION_KEY", "")]),
            "ASSERTION_KEY: is not set"
        );
        // HANDOFF_KEY still may not be ASSERTION_KEY.
        let same = problems(&[
            ("ASSERTION_SIGNING_KEYS", &format!("k1:{P256}")),
            ("HANDOFF_KEY", SECRET_A),
        ]);
        assert_eq!(same, "HANDOFF_KEY: must differ from ASSERTION_KEY");
    }

    #[test]
    fn a_bad_key_is_misconfigured_naming_its_kid_never_the_key() {
        let problem = problems(&[("ASSERTION_SIGNING_KEYS", &format!("k1:{P256},old:{P384}"))]);
        assert_eq!(
            problem,
            "ASSERTION_SIGNING_KEYS: key old is an EC key on another curve than P-256"
        );
        assert!(!problem.contains(&P384[20..40]));
    }

    #[test]
    fn a_bad_entry_names_its_position_or_kid_never_the_key() {
        let cases = [
            (P256.to_owned(), "entry 1 is not kid:key"),
            (
                format!("k1:{P256},k 2:{ED}"),
                "entry 2: the key id must be 1 to 32",
            ),
            (format!("k1:{P256},k1:{ED}"), "key id \"k1\" appears twice"),
            (
                format!("k1:{P256},k2:{}", &ED[..40]),
                "key k2 is not a PKCS#8",
            ),
            (
                format!("{}:{ED}", "k".repeat(33)),
                "entry 1: the key id must be",
            ),
        ];
        for (value, problem) in cases {
            let error = problems(&[(super::VAR, &value)]);
            let problem = format!("ASSERTION_SIGNING_KEYS: {problem}");
            assert!(error.starts_with(&problem), "{value}: {error}");
            assert!(
                !error.contains(&P256[10..30]) && !error.contains(&ED[10..30]),
                "{error}"
            );
        }
    }
}
