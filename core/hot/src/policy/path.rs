//! The paths a rule names, and the one reading of a request's path that
//! every pattern is matched against (DESIGN §13.2).
//!
//! A policy exists to refuse, so its reading of a path errs towards the
//! strictest rule an origin could be serving: whatever an origin may fold
//! together (letter case, repeated or trailing slashes, `;` parameters)
//! is folded here too, so `/ADMIN`, `/admin/`, `//admin` and `/admin;x`
//! all meet the rule for `/admin`. So do `/admin.json` and `/admin.html`:
//! frameworks route a format suffix on the last segment to the path
//! without it (Rails' `(.:format)`, Spring's suffix patterns, Django REST
//! framework's `format_suffix_patterns`), so a pattern also covers the path
//! with such a suffix ([`strip_format_suffix`]). The path has already been through
//! [`crate::routes::normalise`], which decoded escaped letters and refused
//! dot segments, encoded slashes and look-alikes.

use std::borrow::Cow;

use crate::routes;

/// A rule's path pattern, in the folded form of [`fold`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `/admin`: that path only.
    Exact(String),
    /// `/admin/*`: `/admin` itself and everything below `/admin/`, so a
    /// rule is never escaped by dropping the slash. Stored without the
    /// `/*`; `/*` alone is stored as the empty string and matches all.
    Prefix(String),
}

/// As written in `paths`, folded: `/admin`, `/admin/*`, `/*`.
impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(path) => f.write_str(path),
            Self::Prefix(base) => write!(f, "{base}/*"),
        }
    }
}

/// How specifically a pattern matched: an exact pattern beats any prefix,
/// a longer prefix beats a shorter one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    exact: bool,
    len: usize,
}

impl Pattern {
    /// Parses one entry of a rule's `paths`, in the syntax of `PUBLIC_PATHS`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let (path, prefix) = match entry.strip_suffix("/*") {
            Some(base) => (base, true),
            None => (entry, false),
        };
        let path_for_checks = if path.is_empty() && prefix { "/" } else { path };
        let problem = if !path_for_checks.starts_with('/') {
            Some("must start with /")
        } else if path.contains(['*', '?', '#', ' ']) || path.chars().any(char::is_control) {
            Some("may use * only as a final /*, and no ?, # or spaces")
        } else if path.contains(';') {
            Some("cannot match: ';' parameters are dropped from paths before matching")
        } else if path.contains("//") {
            Some("cannot match: repeated slashes are folded into one before matching")
        } else if routes::is_reserved(path_for_checks) {
            Some("cannot match: paths under /.sessiongate/ are the edge's own, outside the policy")
        } else if routes::normalise(path_for_checks)
            .map_or(true, |normal| normal != path_for_checks)
        {
            Some("cannot match: not in normal form (no dot segments, %2F, or escapes of unreserved characters)")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(format!("{entry:?} {problem}"));
        }
        let folded = fold(path).into_owned();
        Ok(if prefix {
            // `/*` and `/x/*`: the base without its trailing slash.
            Self::Prefix(if folded == "/" { String::new() } else { folded })
        } else {
            Self::Exact(folded)
        })
    }

    /// How specifically this pattern matches a folded path, if it does.
    pub fn matches(&self, folded: &str) -> Option<Specificity> {
        match self {
            Self::Exact(p) => (p == folded).then_some(Specificity {
                exact: true,
                len: p.len(),
            }),
            Self::Prefix(base) => {
                let below = folded
                    .strip_prefix(base.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
                below.then_some(Specificity {
                    exact: false,
                    len: base.len(),
                })
            }
        }
    }
}

/// Longest format suffix, after its dot.
pub const MAX_FORMAT_SUFFIX: usize = 16;

/// The folded path without the format suffix of its last segment, a `.`
/// and 1 to [`MAX_FORMAT_SUFFIX`] ASCII letters and digits (`/admin.json`
/// is `/admin`); `None` when it has none. Applied again, it strips the
/// next one (`/a.tar.gz`, `/a.tar`, `/a`), as a suffix pattern matching
/// `/a.*` would.
pub fn strip_format_suffix(folded: &str) -> Option<&str> {
    let segment_start = folded.rfind('/').map_or(0, |i| i + 1);
    let dot = segment_start + folded[segment_start..].rfind('.')?;
    let suffix = &folded[dot + 1..];
    let is_suffix = (1..=MAX_FORMAT_SUFFIX).contains(&suffix.len())
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric());
    // `/.json` is a name, not `/` with a suffix.
    (is_suffix && dot > segment_start).then(|| &folded[..dot])
}

/// The path as rules see it: ASCII lower case, `;` parameters dropped from
/// each segment, repeated slashes folded into one, no trailing slash (but
/// `/` stays `/`). Borrowed when nothing changes, as for most paths.
pub fn fold(path: &str) -> Cow<'_, str> {
    let needs_work = path.bytes().any(|b| b.is_ascii_uppercase() || b == b';')
        || path.contains("//")
        || (path.len() > 1 && path.ends_with('/'));
    if !needs_work {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let name = segment.split(';').next().unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        out.push('/');
        out.extend(name.chars().map(|c| c.to_ascii_lowercase()));
    }
    if out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(entry: &str) -> Pattern {
        Pattern::parse(entry).unwrap()
    }

    #[test]
    fn folding_undoes_what_an_origin_may_fold() {
        assert_eq!(fold("/admin/users"), "/admin/users");
        assert!(matches!(fold("/admin/users"), Cow::Borrowed(_)));
        assert_eq!(fold("/ADMIN/Users"), "/admin/users");
        assert_eq!(fold("/admin/"), "/admin");
        assert_eq!(fold("//admin//users/"), "/admin/users");
        assert_eq!(fold("/admin;jsessionid=1/users"), "/admin/users");
        assert_eq!(fold("/;x/admin"), "/admin");
        assert_eq!(fold("/"), "/");
        assert_eq!(fold("///"), "/");
    }

    #[test]
    fn a_prefix_covers_its_base_and_everything_below_it() {
        let admin = pattern("/admin/*");
        for path in ["/admin", "/admin/", "/admin/users", "/ADMIN/x", "//admin"] {
            assert!(admin.matches(&fold(path)).is_some(), "{path}");
        }
        for path in ["/administrator", "/adminx/y", "/", "/a/admin"] {
            assert!(admin.matches(&fold(path)).is_none(), "{path}");
        }
        assert!(pattern("/*").matches("/").is_some());
        assert!(pattern("/*").matches("/anything/at/all").is_some());
    }

    #[test]
    fn an_exact_pattern_matches_its_path_only() {
        let billing = pattern("/billing");
        assert!(billing.matches(&fold("/billing")).is_some());
        assert!(billing.matches(&fold("/Billing/")).is_some());
        assert!(billing.matches(&fold("/billing/x")).is_none());
        assert!(pattern("/").matches("/").is_some());
        assert!(pattern("/").matches("/x").is_none());
    }

    #[test]
    fn exact_beats_prefix_and_longer_beats_shorter() {
        let path = fold("/admin/users");
        let exact = pattern("/admin/users").matches(&path).unwrap();
        let long = pattern("/admin/users/*").matches(&path).unwrap();
        let short = pattern("/admin/*").matches(&path).unwrap();
        let all = pattern("/*").matches(&path).unwrap();
        assert!(exact > long && long > short && short > all);
    }

    #[test]
    fn a_format_suffix_on_the_last_segment_is_stripped() {
        assert_eq!(strip_format_suffix("/admin.json"), Some("/admin"));
        assert_eq!(
            strip_format_suffix("/settings/security.html"),
            Some("/settings/security")
        );
        assert_eq!(strip_format_suffix("/a.tar.gz"), Some("/a.tar"));
        assert_eq!(strip_format_suffix("/a.tar"), Some("/a"));
        assert_eq!(strip_format_suffix("/x/a.0123456789abcdef"), Some("/x/a"));
        for none in [
            "/admin",
            "/admin/",
            "/.json",
            "/a.",
            "/a.0123456789abcdefg",
            "/a.js-on",
            "/a.json/users",
            "/",
        ] {
            assert_eq!(strip_format_suffix(none), None, "{none}");
        }
    }

    #[test]
    fn patterns_that_cannot_match_are_refused() {
        for bad in [
            "admin",
            "",
            "*",
            "/admin*",
            "/a/*/b",
            "/a?b",
            "/a b",
            "/a;b",
            "//admin",
            "/.sessiongate/session",
            "/.sessiongate/*",
            "/a/../b",
            "/%61dmin",
            "/a%2fb",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(pattern("/Admin"), Pattern::Exact("/admin".into()));
        assert_eq!(pattern("/admin/"), Pattern::Exact("/admin".into()));
        assert_eq!(pattern("/*"), Pattern::Prefix(String::new()));
    }
}
