//! Applications (DESIGN §16): every app of a team behind one gate. An app
//! is host names with its own origin, audience, public paths, policy,
//! machine clients' audience and lifetimes. People sign in once at
//! `AUTH_HOST` (the *sign-in*, a session there); each app's host gets a
//! session of its own, host-only, through a redirect to `AUTH_HOST` and a
//! one-time code (`code`) the host exchanges.
//!
//! Without `APPS` there is one app, answering on every host: the
//! single-app variables, as they always were.

pub mod code;

use crate::bearer::Bearer;
use crate::cookie::CookieSpec;
use crate::policy::Policy;
use crate::routes::PublicPaths;
use crate::session;

/// Longest app name.
pub const MAX_NAME_LEN: usize = 32;

/// One application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// `[a-z0-9-]{1,32}`; empty for the one app of a single-app gate.
    pub name: String,
    /// Exact host names, lower case, without a port.
    pub hosts: Vec<String>,
    /// `scheme://host[:port]`, no trailing slash.
    pub origin_url: String,
    /// The assertion's `aud`.
    pub audience: String,
    pub public_paths: PublicPaths,
    /// Who may reach which protected path.
    pub authorization: Policy,
    /// Machine clients' access tokens for this app; `None` is off.
    pub bearer: Option<Bearer>,
    /// Idle and absolute timeouts of the app's sessions: at most the
    /// gate's, which the sign-in has.
    pub lifetime: session::Lifetimes,
}

/// The apps, and where people sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apps {
    list: Vec<App>,
    /// `AUTH_HOST`: `Some` exactly when `APPS` is set.
    auth_host: Option<String>,
    /// The cookie an app's host binds a code to its browser with
    /// (`code`), with `APPS`.
    nonce_cookie: Option<CookieSpec>,
}

/// Where a request arrived: which app's host, and whether it is
/// `AUTH_HOST`, where the session is the sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    /// Index into the apps; `None` at an `AUTH_HOST` that is no app's.
    pub app: Option<usize>,
    pub auth_host: bool,
}

impl Site {
    /// The single-app gate's one site.
    pub const SINGLE: Self = Self {
        app: Some(0),
        auth_host: false,
    };

    /// Whether a session here must name an app: every host but
    /// `AUTH_HOST`'s with `APPS`, where sessions are the sign-in's.
    pub fn app_session(self, apps: &Apps) -> Option<&str> {
        match (apps.is_multi() && !self.auth_host, self.app) {
            (true, Some(index)) => Some(apps.list[index].name.as_str()),
            _ => None,
        }
    }
}

impl Apps {
    /// The single-app gate: one app, on every host.
    pub fn single(app: App) -> Self {
        Self {
            list: vec![app],
            auth_host: None,
            nonce_cookie: None,
        }
    }

    /// Several apps (`APPS`), people signing in at `auth_host`; all
    /// already checked (`config::apps`).
    pub fn many(list: Vec<App>, auth_host: String, nonce_cookie: CookieSpec) -> Self {
        Self {
            list,
            auth_host: Some(auth_host),
            nonce_cookie: Some(nonce_cookie),
        }
    }

    pub fn nonce_cookie(&self) -> Option<&CookieSpec> {
        self.nonce_cookie.as_ref()
    }

    pub fn is_multi(&self) -> bool {
        self.auth_host.is_some()
    }

    pub fn auth_host(&self) -> Option<&str> {
        self.auth_host.as_deref()
    }

    pub fn list(&self) -> &[App] {
        &self.list
    }

    pub fn get(&self, index: usize) -> &App {
        &self.list[index]
    }

    pub fn named(&self, name: &str) -> Option<&App> {
        self.list.iter().find(|app| app.name == name)
    }

    /// The app whose hosts hold `host` (any case, a port ignored).
    pub fn index_for_host(&self, host: &str) -> Option<usize> {
        let host = hostname(host);
        self.list
            .iter()
            .position(|app| app.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
    }

    /// Where a request for `host` arrived; `None` for a host the gate does
    /// not serve. A single-app gate serves every host.
    pub fn site(&self, host: &str) -> Option<Site> {
        let Some(auth_host) = &self.auth_host else {
            return Some(Site::SINGLE);
        };
        let app = self.index_for_host(host);
        let auth_host = hostname(host).eq_ignore_ascii_case(auth_host);
        (app.is_some() || auth_host).then_some(Site { app, auth_host })
    }
}

/// The host name of `host[:port]` (an IPv6 literal keeps its brackets).
pub fn hostname(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

/// The `host[:port]` of an origin, `scheme://host[:port]`.
pub fn authority(origin: &str) -> &str {
    origin.split_once("://").map_or(origin, |(_, rest)| rest)
}

/// Checks an app's name: `[a-z0-9-]{1,32}`.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9 and -"
        ))
    }
}

/// Checks a host name as `hosts` and `AUTH_HOST` hold it: letters,
/// digits, `-` and `.`, no port, no scheme; returned in lower case.
pub fn check_host(host: &str) -> Result<String, String> {
    let host = host.trim();
    let valid = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['.', '-'])
        && !host.ends_with('.')
        && !host.contains("..")
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if valid {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(format!(
            "{host:?} must be a host name such as app.example.com (no scheme, port or path)"
        ))
    }
}

/// Where a sign-in at `AUTH_HOST` sends its code: a path on one of the
/// apps' hosts (DESIGN §16). Written without a scheme (`//host[:port]/path`)
/// and so followed in the browser's: one that came over https stays on it,
/// whatever scheme a proxy in front of the edge (wrangler dev's) reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The app's index.
    pub app: usize,
    /// `host[:port]`, as the browser came from it.
    pub authority: String,
    /// The path and query to land on, a safe `return_to`.
    pub path: String,
}

impl Target {
    /// Reads `return_to` (already percent-decoded) at `AUTH_HOST`, reached
    /// at `here` (`host[:port]`): `//host[:port]/path` on an app's host,
    /// with this port, and a path that is a safe `return_to`. Anything else
    /// names no app, or another service on an app's host: `None`, and no
    /// code is made for it.
    pub fn parse(apps: &Apps, return_to: &str, here: &str) -> Option<Self> {
        let rest = return_to.strip_prefix("//")?;
        let split = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = if path.is_empty() { "/" } else { path };
        let app = apps.index_for_host(authority)?;
        let valid = apps.is_multi()
            && port(authority) == port(here)
            && !authority.contains('@')
            && crate::routes::is_safe_return_to(path);
        valid.then(|| Self {
            app,
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }
}

fn port(authority: &str) -> Option<&str> {
    let host = hostname(authority);
    authority[host.len()..].strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, hosts: &[&str]) -> App {
        App {
            name: name.to_owned(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            origin_url: format!("https://{name}.internal"),
            audience: name.to_owned(),
            public_paths: PublicPaths::default(),
            authorization: Policy::default(),
            bearer: None,
            lifetime: session::Lifetimes::new(1800, 43_200),
        }
    }

    fn apps() -> Apps {
        Apps::many(
            vec![
                app("accounts", &["accounts.example.com"]),
                app("wiki", &["wiki.example.com", "docs.example-tools.net"]),
            ],
            "accounts.example.com".to_owned(),
            CookieSpec::new("__Host-sg-sso", crate::cookie::SameSite::Lax).unwrap(),
        )
    }

    #[test]
    fn a_host_names_its_app_in_any_case_and_with_any_port() {
        let apps = apps();
        assert_eq!(apps.index_for_host("Docs.Example-Tools.NET:8443"), Some(1));
        assert_eq!(
            apps.site("accounts.example.com"),
            Some(Site {
                app: Some(0),
                auth_host: true
            })
        );
        assert_eq!(apps.site("evil.example.com"), None);
        assert_eq!(apps.site("wiki.example.com.evil.net"), None);
        // A single-app gate serves every host.
        let single = Apps::single(app("", &[]));
        assert_eq!(single.site("anything.example"), Some(Site::SINGLE));
    }

    #[test]
    fn sessions_name_their_app_everywhere_but_at_auth_host() {
        let apps = apps();
        let wiki = apps.site("wiki.example.com").unwrap();
        let accounts = apps.site("accounts.example.com").unwrap();
        assert_eq!(wiki.app_session(&apps), Some("wiki"));
        assert_eq!(accounts.app_session(&apps), None);
        assert_eq!(Site::SINGLE.app_session(&Apps::single(app("", &[]))), None);
    }

    #[test]
    fn a_target_is_a_path_on_an_apps_host_at_this_port() {
        let apps = apps();
        let here = "accounts.example.com";
        assert_eq!(
            Target::parse(&apps, "//docs.example-tools.net/a?b=1", here),
            Some(Target {
                app: 1,
                authority: "docs.example-tools.net".to_owned(),
                path: "/a?b=1".to_owned(),
            })
        );
        for refused in [
            "//evil.example.net/",
            "https://wiki.example.com/",
            "//wiki.example.com:8443/",
            "//wiki.example.com//evil.net/",
            "//wiki.example.com\\evil.net/",
            "//user@wiki.example.com/",
            "///wiki.example.com/",
            "/relative",
            "javascript:alert(1)",
            "//wiki.example.com.evil.net/",
        ] {
            assert_eq!(Target::parse(&apps, refused, here), None, "{refused}");
        }
        let local = "accounts.example.com:8787";
        assert!(Target::parse(&apps, "//wiki.example.com:8787/x", local).is_some());
        assert!(Target::parse(&apps, "//wiki.example.com/x", local).is_none());
    }

    #[test]
    fn names_and_hosts_are_checked() {
        assert!(check_name("wiki-2").is_ok());
        for bad in ["", "Wiki", "wiki_2", &"a".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_host(" Wiki.Example.com ").unwrap(),
            "wiki.example.com"
        );
        for bad in [
            "https://a.example",
            "a.example:443",
            "a/b",
            "",
            ".a",
            "a..b",
        ] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
    }
}
