//! The single app's origin and paths: `ORIGIN_URL`, `AUDIENCE`,
//! `LOGIN_URL` and `PUBLIC_PATHS` (docs/DESIGN.md §8). Each app of `APPS`
//! is read by the same readers (`apps.rs`).

use super::Vars;
use crate::routes::PublicPaths;

pub const DEFAULT_LOGIN_URL: &str = "/login";

/// Where requests go and what passes without a session.
pub(super) struct Origin {
    /// `scheme://host[:port]`, no trailing slash.
    pub origin_url: String,
    pub audience: String,
    pub login_url: LoginUrl,
    /// With the same-origin login path among them.
    pub public_paths: PublicPaths,
}

pub(super) fn read(vars: &mut Vars) -> Option<Origin> {
    let (origin_url, audience) = target(vars);
    let login_url = login_url(vars);
    let public_paths = public_paths(vars);
    let (login_url, mut public_paths) = (login_url?, public_paths?);
    login_url.make_public(&mut public_paths);
    Some(Origin {
        origin_url: origin_url?,
        audience: audience?,
        login_url,
        public_paths,
    })
}

/// `ORIGIN_URL` and `AUDIENCE`: where an app's requests go, and whom
/// their assertions are for.
#[inline(never)]
pub(super) fn target(vars: &mut Vars) -> (Option<String>, Option<String>) {
    let origin_url = vars.check(
        "ORIGIN_URL",
        vars.required("ORIGIN_URL").and_then(|v| origin_url(&v)),
    );
    let audience = vars.check(
        "AUDIENCE",
        vars.required("AUDIENCE").and_then(|v| audience(&v)),
    );
    (origin_url, audience)
}

#[inline(never)]
pub(super) fn public_paths(vars: &mut Vars) -> Option<PublicPaths> {
    vars.check(
        "PUBLIC_PATHS",
        PublicPaths::parse(&vars.get("PUBLIC_PATHS").unwrap_or_default()),
    )
}

/// `LOGIN_URL`: with a provider, browsers sign in at the edge unless told
/// otherwise.
pub(super) fn login_url(vars: &mut Vars) -> Option<LoginUrl> {
    let default_login = if vars.get("OIDC_ISSUER").is_some() {
        crate::oidc::START_PATH
    } else {
        DEFAULT_LOGIN_URL
    };
    vars.check(
        "LOGIN_URL",
        LoginUrl::parse(&vars.or_default("LOGIN_URL", default_login)),
    )
}

/// Where unauthenticated browsers are sent: a same-origin path or an
/// absolute `http(s)` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUrl(pub(super) String);

impl LoginUrl {
    pub fn parse(v: &str) -> Result<Self, String> {
        let v = v.trim();
        if v.bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'\\' || b == b'#')
        {
            return Err("must not contain spaces, control characters, '\\' or '#'".to_owned());
        }
        let relative = v.starts_with('/') && !v.starts_with("//");
        let absolute = ["https://", "http://"].iter().any(|scheme| {
            v.strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        });
        if relative || absolute {
            Ok(Self(v.to_owned()))
        } else {
            Err(format!(
                "{v:?} must be a path such as /login or an http(s) URL"
            ))
        }
    }

    /// The path of a same-origin login URL, without its query.
    pub fn same_origin_path(&self) -> Option<&str> {
        self.0
            .starts_with('/')
            .then(|| self.0.split('?').next().unwrap_or_default())
    }

    /// Adds a same-origin login page to `public_paths`: it must be
    /// reachable without a session.
    pub fn make_public(&self, public_paths: &mut PublicPaths) {
        if let Some(path) = self.same_origin_path() {
            public_paths.add_exact(path);
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The login URL with `return_to` appended (already percent-encoded).
    pub fn with_return_to(&self, encoded_return_to: &str) -> String {
        crate::routes::append_query(&self.0, &format!("return_to={encoded_return_to}"))
    }
}

fn origin_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    let problem = || format!("{v:?} must be http(s)://host[:port] with no path, query or fragment");
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or_else(problem)?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (ipv6, after) = bracketed.split_once(']').ok_or_else(problem)?;
            let ok = !ipv6.is_empty()
                && ipv6
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            match after {
                "" => (ok, None),
                _ => (ok, Some(after.strip_prefix(':').ok_or_else(problem)?)),
            }
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            (ok, port)
        }
    };
    let port_ok = port.is_none_or(|p| {
        p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    if host_ok && port_ok {
        Ok(v.strip_suffix('/').unwrap_or(v).to_owned())
    } else {
        Err(problem())
    }
}

fn audience(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.len() > 256 || v.chars().any(char::is_control) {
        Err("must be at most 256 characters, none of them control characters".to_owned())
    } else {
        Ok(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_url_is_scheme_host_and_port_only() {
        for good in [
            "http://127.0.0.1:8788",
            "https://a.example.com/",
            "http://[::1]:80",
            "https://x",
        ] {
            assert!(origin_url(good).is_ok(), "{good}");
        }
        assert_eq!(
            origin_url("https://a.example.com/").unwrap(),
            "https://a.example.com"
        );
        for bad in [
            "a.example.com",
            "ftp://a",
            "https://",
            "https://a/b",
            "https://a?x",
            "https://u@a",
            "https://a:0",
            "https://a:99999",
            "https://a:",
        ] {
            assert!(origin_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn login_url_gains_return_to() {
        let url = LoginUrl::parse("/login").unwrap();
        assert_eq!(url.with_return_to("%2Fa"), "/login?return_to=%2Fa");
        let url = LoginUrl::parse("https://id.example.com/login?app=1").unwrap();
        assert_eq!(
            url.with_return_to("%2Fa"),
            "https://id.example.com/login?app=1&return_to=%2Fa"
        );
        assert_eq!(url.same_origin_path(), None);
    }
}
