//! `cookie::find` and `cookie::without` on arbitrary strings.
//!
//! Input: `name \0 header`, or (no NUL) a header searched for `__Host-sg`.
//!
//! Invariants:
//! - after `without(h, name)` returns `Some(r)`, `find(r, name)` is `Missing`
//!   (and `r` is non-empty); `None` only if `h` holds nothing but `name`
//!   cookies and empty pieces;
//! - `without` keeps every other cookie: the non-empty `(name, value)` pieces
//!   of `r` are those of `h` minus the `name` ones, in order;
//! - `find` agrees with a count of the `name` pieces, and a found value is
//!   trimmed and holds no `;` or `,`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiongate_core::cookie::{find, without, CookieSpec, Presented, SameSite};

const DEFAULT_NAME: &str = "__Host-sg";

/// Reference reading of a joined `Cookie` header: pieces split on `;` and
/// `,`, each `name=value` (or a bare value with an empty name), trimmed.
fn pieces(header: &str) -> Vec<(&str, &str)> {
    header
        .split([';', ','])
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or(("", piece));
            (name.trim(), value.trim())
        })
        .collect()
}

fn non_empty(p: &(&str, &str)) -> bool {
    !(p.0.is_empty() && p.1.is_empty())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (name, header) = text.split_once('\0').unwrap_or((DEFAULT_NAME, text));

    // find agrees with the reference count.
    let matching: Vec<&str> = pieces(header)
        .into_iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect();
    match find(header, name) {
        Presented::Missing => assert!(matching.is_empty(), "missed {name:?} in {header:?}"),
        Presented::One(v) => {
            assert_eq!(matching, [v]);
            assert_eq!(v, v.trim());
            assert!(!v.contains([';', ',']));
        }
        Presented::Many => assert!(matching.len() >= 2),
    }

    let others: Vec<(&str, &str)> = pieces(header)
        .into_iter()
        .filter(|p| p.0 != name && non_empty(p))
        .collect();
    match without(header, &[name]) {
        Some(rest) => {
            assert!(!rest.is_empty());
            assert_eq!(
                find(&rest, name),
                Presented::Missing,
                "without({header:?}, {name:?}) = {rest:?} still holds the cookie"
            );
            let kept: Vec<(&str, &str)> = pieces(&rest).into_iter().filter(non_empty).collect();
            assert_eq!(kept, others, "without({header:?}, {name:?}) = {rest:?} changed other cookies");
        }
        None => assert!(others.is_empty(), "without({header:?}, {name:?}) dropped {others:?}"),
    }

    // Names the config accepts build well-formed Set-Cookie values.
    if let Ok(spec) = CookieSpec::new(name, SameSite::Lax) {
        assert_eq!(spec.name(), name);
        let set = spec.set("v", 60);
        assert!(set.starts_with(&format!("{name}=v; Path=/; Secure; HttpOnly;")));
        assert!(spec.clear().ends_with("; Max-Age=0"));
    }
});
