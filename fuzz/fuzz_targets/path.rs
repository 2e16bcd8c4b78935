//! `routes::normalise`, `routes::sanitise_return_to` and
//! `routes::is_safe_return_to` on arbitrary strings.
//!
//! Input: `path[?query]`. The path goes to `normalise` (and `classify`), the
//! query to `sanitise_return_to`, the whole text to `is_safe_return_to`.
//!
//! Invariants:
//! - a normalised path starts with `/`; holds no `\`, NUL, `%2F`/`%2f`,
//!   `%5C`/`%5c`, `%00`; no segment that is `.`, `..` (or dots only, before
//!   a `;`); every escape is `%` + two upper-case hex digits of a reserved
//!   byte; no `%25` followed by an escape (the double encoding `normalise`
//!   refuses); once decoded, no character that NFKC or Windows' best fit
//!   reads as ASCII (`lookalike::reads_as_ascii`: fullwidth letters, `ﬀ`,
//!   `ā`, …) and no segment (nor its part before `;`) ending in `.` or a
//!   space; it means the same as the input once fully decoded; and it
//!   normalises to itself, unchanged and borrowed (idempotent);
//! - if a query survives `sanitise_return_to` with a `return_to`, there is
//!   exactly one, it has a value, and that value is `is_safe_return_to`;
//!   other parameters are kept;
//! - `is_safe_return_to(v)` implies v and every decoding of it is a local
//!   path (`/`, not `//`, no `\`, no control character);
//! - `percent_decode(percent_encode(s)) == s`;
//! - the `_method`s found in the query, and in the text read as a
//!   url-encoded, multipart (boundary `b`) or JSON body, are non-empty and
//!   upper case; a query holding the pair `_method=delete` names `DELETE`.
#![no_main]

use std::borrow::Cow;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sessiongate_core::method_override::{in_query, Form};
use sessiongate_core::routes::{
    classify, is_safe_return_to, lookalike, normalise, percent_decode, percent_encode,
    sanitise_return_to, Endpoint, PublicPaths, Route,
};

fn public() -> &'static PublicPaths {
    static PUBLIC: OnceLock<PublicPaths> = OnceLock::new();
    PUBLIC.get_or_init(|| PublicPaths::parse("/login, /static/*, /favicon.ico").unwrap())
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Reference percent-decoding (strict): `None` on a bad escape or non-UTF-8.
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn form_decode(s: &str) -> Option<String> {
    decode(&s.replace('+', " "))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_local(v: &str) -> bool {
    v.starts_with('/') && !v.starts_with("//") && !v.contains('\\') && !v.chars().any(char::is_control)
}

/// A parameter any origin may read as `return_to`: PHP turns `.` and spaces
/// in names into `_`, and `return_to[…]` into an array `return_to`.
fn is_return_to(pair: &str) -> bool {
    let Some(name) = form_decode(pair.split('=').next().unwrap_or_default()) else {
        return false;
    };
    let base: String = name.split('[').next().unwrap_or_default().replace(['.', ' '], "_");
    base == "return_to"
}

fn check_normalised(raw: &str, p: &str) {
    assert!(p.starts_with('/'), "{raw:?} -> {p:?}: not absolute");
    for bad in ["%2F", "%2f", "%5C", "%5c", "\\", "\0", "%00"] {
        assert!(!p.contains(bad), "{raw:?} -> {p:?}: contains {bad:?}");
    }
    for segment in p.split('/') {
        let name = segment.split(';').next().unwrap_or_default();
        assert!(
            name.is_empty() || !name.bytes().all(|b| b == b'.'),
            "{raw:?} -> {p:?}: dot segment {segment:?}"
        );
    }
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let pair = b.get(i + 1..i + 3).expect("normalised path ends in a truncated escape");
            assert!(
                pair.iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c)),
                "{raw:?} -> {p:?}: escape not upper-case hex"
            );
            let value = hex(pair[0]).unwrap() * 16 + hex(pair[1]).unwrap();
            assert!(!is_unreserved(value), "{raw:?} -> {p:?}: escaped unreserved byte");
            if value == b'%' {
                let escape_follows =
                    b.len() >= i + 5 && hex(b[i + 3]).is_some() && hex(b[i + 4]).is_some();
                assert!(
                    !escape_follows,
                    "{raw:?} -> {p:?}: normalised path is double-encoded (%25 followed by an escape)"
                );
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    assert_eq!(decode(p), decode(raw), "{raw:?} -> {p:?}: meaning changed");
    let lossy = {
        let bytes = p.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(hex(bytes[i + 1]).unwrap() * 16 + hex(bytes[i + 2]).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    assert!(
        !lossy.chars().any(lookalike::reads_as_ascii),
        "{raw:?} -> {p:?}: a look-alike of ASCII passed"
    );
    for segment in lossy.split('/') {
        for name in [segment, segment.split(';').next().unwrap_or_default()] {
            assert!(
                !name.ends_with(['.', ' ']),
                "{raw:?} -> {p:?}: a segment ends in a dot or space"
            );
        }
    }
    match normalise(p) {
        Ok(Cow::Borrowed(again)) => assert_eq!(again, p),
        Ok(Cow::Owned(again)) => panic!("{raw:?} -> {p:?} -> {again:?}: not idempotent"),
        Err(e) => panic!("{raw:?} -> {p:?} -> Err({e:?}): not idempotent"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, query) = text.split_once('?').unwrap_or((text, ""));

    if let Ok(p) = normalise(path) {
        check_normalised(path, &p);
        match classify(&p, public()) {
            Route::Reserved(Endpoint::UserSessions(uid)) => {
                assert!(!uid.is_empty());
                assert!(p.starts_with("/.sessiongate/admin/users/"));
            }
            Route::Reserved(_) => assert!(p.starts_with("/.sessiongate")),
            Route::Public | Route::Protected => {}
        }
    }

    if let Some(q) = sanitise_return_to(query) {
        assert!(!q.is_empty());
        let returns: Vec<&str> = q.split('&').filter(|p| is_return_to(p)).collect();
        assert!(returns.len() <= 1, "{query:?} -> {q:?}: several return_to kept");
        if let Some(pair) = returns.first() {
            let (_, value) = pair.split_once('=').expect("return_to kept without a value");
            let value = form_decode(value).expect("kept return_to does not decode");
            assert!(is_safe_return_to(&value), "{query:?} -> {q:?}: unsafe return_to {value:?} kept");
            assert!(is_local(&value));
        }
        let others = |s: &str| -> Vec<String> {
            s.split('&').filter(|p| !p.is_empty() && !is_return_to(p)).map(str::to_owned).collect()
        };
        assert_eq!(others(&q), others(query), "{query:?} -> {q:?}: other parameters changed");
    } else {
        assert!(query.split('&').all(|p| p.is_empty() || is_return_to(p)));
    }

    if is_safe_return_to(text) {
        let mut current = text.to_owned();
        let mut rounds = 0;
        loop {
            assert!(is_local(&current), "{text:?} judged safe, but decodes to {current:?}");
            let next = decode(&current).expect("safe value does not decode");
            if next == current {
                break;
            }
            rounds += 1;
            assert!(rounds < 4, "{text:?} judged safe after too many decodings");
            current = next;
        }
    }

    assert_eq!(percent_decode(&percent_encode(text)).as_deref(), Some(text));
    assert_eq!(percent_decode(text), decode(text));

    let multipart = Form::Multipart {
        boundary: "b".to_owned(),
    };
    let found = in_query(query)
        .chain(Form::UrlEncoded.overrides(text))
        .chain(multipart.overrides(text))
        .chain(Form::Json.overrides(text));
    for method in found {
        assert!(!method.is_empty(), "{text:?}: an empty method");
        assert_eq!(method, method.to_ascii_uppercase(), "{text:?}: not upper case");
    }
    if query.split('&').any(|pair| pair == "_method=delete") {
        assert!(in_query(query).any(|m| m == "DELETE"), "{query:?}: _method missed");
    }
});
