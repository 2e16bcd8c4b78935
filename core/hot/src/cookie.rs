//! Reading the session cookie out of a `Cookie` header, and building the
//! `Set-Cookie` that sets or clears it (DESIGN §7).
//!
//! Several `Cookie` headers reach a worker joined into one value (with `, `
//! or `; `), so both separators delimit cookies here. Parsing is a linear
//! scan over the header: it never panics, whatever the bytes.

use std::fmt;

/// Longest cookie name accepted from configuration.
pub const MAX_NAME_LEN: usize = 64;

/// What the `Cookie` header holds under the session cookie's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    Missing,
    One(&'a str),
    /// Two or more: one may have been planted, so none is trusted.
    Many,
}

/// Finds the cookie `name` (case-sensitive, as cookie names are).
pub fn find<'a>(header: &'a str, name: &str) -> Presented<'a> {
    let mut found = Presented::Missing;
    for (piece_name, value) in pieces(header) {
        if piece_name == name {
            found = match found {
                Presented::Missing => Presented::One(value.trim()),
                _ => return Presented::Many,
            };
        }
    }
    found
}

/// The `Cookie` header with every cookie of one of `names` removed and the
/// others kept verbatim; `None` when nothing is left.
pub fn without(header: &str, names: &[&str]) -> Option<String> {
    let named = |piece: &str| names.contains(&piece_name(piece));
    let mut kept = String::with_capacity(header.len());
    for segment in split_at(header, |b| b == b';') {
        // The separator goes in first, and out again if the segment
        // keeps nothing.
        let before = kept.len();
        if before > 0 {
            kept.push_str("; ");
        }
        let start = kept.len();
        if split_at(segment, |b| b == b',').any(named) {
            // Only a segment that carries our cookie is split on commas, so a
            // comma inside someone else's value is left alone.
            let rest = split_at(segment, |b| b == b',').map(str::trim);
            for piece in rest.filter(|piece| !piece.is_empty() && !named(piece)) {
                if kept.len() > start {
                    kept.push_str(", ");
                }
                kept.push_str(piece);
            }
        } else {
            kept.push_str(segment.trim());
        }
        if kept.len() == start {
            kept.truncate(before);
        }
    }
    (!kept.is_empty()).then_some(kept)
}

/// The header's pieces, split at every `;` and `,`.
fn pieces(header: &str) -> impl Iterator<Item = (&str, &str)> {
    split_at(header, |b| b == b';' || b == b',').map(split_piece)
}

/// `s` cut at every byte `separator` picks. Separators are ASCII, so each
/// cut falls on a character boundary; a scan over a header's bytes costs
/// less than `str::split`'s searchers do.
fn split_at(s: &str, separator: impl Fn(u8) -> bool) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let left = rest?;
        let end = left.bytes().position(&separator);
        rest = end.map(|i| &left[i + 1..]);
        Some(end.map_or(left, |i| &left[..i]))
    })
}

/// `name=value`, the name trimmed (the value is trimmed where it is
/// used); a piece without `=` is a value with no name.
fn split_piece(piece: &str) -> (&str, &str) {
    match piece.bytes().position(|b| b == b'=') {
        Some(i) => (piece[..i].trim(), &piece[i + 1..]),
        None => ("", piece),
    }
}

fn piece_name(piece: &str) -> &str {
    split_piece(piece).0
}

/// `SameSite` attribute of the session cookie (`COOKIE_SAMESITE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "strict" => Some(Self::Strict),
            "lax" => Some(Self::Lax),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        })
    }
}

/// How the session cookie is named and set. Every cookie it builds is
/// `Secure`, `HttpOnly`, `Path=/` and has no `Domain`, so the `__Host-`
/// prefix rules hold by construction, whatever the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSpec {
    name: String,
    same_site: SameSite,
}

impl CookieSpec {
    /// Checks `name` is an RFC 6265 token of at most [`MAX_NAME_LEN`] bytes;
    /// the error says what is wrong.
    pub fn new(name: &str, same_site: SameSite) -> Result<Self, &'static str> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err("must be 1 to 64 characters");
        }
        if !name.bytes().all(is_token_byte) {
            return Err("may contain only letters, digits and !#$%&'*+-.^_`|~");
        }
        // ASVS 5.0.0 3.3.1, 3.3.3: browsers then refuse the cookie from an
        // insecure origin or with a Domain, whoever tries to set it.
        if !name.starts_with("__Host-") {
            return Err(
                "must start with __Host- (the session cookie is host-only, Secure and Path=/)",
            );
        }
        Ok(Self {
            name: name.to_owned(),
            same_site,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// A cookie of its own, named this name with `suffix`, set alike.
    pub fn with_suffix(&self, suffix: &str) -> Result<Self, String> {
        Self::new(&format!("{}{suffix}", self.name), self.same_site)
            .map_err(|e| format!("{}{suffix}: {e}", self.name))
    }

    /// Every attribute but `Max-Age`, as a `Set-Cookie` carries them.
    pub fn attributes(&self) -> String {
        format!("Path=/; Secure; HttpOnly; SameSite={}", self.same_site)
    }

    /// `Set-Cookie` value carrying `token` for `max_age` seconds.
    pub fn set(&self, token: &str, max_age: u64) -> String {
        format!(
            "{}={token}; {}; Max-Age={max_age}",
            self.name,
            self.attributes()
        )
    }

    /// `Set-Cookie` value that makes the browser drop the cookie.
    pub fn clear(&self) -> String {
        format!("{}=; {}; Max-Age=0", self.name, self.attributes())
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "__Host-sg";

    #[test]
    fn finds_the_one_session_cookie_among_others() {
        assert_eq!(find("a=1; __Host-sg=tok; b=2", NAME), Presented::One("tok"));
        assert_eq!(find("__Host-sg=tok", NAME), Presented::One("tok"));
        assert_eq!(find("  __Host-sg = tok  ", NAME), Presented::One("tok"));
        assert_eq!(find("__Host-sg=", NAME), Presented::One(""));
    }

    #[test]
    fn absent_or_differently_cased_names_are_missing() {
        assert_eq!(find("", NAME), Presented::Missing);
        assert_eq!(find("a=1; b=2", NAME), Presented::Missing);
        assert_eq!(find("__host-sg=tok", NAME), Presented::Missing);
        assert_eq!(find("x__Host-sg=tok", NAME), Presented::Missing);
        assert_eq!(find("__Host-sg", NAME), Presented::Missing);
    }

    #[test]
    fn a_second_session_cookie_makes_it_many() {
        assert_eq!(find("__Host-sg=a; __Host-sg=b", NAME), Presented::Many);
        assert_eq!(find("__Host-sg=a; __Host-sg=a", NAME), Presented::Many);
        // Two Cookie headers joined by the platform.
        assert_eq!(find("x=1; __Host-sg=a, __Host-sg=b", NAME), Presented::Many);
    }

    #[test]
    fn without_drops_only_the_session_cookie() {
        assert_eq!(
            without("a=1; __Host-sg=tok; b=2", &[NAME]).as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(without("__Host-sg=tok", &[NAME]), None);
        assert_eq!(without("__Host-sg=a; __Host-sg=b", &[NAME]), None);
        assert_eq!(
            without("prefs=a,b; __Host-sg=t", &[NAME]).as_deref(),
            Some("prefs=a,b")
        );
        assert_eq!(
            without("x=1, __Host-sg=t; y=2", &[NAME]).as_deref(),
            Some("x=1; y=2")
        );
        assert_eq!(without("a=1; b=2", &[NAME]).as_deref(), Some("a=1; b=2"));
        assert_eq!(
            without("__host-sg=keep", &[NAME]).as_deref(),
            Some("__host-sg=keep")
        );
        assert_eq!(
            without(
                "a=1; __Host-sg=t; __Host-sg-bound=b, c=3",
                &[NAME, "__Host-sg-bound"]
            )
            .as_deref(),
            Some("a=1; c=3")
        );
    }

    #[test]
    fn set_cookie_carries_every_attribute() {
        let spec = CookieSpec::new(NAME, SameSite::Lax).unwrap();
        assert_eq!(
            spec.set("tok", 3600),
            "__Host-sg=tok; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600"
        );
        assert_eq!(
            spec.clear(),
            "__Host-sg=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }

    #[test]
    fn names_must_be_tokens() {
        for bad in [
            "",
            "a b",
            "a;b",
            "a=b",
            "a,b",
            "ä",
            &"x".repeat(65),
            "__Host-a b",
        ] {
            assert!(CookieSpec::new(bad, SameSite::Lax).is_err(), "{bad:?}");
        }
        assert!(CookieSpec::new("__Host-sid", SameSite::Strict).is_ok());
    }

    #[test]
    fn names_carry_the_host_prefix() {
        for bad in ["sid", "__Secure-sid", "__host-sid", "Host-sid"] {
            assert!(CookieSpec::new(bad, SameSite::Lax).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn same_site_parses_any_case() {
        assert_eq!(SameSite::parse("STRICT"), Some(SameSite::Strict));
        assert_eq!(SameSite::parse("none"), Some(SameSite::None));
        assert_eq!(SameSite::parse("lax "), None);
    }
}
