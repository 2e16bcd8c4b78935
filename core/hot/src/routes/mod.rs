//! Path normalisation and classification (DESIGN §4.1, §4.2).
//!
//! The path is normalised once, and the origin receives exactly the path
//! that was classified: there is no second reading for an attacker to make
//! disagree with the first. Anything whose meaning could differ between
//! this reading and an origin's is refused rather than guessed at.

pub mod lookalike;

use std::borrow::Cow;
use std::fmt;

/// Every path under this prefix is answered by the edge itself.
pub const RESERVED_PREFIX: &str = "/.sessiongate";

/// Why a path was refused with `400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Does not start with `/`.
    NotAbsolute,
    /// `%2F`: a slash the origin might treat as a separator.
    EncodedSlash,
    /// `\` or `%5C`: a separator on some origins.
    Backslash,
    /// `%00` or a raw NUL.
    Nul,
    /// `%` not followed by two hex digits.
    BadEscape,
    /// `%25` followed by an escape: decoded twice, it means something else.
    DoubleEncoding,
    /// A `.`, `..` (or all-dots) segment, plain, encoded or before `;`.
    DotSegment,
    /// A character that compatibility folding (NFKC) or Windows' best-fit
    /// conversion reads as ASCII (fullwidth `ａ`, `ﬀ`, `．`, `ā`, …):
    /// [`lookalike::reads_as_ascii`].
    UnicodeLookalike,
    /// A segment ending in `.` or a space, which Windows' file serving
    /// drops: `/admin./users` is `/admin/users` there.
    TrailingDotOrSpace,
}

impl PathError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotAbsolute => "path_not_absolute",
            Self::EncodedSlash => "encoded_slash",
            Self::Backslash => "backslash",
            Self::Nul => "nul",
            Self::BadEscape => "bad_escape",
            Self::DoubleEncoding => "double_encoding",
            Self::DotSegment => "dot_segment",
            Self::UnicodeLookalike => "unicode_lookalike",
            Self::TrailingDotOrSpace => "trailing_dot_or_space",
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decodes percent-escapes of unreserved characters, upper-cases the hex of
/// the others, and refuses what §4.1 lists. Borrowed when nothing changed.
pub fn normalise(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let bytes = raw.as_bytes();
    let mut out: Option<String> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => return Err(PathError::Backslash),
            0 => return Err(PathError::Nul),
            b'%' => {
                let value = hex_pair(bytes, i + 1).ok_or(PathError::BadEscape)?;
                let decoded = match value {
                    b'/' => return Err(PathError::EncodedSlash),
                    b'\\' => return Err(PathError::Backslash),
                    0 => return Err(PathError::Nul),
                    b if is_unreserved(b) => Some(b as char),
                    _ => None,
                };
                let upper_hex = raw[i + 1..i + 3].bytes().all(|b| !b.is_ascii_lowercase());
                if decoded.is_some() || !upper_hex {
                    let buf = out.get_or_insert_with(|| raw[..i].to_owned());
                    match decoded {
                        Some(c) => buf.push(c),
                        None => buf.push_str(&raw[i..i + 3].to_ascii_uppercase()),
                    }
                } else if let Some(buf) = out.as_mut() {
                    buf.push_str(&raw[i..i + 3]);
                }
                i += 3;
                continue;
            }
            _ => {}
        }
        // Copy the run up to the next byte that needs a look.
        let end = bytes[i..]
            .iter()
            .position(|b| matches!(b, b'%' | b'\\' | 0))
            .map_or(bytes.len(), |n| i + n);
        if let Some(buf) = out.as_mut() {
            buf.push_str(&raw[i..end]);
        }
        i = end;
    }
    let path = match out {
        Some(s) => Cow::Owned(s),
        None => Cow::Borrowed(raw),
    };
    // Checked on the output, not the input: `%25%32%65` decodes to `%252e`,
    // which an origin that decodes once more reads as `%2e`, then `.`.
    if is_double_encoded(&path) {
        return Err(PathError::DoubleEncoding);
    }
    // `;` starts a path parameter on some servers (`/..;/admin` is `/../admin`
    // to Tomcat); a segment of dots alone is a traversal to some filesystems.
    let dots_only = |segment: &str| {
        let name = segment.split(';').next().unwrap_or_default();
        !name.is_empty() && name.bytes().all(|b| b == b'.')
    };
    if path.split('/').any(dots_only) {
        return Err(PathError::DotSegment);
    }
    // What an origin could read otherwise is refused, on the path as the
    // origin decodes it: an origin that applies NFKC (or Windows' best-fit
    // mapping) reads `/static/%EF%BC%8E%EF%BC%8E/admin` as
    // `/static/../admin` and `/%EF%BD%81dmin` as `/admin`; Windows drops a
    // trailing dot or space from a name, so `/admin./x` is `/admin/x`.
    let decoded = if path.contains('%') {
        percent_decode_lossy(&path)
    } else {
        Cow::Borrowed(path.as_ref())
    };
    if !decoded.is_ascii() && decoded.chars().any(lookalike::reads_as_ascii) {
        return Err(PathError::UnicodeLookalike);
    }
    let trailing = |name: &str| name.ends_with(['.', ' ']);
    let dropped_by_windows = |segment: &str| {
        trailing(segment) || trailing(segment.split(';').next().unwrap_or_default())
    };
    if decoded.split('/').any(dropped_by_windows) {
        return Err(PathError::TrailingDotOrSpace);
    }
    Ok(path)
}

/// Whether `path` holds `%25` followed by two hex digits.
fn is_double_encoded(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes
        .windows(3)
        .enumerate()
        .any(|(i, w)| w == b"%25" && hex_pair(bytes, i + 3).is_some())
}

fn hex_pair(bytes: &[u8], at: usize) -> Option<u8> {
    let hi = (*bytes.get(at)? as char).to_digit(16)?;
    let lo = (*bytes.get(at + 1)? as char).to_digit(16)?;
    Some((hi * 16 + lo) as u8)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `PUBLIC_PATHS`: exact paths, and prefixes written `/static/*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicPaths {
    exact: Vec<String>,
    /// Stored with their trailing `/`.
    prefixes: Vec<String>,
}

impl PublicPaths {
    /// No public path: a host that serves no app.
    pub const NONE: Self = Self {
        exact: Vec::new(),
        prefixes: Vec::new(),
    };

    /// Comma-separated entries; each must already be in normal form.
    pub fn parse(v: &str) -> Result<Self, String> {
        let mut paths = Self::default();
        for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (path, is_prefix) = match entry.strip_suffix("/*") {
                Some(prefix) => (format!("{prefix}/"), true),
                None => (entry.to_owned(), false),
            };
            let problem = if !path.starts_with('/') {
                Some("must start with /")
            } else if path == "/" && is_prefix {
                Some("would make every path public")
            } else if path.contains(['*', '?', '#', ' ']) || path.chars().any(char::is_control) {
                Some("may use * only as a final /*, and no ?, # or spaces")
            } else if is_reserved(&path) {
                Some("lies under /.sessiongate/, which the edge answers itself")
            } else if normalise(&path).map_or(true, |normal| normal != path) {
                Some("is not in normal form (no dot segments, %2F, or escapes of unreserved characters)")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(format!("{entry:?} {problem}"));
            }
            if is_prefix {
                paths.prefixes.push(path);
            } else {
                paths.exact.push(path);
            }
        }
        Ok(paths)
    }

    pub fn add_exact(&mut self, path: &str) {
        if !self.exact.iter().any(|p| p == path) {
            self.exact.push(path.to_owned());
        }
    }

    /// Case-sensitive: `/Static/x` is not under `/static/*`, and so stays
    /// protected even if the origin ignores case.
    pub fn is_public(&self, path: &str) -> bool {
        self.entry_for(path).is_some()
    }

    /// The entry that makes `path` public, as written (`/login`, `/static/*`).
    pub fn entry_for(&self, path: &str) -> Option<String> {
        match self.exact.iter().find(|p| *p == path) {
            Some(exact) => Some(exact.clone()),
            None => self.prefix_of(path),
        }
    }

    /// The prefix entry (`/static/*`) that `path` lies under, as written.
    pub fn prefix_of(&self, path: &str) -> Option<String> {
        self.prefixes
            .iter()
            .find(|p| path.starts_with(p.as_str()))
            .map(|p| format!("{p}*"))
    }
}

/// Whether `path` is `/.sessiongate` or lies below it.
pub fn is_reserved(path: &str) -> bool {
    path.strip_prefix(RESERVED_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// What a normalised path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Under `/.sessiongate`: answered by the edge, never forwarded.
    Reserved(Endpoint),
    Public,
    Protected,
}

/// The edge's own endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Logout,
    Session,
    Health,
    /// `/.sessiongate/sessions`: the current user's sessions.
    OwnSessions,
    /// `/.sessiongate/sessions/<sid>`: one of them.
    OwnSession(String),
    /// `/.sessiongate/admin/users/<uid>/sessions`, uid percent-decoded.
    UserSessions(String),
    /// `/.sessiongate/dbsc/register`: a browser binds its key (DESIGN §11).
    DeviceRegister,
    /// `/.sessiongate/dbsc/refresh`: a browser proves its key for a new bound cookie.
    DeviceRefresh,
    /// `/.sessiongate/oidc/start`, `…/callback`, `…/backchannel-logout`:
    /// signing in with the identity provider (DESIGN §12).
    OidcStart,
    OidcCallback,
    OidcBackchannel,
    /// `/.sessiongate/oidc/end-session`: on to the provider's logout.
    OidcEndSession,
    /// `/.sessiongate/jwks.json`: the public keys assertions are signed
    /// with (DESIGN §5).
    Jwks,
    /// `/.sessiongate/sso` at `AUTH_HOST`: a one-time code for an app's
    /// host; `/.sessiongate/sso/code` there: its exchange (DESIGN §16).
    Sso,
    SsoCode,
    NotFound,
}

impl Endpoint {
    /// Answered on a host no app has too: nothing of a session or an app.
    pub fn is_for_any_host(&self) -> bool {
        matches!(self, Self::Health | Self::Jwks)
    }
}

pub fn classify(path: &str, public: &PublicPaths) -> Route {
    if is_reserved(path) {
        return Route::Reserved(endpoint(&path[RESERVED_PREFIX.len()..]));
    }
    if public.is_public(path) {
        Route::Public
    } else {
        Route::Protected
    }
}

fn endpoint(rest: &str) -> Endpoint {
    match rest {
        "/logout" => Endpoint::Logout,
        "/session" => Endpoint::Session,
        "/health" => Endpoint::Health,
        "/sessions" => Endpoint::OwnSessions,
        "/dbsc/register" => Endpoint::DeviceRegister,
        "/dbsc/refresh" => Endpoint::DeviceRefresh,
        "/oidc/start" => Endpoint::OidcStart,
        "/oidc/callback" => Endpoint::OidcCallback,
        "/oidc/backchannel-logout" => Endpoint::OidcBackchannel,
        "/oidc/end-session" => Endpoint::OidcEndSession,
        "/jwks.json" => Endpoint::Jwks,
        "/sso" => Endpoint::Sso,
        "/sso/code" => Endpoint::SsoCode,
        _ if rest.starts_with("/sessions/") => {
            let sid = &rest["/sessions/".len()..];
            let valid = sid.len() == 16
                && sid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if valid {
                Endpoint::OwnSession(sid.to_owned())
            } else {
                Endpoint::NotFound
            }
        }
        _ => rest
            .strip_prefix("/admin/users/")
            .and_then(|r| r.strip_suffix("/sessions"))
            .filter(|uid| !uid.is_empty() && !uid.contains('/'))
            .and_then(percent_decode)
            .map_or(Endpoint::NotFound, Endpoint::UserSessions),
    }
}

/// Full percent-decoding; `None` for a bad escape or non-UTF-8 result.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(hex_pair(bytes, i + 1)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-decoding that never fails: the escapes are known to be whole
/// (normalise refused any other), and bytes that are no UTF-8 become
/// U+FFFD, which reads as nothing else.
fn percent_decode_lossy(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex_pair(bytes, i + 1)) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Percent-encodes everything but unreserved characters, for a query value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if is_unreserved(b) || b == b'/' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` with `query` (already encoded) appended, after `?` or, when `url`
/// has a query already, `&`.
pub fn append_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// Whether a `return_to` value (as decoded once from the query) is a path
/// on this origin. Every further decoding must be one too, since the
/// origin's redirect code may decode again.
pub fn is_safe_return_to(value: &str) -> bool {
    let mut current = Cow::Borrowed(value);
    for _ in 0..4 {
        let v = current.as_ref();
        let local = v.starts_with('/')
            && !v.starts_with("//")
            && !v.contains('\\')
            && !v.chars().any(char::is_control);
        if !local {
            return false;
        }
        match percent_decode(v) {
            Some(next) if next != v => current = Cow::Owned(next),
            Some(_) => return true,
            None => return false,
        }
    }
    false
}

/// The query with any `return_to` removed unless exactly one is present and
/// it is safe; `None` when nothing is left.
pub fn sanitise_return_to(query: &str) -> Option<Cow<'_, str>> {
    let is_return_to = |pair: &str| {
        let name = pair.split('=').next().unwrap_or_default();
        form_decode(name).is_some_and(|name| is_return_to_name(&name))
    };
    let occurrences: Vec<&str> = query.split('&').filter(|p| is_return_to(p)).collect();
    let keep = match occurrences.as_slice() {
        [] => return Some(Cow::Borrowed(query)).filter(|q| !q.is_empty()),
        [one] => one
            .split_once('=')
            .and_then(|(_, value)| form_decode(value))
            .is_some_and(|value| is_safe_return_to(&value)),
        _ => false,
    };
    if keep {
        return Some(Cow::Borrowed(query));
    }
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| !is_return_to(p) && !p.is_empty())
        .collect();
    (!rest.is_empty()).then(|| Cow::Owned(rest.join("&")))
}

/// `return_to` as any origin may read the name: PHP turns `.` and spaces
/// into `_` and `return_to[…]` into an array named `return_to`.
fn is_return_to_name(name: &str) -> bool {
    let base = name.split('[').next().unwrap_or_default();
    base.len() == "return_to".len()
        && base
            .bytes()
            .zip("return_to".bytes())
            .all(|(a, b)| a == b || (b == b'_' && matches!(a, b'.' | b' ')))
}

/// `application/x-www-form-urlencoded` decoding of one name or value.
fn form_decode(s: &str) -> Option<String> {
    percent_decode(&s.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public() -> PublicPaths {
        PublicPaths::parse("/login, /static/*, /favicon.ico").unwrap()
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_others_upper_cased() {
        assert_eq!(normalise("/%61dmin").unwrap(), "/admin");
        assert_eq!(normalise("/a%7eb").unwrap(), "/a~b");
        assert_eq!(normalise("/a%3fb").unwrap(), "/a%3Fb");
        assert_eq!(normalise("/a%3Fb%20c").unwrap(), "/a%3Fb%20c");
        assert!(matches!(
            normalise("/plain/path").unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn separators_nul_and_dots_in_disguise_are_refused() {
        let cases = [
            ("/static/..%2fadmin", PathError::EncodedSlash),
            ("/static%2F..%2Fadmin", PathError::EncodedSlash),
            ("/static/%5c../admin", PathError::Backslash),
            ("/static\\..\\admin", PathError::Backslash),
            ("/a%00b", PathError::Nul),
            ("/a%zz", PathError::BadEscape),
            ("/a%2", PathError::BadEscape),
            ("/static/%252e%252e/admin", PathError::DoubleEncoding),
            (
                "/static/%25%32%65%25%32%65/admin",
                PathError::DoubleEncoding,
            ),
            ("/%25%66d", PathError::DoubleEncoding),
            ("/%25a%66", PathError::DoubleEncoding),
            ("/%25%41%42", PathError::DoubleEncoding),
            ("/static/%2e%2e/admin", PathError::DotSegment),
            ("/static/../admin", PathError::DotSegment),
            ("/static/./x", PathError::DotSegment),
            ("/static/..;/admin", PathError::DotSegment),
            ("/static/.;x/a", PathError::DotSegment),
            ("/static/.../admin", PathError::DotSegment),
            ("/..", PathError::DotSegment),
            ("admin", PathError::NotAbsolute),
        ];
        for (path, expected) in cases {
            assert_eq!(normalise(path), Err(expected), "{path}");
        }
    }

    #[test]
    fn compatibility_lookalikes_of_dots_and_slashes_are_refused() {
        for path in [
            "/static/%EF%BC%8E%EF%BC%8E/admin",
            "/static/%E2%80%A4%E2%80%A4/admin",
            "/static/%EF%BC%8F..%EF%BC%8Fadmin",
            "/static/%ef%bc%bcadmin",
            "/static/\u{FF0E}\u{FF0E}/admin",
            "/a/%E2%92%88",
            "/%E2%81%84", // fraction slash: Windows' best fit makes it /
        ] {
            assert_eq!(normalise(path), Err(PathError::UnicodeLookalike), "{path}");
        }
        for fine in ["/caf%C3%A9", "/%E2%82%AC/price"] {
            assert!(normalise(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn names_that_merely_contain_dots_are_fine() {
        for path in [
            "/a.b",
            "/.well-known/x",
            "/x/..a",
            "/%25",
            "/a.b/c.d",
            "/a%20b",
        ] {
            assert!(normalise(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn look_alike_letters_are_refused_and_ordinary_unicode_passes() {
        for path in [
            "/%EF%BD%81dmin/users", // fullwidth a
            "/\u{FF41}dmin/users",  // the same, raw
            "/%EF%AC%80/x",         // ﬀ
            "/%F0%9D%90%9Admin",    // mathematical bold a
            "/%C4%81dmin",          // ā, best fit to a
            "/admin%C2%A0/users",   // a no-break space
            "/x/%E2%88%95admin",    // division slash, best fit to /
        ] {
            assert_eq!(normalise(path), Err(PathError::UnicodeLookalike), "{path}");
        }
        for fine in [
            "/wiki/Zo%C3%AB",
            "/wiki/Zo\u{EB}",
            "/%E6%96%87%E6%A1%A3",
            "/\u{6587}\u{6863}",
            "/%FF%FE", // not UTF-8: nothing an origin could fold
        ] {
            assert!(normalise(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn segments_ending_in_a_dot_or_a_space_are_refused() {
        for path in [
            "/admin./users",
            "/admin%2E/users",
            "/admin%20/users",
            "/admin.",
            "/admin. /x",
            "/admin.;jsessionid=1/users",
            "/a/b%20",
        ] {
            assert_eq!(
                normalise(path),
                Err(PathError::TrailingDotOrSpace),
                "{path}"
            );
        }
    }

    #[test]
    fn classification_is_exact_or_by_declared_prefix() {
        let public = public();
        assert_eq!(classify("/login", &public), Route::Public);
        assert_eq!(classify("/static/app.css", &public), Route::Public);
        assert_eq!(classify("/static/", &public), Route::Public);
        for protected in [
            "/static",
            "/staticx",
            "/Static/app.css",
            "/login/",
            "/LOGIN",
            "//static/x",
            "/",
            "/admin",
        ] {
            assert_eq!(
                classify(protected, &public),
                Route::Protected,
                "{protected}"
            );
        }
    }

    #[test]
    fn reserved_paths_name_endpoints() {
        let public = public();
        let reserved = |p| match classify(p, &public) {
            Route::Reserved(e) => e,
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(reserved("/.sessiongate/logout"), Endpoint::Logout);
        assert_eq!(reserved("/.sessiongate/session"), Endpoint::Session);
        assert_eq!(reserved("/.sessiongate/health"), Endpoint::Health);
        assert_eq!(reserved("/.sessiongate/sessions"), Endpoint::OwnSessions);
        assert_eq!(
            reserved("/.sessiongate/dbsc/register"),
            Endpoint::DeviceRegister
        );
        assert_eq!(
            reserved("/.sessiongate/dbsc/refresh"),
            Endpoint::DeviceRefresh
        );
        assert_eq!(reserved("/.sessiongate/dbsc"), Endpoint::NotFound);
        assert_eq!(reserved("/.sessiongate/jwks.json"), Endpoint::Jwks);
        assert_eq!(reserved("/.sessiongate/oidc/start"), Endpoint::OidcStart);
        assert_eq!(
            reserved("/.sessiongate/oidc/callback"),
            Endpoint::OidcCallback
        );
        assert_eq!(
            reserved("/.sessiongate/oidc/backchannel-logout"),
            Endpoint::OidcBackchannel
        );
        assert_eq!(
            reserved("/.sessiongate/oidc/end-session"),
            Endpoint::OidcEndSession
        );
        assert_eq!(
            reserved("/.sessiongate/sessions/AbCd-_0123456789"),
            Endpoint::OwnSession("AbCd-_0123456789".into())
        );
        assert_eq!(reserved("/.sessiongate/sessions/short"), Endpoint::NotFound);
        assert_eq!(
            reserved("/.sessiongate/sessions/AbCd-_0123456789/x"),
            Endpoint::NotFound
        );
        assert_eq!(
            reserved("/.sessiongate/admin/users/alice%40example.com/sessions"),
            Endpoint::UserSessions("alice@example.com".into())
        );
        assert_eq!(
            reserved("/.sessiongate/admin/users//sessions"),
            Endpoint::NotFound
        );
        assert_eq!(reserved("/.sessiongate"), Endpoint::NotFound);
        assert_eq!(reserved("/.sessiongate/nope"), Endpoint::NotFound);
        assert_eq!(classify("/.sessiongatex", &public), Route::Protected);
    }

    #[test]
    fn public_path_entries_are_checked() {
        for bad in [
            "static/*",
            "/*",
            "/a*b",
            "/a/../b",
            "/%61",
            "/.sessiongate/x",
            "/a?b",
        ] {
            assert!(PublicPaths::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PublicPaths::parse(" , ").unwrap(), PublicPaths::default());
    }

    #[test]
    fn only_local_return_to_values_are_safe() {
        for safe in ["/", "/dashboard", "/a?b=c", "/search?q=a%20b"] {
            assert!(is_safe_return_to(safe), "{safe}");
        }
        for unsafe_ in [
            "//evil",
            "/\\evil",
            "https://evil",
            "evil",
            "",
            "/%2F/evil",
            "/%5Cevil",
            "/%252F%252Fevil",
            "/a\nb",
            "%2F%2Fevil",
        ] {
            assert!(!is_safe_return_to(unsafe_), "{unsafe_}");
        }
    }

    #[test]
    fn unsafe_or_repeated_return_to_is_dropped_from_the_query() {
        assert_eq!(
            sanitise_return_to("return_to=%2Fa&x=1").as_deref(),
            Some("return_to=%2Fa&x=1")
        );
        assert_eq!(
            sanitise_return_to("return_to=%2F%2Fevil&x=1").as_deref(),
            Some("x=1")
        );
        assert_eq!(
            sanitise_return_to("return_to=https%3A%2F%2Fevil").as_deref(),
            None
        );
        assert_eq!(
            sanitise_return_to("return_to=/a&return_to=/b").as_deref(),
            None
        );
        assert_eq!(
            sanitise_return_to("return%5Fto=//evil&y").as_deref(),
            Some("y")
        );
        assert_eq!(sanitise_return_to("x=1").as_deref(), Some("x=1"));
    }

    #[test]
    fn encoding_a_return_to_keeps_slashes_readable() {
        assert_eq!(percent_encode("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}
