//! Property tests: the parsers never panic on arbitrary input, tokens
//! round-trip, and any change to a token or JWT is caught.

use proptest::prelude::*;
use sessiongate_core::config::Config;
use sessiongate_core::key::HmacKey;
use sessiongate_core::token::{KeyRing, Kid, SessionId};
use sessiongate_core::{cookie, jwt, routes};
use unicode_normalization::UnicodeNormalization;

const NOW: u64 = 1_700_000_000;

fn ring() -> KeyRing {
    KeyRing::new(vec![
        (
            Kid::parse("new").unwrap(),
            HmacKey::new(b"new-secret-new-secret-new-secret-x"),
        ),
        (
            Kid::parse("old").unwrap(),
            HmacKey::new(b"old-secret-old-secret-old-secret-x"),
        ),
    ])
    .unwrap()
}

/// What the fuzz target `path` checks: a normalised path normalises to
/// itself and holds no encoded separator, double encoding or dot segment.
fn check_normalised(path: &str) -> Result<(), TestCaseError> {
    if let Ok(normal) = routes::normalise(path) {
        let again = routes::normalise(&normal).map(|p| p.into_owned());
        prop_assert_eq!(again.as_deref(), Ok(normal.as_ref()), "{}", path);
        let upper = normal.to_ascii_uppercase();
        for bad in ["%2F", "%5C", "\\", "%25"] {
            let double = upper.contains(bad)
                && (bad != "%25"
                    || upper.match_indices("%25").any(|(i, _)| {
                        upper[i + 3..]
                            .chars()
                            .take(2)
                            .filter(char::is_ascii_hexdigit)
                            .count()
                            == 2
                    }));
            prop_assert!(!double, "{} normalised to {}", path, normal);
        }
        prop_assert!(
            !normal.split('/').any(|s| s == "." || s == ".."),
            "{} normalised to {}",
            path,
            normal
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn token_parsing_never_panics(input in ".{0,200}") {
        let _ = ring().verify(&input, NOW);
    }

    #[test]
    fn token_parsing_never_panics_on_token_like_input(input in "sg1\\.[a-z0-9]{0,9}\\.[A-Za-z0-9_=-]{0,50}\\.[0-9+-]{0,25}\\.[A-Za-z0-9_=-]{0,30}") {
        let _ = ring().verify(&input, NOW);
    }

    #[test]
    fn minted_tokens_round_trip(bytes in any::<[u8; 32]>(), stamp in 0..=NOW + 60) {
        let ring = ring();
        let id = SessionId::from_bytes(bytes);
        let token = ring.mint(&id, stamp);
        let checked = ring.verify(&token, NOW).unwrap();
        prop_assert_eq!(checked.id(), &id);
        prop_assert_eq!(checked.stamp(), stamp);
        prop_assert_eq!(checked.kid().to_string(), "new");
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_token_fails(bytes in any::<[u8; 32]>(), stamp in 0..=NOW, at in any::<prop::sample::Index>(), bit in 0..8u8) {
        let ring = ring();
        let token = ring.mint(&SessionId::from_bytes(bytes), stamp);
        let mut raw = token.into_bytes();
        let i = at.index(raw.len());
        raw[i] ^= 1 << bit;
        if let Ok(altered) = String::from_utf8(raw) {
            prop_assert!(ring.verify(&altered, NOW).is_err(), "{}", altered);
        }
    }

    #[test]
    fn cookie_parsing_never_panics(header in any::<Vec<u8>>(), name in "[!-~]{1,12}") {
        let header = String::from_utf8_lossy(&header);
        let _ = cookie::find(&header, &name);
        let _ = cookie::without(&header, &[&name]);
    }

    /// The byte scan reads a header as splitting it at every `;` and `,`,
    /// then at the first `=`, and trimming each side would (DESIGN §7),
    /// for any header: Unicode white space, stray separators and all.
    #[test]
    fn finding_a_cookie_is_splitting_the_header(
        header in "([ \t\u{a0}\u{3000};,=]|[a-c]|__Host-sg|é){0,24}",
    ) {
        let named: Vec<(&str, &str)> = header
            .split([';', ','])
            .map(|piece| piece.split_once('=').unwrap_or(("", piece)))
            .filter(|(name, _)| name.trim() == "__Host-sg")
            .collect();
        let expected = match named[..] {
            [] => cookie::Presented::Missing,
            [(_, value)] => cookie::Presented::One(value.trim()),
            _ => cookie::Presented::Many,
        };
        prop_assert_eq!(cookie::find(&header, "__Host-sg"), expected);
        if let Some(rest) = cookie::without(&header, &["__Host-sg"]) {
            prop_assert_eq!(cookie::find(&rest, "__Host-sg"), cookie::Presented::Missing);
        }
    }

    #[test]
    fn removing_the_session_cookie_leaves_none_of_it(others in prop::collection::vec("[a-z]{1,5}=[a-z0-9]{0,5}", 0..5), at in 0..5usize) {
        let mut pieces = others.clone();
        pieces.insert(at.min(pieces.len()), "__Host-sg=tok".to_owned());
        let header = pieces.join("; ");
        prop_assert_eq!(cookie::find(&header, "__Host-sg"), cookie::Presented::One("tok"));
        let rest = cookie::without(&header, &["__Host-sg"]);
        prop_assert_eq!(rest.as_deref().map_or(cookie::Presented::Missing, |r| cookie::find(r, "__Host-sg")), cookie::Presented::Missing);
        prop_assert_eq!(rest.unwrap_or_default(), others.join("; "));
    }

    #[test]
    fn path_normalisation_never_panics_and_is_idempotent(path in "/[a-zA-Z0-9%./;\\\\~_-]{0,40}") {
        check_normalised(&path)?;
    }

    #[test]
    fn escapes_never_normalise_into_traversal_or_double_encoding(
        pieces in prop::collection::vec(prop::sample::select(vec![
            "%25", "%32", "%65", "%45", "%66", "%46", "%41", "%2e", "%2E", "%2f", "%5c", "a", "2", "e", "f", ".", "/", ";",
        ]), 0..16)
    ) {
        check_normalised(&format!("/{}", pieces.concat()))?;
    }

    /// What an origin that applies NFKC to the decoded path reads holds no
    /// `.`, `/` or `\` that the edge did not see: the path it classified.
    #[test]
    fn no_accepted_path_gains_a_separator_under_nfkc(
        chars in prop::collection::vec(prop_oneof![
            4 => prop::char::range('a', 'z'),
            1 => prop::sample::select(vec!['.', '/', '\u{FF0E}', '\u{FF0F}', '\u{FF3C}', '\u{2024}', '\u{2025}', '\u{FE52}', '\u{FE68}', '\u{2488}', '\u{2044}', '\u{2215}']),
            1 => any::<char>(),
        ], 0..24)
    ) {
        let raw: String = chars.into_iter().collect();
        let path = format!("/{}", routes::percent_encode(&raw));
        if let Ok(normal) = routes::normalise(&path) {
            let decoded = routes::percent_decode(&normal).unwrap_or_default();
            let separators = |s: &str| s.chars().filter(|c| matches!(c, '.' | '/' | '\\')).count();
            let folded: String = decoded.nfkc().collect();
            prop_assert_eq!(separators(&folded), separators(&decoded), "{} folds to {}", path, folded);
        }
    }

    #[test]
    fn config_parsing_never_panics(values in prop::collection::vec(".{0,60}", 12)) {
        let names = ["ORIGIN_URL", "AUDIENCE", "LOGIN_URL", "PUBLIC_PATHS", "IDLE_TIMEOUT", "ABSOLUTE_TIMEOUT",
            "COOKIE_NAME", "COOKIE_SAMESITE", "SESSION_KEYS", "ASSERTION_KEY", "HANDOFF_KEY", "ADMIN_TOKEN"];
        let _ = Config::from_lookup(|var| names.iter().position(|n| *n == var).map(|i| values[i].clone()));
    }

    #[test]
    fn jwt_verification_never_panics(input in ".{0,300}") {
        let _ = jwt::verify::<serde_json::Value>(&HmacKey::new(b"k"), &input);
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_jwt_fails(sub in "[a-z]{1,20}", at in any::<prop::sample::Index>(), bit in 0..8u8) {
        let key = HmacKey::new(b"jwt-key-jwt-key-jwt-key-jwt-key-");
        let token = jwt::sign(&key, &serde_json::json!({ "sub": sub }));
        let mut raw = token.into_bytes();
        let i = at.index(raw.len());
        raw[i] ^= 1 << bit;
        if let Ok(altered) = String::from_utf8(raw) {
            prop_assert!(jwt::verify::<serde_json::Value>(&key, &altered).is_err(), "{}", altered);
        }
    }
}
