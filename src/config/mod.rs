//! Environment variables and secrets into one validated [`Config`] (DESIGN §8).
//!
//! Parsed once per isolate. Every problem is reported, each naming its
//! variable; the text of a secret never appears in an error.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::cookie::{CookieSpec, SameSite};
use crate::dbsc::{self, Binding};
use crate::key::{HmacKey, MIN_SECRET_LEN};
use crate::ledger;
use crate::oidc::{self, Oidc};
use crate::routes::PublicPaths;
use crate::session::Policy;
use crate::throttle::Limit;
use crate::token::{KeyRing, Kid};

/// Shortest idle window: re-stamping a cookie more often than every 15 s
/// would be all churn.
pub const MIN_IDLE: u64 = 60;
/// Shortest absolute lifetime: Workers KV's minimum `expirationTtl`.
pub const MIN_ABSOLUTE: u64 = 60;
/// Longest absolute lifetime: browsers cap cookie `Max-Age` at 400 days.
pub const MAX_ABSOLUTE: u64 = 400 * 86_400;

pub const DEFAULT_LOGIN_URL: &str = "/login";
pub const DEFAULT_IDLE_TIMEOUT: &str = "30m";
pub const DEFAULT_ABSOLUTE_TIMEOUT: &str = "12h";
pub const DEFAULT_COOKIE_NAME: &str = "__Host-sg";
pub const DEFAULT_COOKIE_SAMESITE: &str = "Lax";
pub const DEFAULT_BAD_TOKEN_LIMIT: &str = "30/1m";
pub const DEFAULT_MODE: &str = "enforce";
pub const DEFAULT_REAUTH_AFTER: &str = "15m";
/// Most sessions `MAX_SESSIONS_PER_USER` may allow: one list page of index keys.
pub const MAX_SESSION_LIMIT: u32 = 1000;

/// Everything the gate needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// `scheme://host[:port]`, no trailing slash.
    pub origin_url: String,
    pub audience: String,
    pub login_url: LoginUrl,
    pub public_paths: PublicPaths,
    pub policy: Policy,
    pub cookie: CookieSpec,
    pub session_keys: KeyRing,
    pub assertion_key: HmacKey,
    pub handoff_key: HmacKey,
    /// `None` turns the admin API off.
    pub admin_token: Option<AdminToken>,
    /// Bad tokens a client may present per window; `None` is `off`.
    pub bad_token_limit: Option<Limit>,
    pub mode: Mode,
    /// Sessions a user may have at once; at the limit, a login ends the
    /// oldest. `None` is unlimited.
    pub max_sessions_per_user: Option<u32>,
    /// How recent a login must be to end the user's other sessions;
    /// `None` is `off`.
    pub reauth_after: Option<u64>,
    /// How old a location's copy of a user's revocation state may be, in
    /// seconds (`REVOCATION_STALENESS`), when the ledger is bound.
    pub revocation_staleness: u64,
    /// Device-bound sessions (`DEVICE_BOUND`, `DEVICE_BOUND_REFRESH`).
    pub device_binding: Binding,
    /// Sign-in with an OpenID Connect provider (`OIDC_*`); `None` is off.
    pub oidc: Option<Oidc>,
    /// Whether the revocation ledger (`LEDGER`) is bound: the edge says,
    /// from the bindings; without it, revocation is KV's alone.
    pub ledger: bool,
}

/// `MODE`: whether the gate refuses what fails its checks, or only reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    /// Forward what enforce mode would refuse, with its verdict (for rollout).
    Report,
}

impl Mode {
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "enforce" => Ok(Self::Enforce),
            "report" => Ok(Self::Report),
            _ => Err(format!("{v:?} is not enforce or report")),
        }
    }
}

/// One variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.problem)
    }
}

/// Every problem found, variable by variable (DESIGN §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    /// The value, or `None` with the problem recorded against `var`.
    fn check<T>(&mut self, var: &'static str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|problem| self.0.push(ConfigError { var, problem }))
            .ok()
    }
}

impl Config {
    /// Reads every variable through `lookup` (a missing or empty value is
    /// unset) and validates them all.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let mut errors = ConfigErrors(Vec::new());
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
        let required = |var: &str| get(var).ok_or_else(|| "is not set".to_owned());
        let or_default = |var: &str, default: &str| get(var).unwrap_or_else(|| default.to_owned());

        let origin_url = errors.check(
            "ORIGIN_URL",
            required("ORIGIN_URL").and_then(|v| origin_url(&v)),
        );
        let audience = errors.check("AUDIENCE", required("AUDIENCE").and_then(|v| audience(&v)));
        // With a provider, browsers sign in at the edge unless told otherwise.
        let default_login = if get("OIDC_ISSUER").is_some() {
            oidc::START_PATH
        } else {
            DEFAULT_LOGIN_URL
        };
        let login_url = errors.check(
            "LOGIN_URL",
            LoginUrl::parse(&or_default("LOGIN_URL", default_login)),
        );
        let public_paths = errors.check(
            "PUBLIC_PATHS",
            PublicPaths::parse(&get("PUBLIC_PATHS").unwrap_or_default()),
        );
        let idle = errors.check(
            "IDLE_TIMEOUT",
            duration(&or_default("IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT)),
        );
        let absolute = errors.check(
            "ABSOLUTE_TIMEOUT",
            duration(&or_default("ABSOLUTE_TIMEOUT", DEFAULT_ABSOLUTE_TIMEOUT)).and_then(|secs| {
                if (MIN_ABSOLUTE..=MAX_ABSOLUTE).contains(&secs) {
                    Ok(secs)
                } else {
                    Err(format!("must be between {MIN_ABSOLUTE}s and 400d"))
                }
            }),
        );
        let idle = idle.and_then(|idle| {
            let ceiling = absolute.unwrap_or(MAX_ABSOLUTE);
            errors.check(
                "IDLE_TIMEOUT",
                if idle < MIN_IDLE {
                    Err(format!("must be at least {MIN_IDLE}s"))
                } else if idle > ceiling {
                    Err("must not exceed ABSOLUTE_TIMEOUT".to_owned())
                } else {
                    Ok(idle)
                },
            )
        });
        let same_site = errors.check("COOKIE_SAMESITE", {
            let v = or_default("COOKIE_SAMESITE", DEFAULT_COOKIE_SAMESITE);
            SameSite::parse(v.trim()).ok_or_else(|| format!("{v:?} is not Strict, Lax or None"))
        });
        let cookie = same_site.and_then(|same_site| {
            let name = or_default("COOKIE_NAME", DEFAULT_COOKIE_NAME);
            errors.check(
                "COOKIE_NAME",
                CookieSpec::new(name.trim(), same_site).map_err(str::to_owned),
            )
        });
        let session_keys = errors.check(
            "SESSION_KEYS",
            required("SESSION_KEYS").and_then(|v| key_ring(&v)),
        );
        let assertion_key = errors.check(
            "ASSERTION_KEY",
            required("ASSERTION_KEY").and_then(|v| secret(&v)),
        );
        let handoff_key = errors.check(
            "HANDOFF_KEY",
            required("HANDOFF_KEY").and_then(|v| {
                let same = lookup("ASSERTION_KEY")
                    .is_some_and(|a| a.as_bytes().ct_eq(v.as_bytes()).into());
                if same {
                    Err("must differ from ASSERTION_KEY".to_owned())
                } else {
                    secret(&v)
                }
            }),
        );
        let admin_token = errors.check(
            "ADMIN_TOKEN",
            get("ADMIN_TOKEN").map(|v| AdminToken::new(&v)).transpose(),
        );
        let bad_token_limit = errors.check(
            "BAD_TOKEN_LIMIT",
            Limit::parse(&or_default("BAD_TOKEN_LIMIT", DEFAULT_BAD_TOKEN_LIMIT)),
        );

        let mode = errors.check("MODE", Mode::parse(&or_default("MODE", DEFAULT_MODE)));
        let max_sessions_per_user = errors.check(
            "MAX_SESSIONS_PER_USER",
            get("MAX_SESSIONS_PER_USER").map_or(Ok(None), |v| session_limit(&v)),
        );
        let revocation_staleness = errors.check(
            "REVOCATION_STALENESS",
            duration_within(
                &or_default("REVOCATION_STALENESS", ledger::DEFAULT_STALENESS),
                ledger::MIN_STALENESS..=ledger::MAX_STALENESS,
            ),
        );
        let reauth_after = errors.check(
            "REAUTH_AFTER",
            match or_default("REAUTH_AFTER", DEFAULT_REAUTH_AFTER).trim() {
                off if off.eq_ignore_ascii_case("off") => Ok(None),
                v => duration(v).map(Some),
            },
        );

        let device_bound = errors.check(
            "DEVICE_BOUND",
            dbsc::Mode::parse(&or_default("DEVICE_BOUND", dbsc::DEFAULT_MODE)),
        );
        let device_bound_refresh = errors.check(
            "DEVICE_BOUND_REFRESH",
            duration_within(
                &or_default("DEVICE_BOUND_REFRESH", dbsc::DEFAULT_REFRESH),
                dbsc::MIN_REFRESH..=dbsc::MAX_REFRESH,
            ),
        );
        let device_binding = match (device_bound, device_bound_refresh, &cookie, &session_keys) {
            (Some(mode), Some(refresh), Some(cookie), Some(keys)) => {
                errors.check("COOKIE_NAME", Binding::new(mode, refresh, cookie, keys))
            }
            _ => None,
        };

        let oidc = match Oidc::from_lookup(get, session_keys.as_ref()) {
            Ok(oidc) => Some(oidc),
            Err(problems) => {
                for (var, problem) in problems {
                    errors.0.push(ConfigError { var, problem });
                }
                None
            }
        };

        match (
            origin_url,
            audience,
            login_url,
            public_paths,
            idle,
            absolute,
            cookie,
            session_keys,
            assertion_key,
            handoff_key,
            admin_token,
            bad_token_limit,
            mode,
            max_sessions_per_user,
            reauth_after,
            revocation_staleness,
            device_binding,
            oidc,
        ) {
            (
                Some(origin_url),
                Some(audience),
                Some(login_url),
                Some(mut public_paths),
                Some(idle),
                Some(absolute),
                Some(cookie),
                Some(session_keys),
                Some(assertion_key),
                Some(handoff_key),
                Some(admin_token),
                Some(bad_token_limit),
                Some(mode),
                Some(max_sessions_per_user),
                Some(reauth_after),
                Some(revocation_staleness),
                Some(device_binding),
                Some(oidc),
            ) if errors.0.is_empty() => {
                // The login page must be reachable without a session.
                if let Some(path) = login_url.same_origin_path() {
                    public_paths.add_exact(path);
                }
                Ok(Self {
                    origin_url,
                    audience,
                    login_url,
                    public_paths,
                    policy: Policy::new(idle, absolute),
                    cookie,
                    session_keys,
                    assertion_key,
                    handoff_key,
                    admin_token,
                    bad_token_limit,
                    mode,
                    max_sessions_per_user,
                    reauth_after,
                    revocation_staleness,
                    device_binding,
                    oidc,
                    ledger: false,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Where unauthenticated browsers are sent: a same-origin path or an
/// absolute `http(s)` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUrl(String);

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

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The login URL with `return_to` appended (already percent-encoded).
    pub fn with_return_to(&self, encoded_return_to: &str) -> String {
        crate::routes::append_query(&self.0, &format!("return_to={encoded_return_to}"))
    }
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

/// `90s`, `30m`, `12h`, `2d` or plain seconds.
pub fn duration(v: &str) -> Result<u64, String> {
    let v = v.trim();
    let invalid = || format!("{v:?} is not a duration (use 90s, 30m, 12h, 2d or plain seconds)");
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    if digits.is_empty() || digits.len() > 12 {
        return Err(invalid());
    }
    let n: u64 = digits.parse().map_err(|_| invalid())?;
    if n == 0 {
        return Err("must be more than zero".to_owned());
    }
    Ok(n * scale)
}

/// A [`duration`] within `range` (seconds).
fn duration_within(v: &str, range: std::ops::RangeInclusive<u64>) -> Result<u64, String> {
    let secs = duration(v)?;
    if range.contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "must be between {}s and {}s",
            range.start(),
            range.end()
        ))
    }
}

/// `MAX_SESSIONS_PER_USER`: 1 to 1000, or `unlimited`.
fn session_limit(v: &str) -> Result<Option<u32>, String> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    match v.parse::<u32>() {
        Ok(n) if (1..=MAX_SESSION_LIMIT).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "{v:?} is not a number from 1 to {MAX_SESSION_LIMIT}, or unlimited"
        )),
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

fn secret(v: &str) -> Result<HmacKey, String> {
    if v.chars().count() < MIN_SECRET_LEN {
        Err(format!("is shorter than {MIN_SECRET_LEN} characters"))
    } else {
        Ok(HmacKey::new(v.as_bytes()))
    }
}

/// `kid:secret,kid:secret`; the first pair mints.
fn key_ring(v: &str) -> Result<KeyRing, String> {
    let mut keys: Vec<(Kid, HmacKey)> = Vec::new();
    for (i, entry) in v.split(',').enumerate() {
        let n = i + 1;
        // The entry may hold a secret: errors name its position, not its text.
        let (kid, key) = entry
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("entry {n} is not kid:secret"))?;
        let kid = Kid::parse(kid).ok_or_else(|| {
            format!("entry {n}: the key id must be 1 to 8 characters of a-z and 0-9")
        })?;
        if keys.iter().any(|(k, _)| *k == kid) {
            return Err(format!("key id \"{kid}\" appears twice"));
        }
        let key = secret(key).map_err(|problem| format!("the secret of key id {kid} {problem}"))?;
        keys.push((kid, key));
    }
    KeyRing::new(keys).ok_or_else(|| "lists no keys".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SECRET_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn vars(overrides: &[(&str, &str)]) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = [
            ("ORIGIN_URL", "https://origin.example.com"),
            ("AUDIENCE", "app"),
            ("SESSION_KEYS", &format!("k1:{SECRET_A}") as &str),
            ("ASSERTION_KEY", SECRET_A),
            ("HANDOFF_KEY", SECRET_B),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in overrides {
            vars.insert(k.to_string(), v.to_string());
        }
        vars
    }

    fn parse(overrides: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let vars = vars(overrides);
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    fn problems(overrides: &[(&str, &str)]) -> String {
        parse(overrides).unwrap_err().to_string()
    }

    #[test]
    fn defaults_fill_what_is_unset() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.policy, Policy::new(1800, 43_200));
        assert_eq!(config.cookie.name(), "__Host-sg");
        assert_eq!(config.login_url, LoginUrl("/login".into()));
        assert!(config.public_paths.is_public("/login"));
        assert!(config.admin_token.is_none());
    }

    #[test]
    fn durations_take_units_or_plain_seconds() {
        assert_eq!(duration("90s"), Ok(90));
        assert_eq!(duration("30m"), Ok(1800));
        assert_eq!(duration("12h"), Ok(43_200));
        assert_eq!(duration("2d"), Ok(172_800));
        assert_eq!(duration("3600"), Ok(3600));
        for bad in ["", "h", "1.5h", "-5", "5 m", "5w", "99999999999999h", "0"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn each_error_names_its_variable() {
        assert_eq!(
            problems(&[("IDLE_TIMEOUT", "soon")]),
            "IDLE_TIMEOUT: \"soon\" is not a duration (use 90s, 30m, 12h, 2d or plain seconds)"
        );
        assert_eq!(
            problems(&[("IDLE_TIMEOUT", "13h")]),
            "IDLE_TIMEOUT: must not exceed ABSOLUTE_TIMEOUT"
        );
        assert_eq!(
            problems(&[("IDLE_TIMEOUT", "30")]),
            "IDLE_TIMEOUT: must be at least 60s"
        );
        assert_eq!(
            problems(&[("ABSOLUTE_TIMEOUT", "401d")]),
            "ABSOLUTE_TIMEOUT: must be between 60s and 400d"
        );
        assert_eq!(
            problems(&[("COOKIE_SAMESITE", "lenient")]),
            "COOKIE_SAMESITE: \"lenient\" is not Strict, Lax or None"
        );
        assert!(problems(&[("COOKIE_NAME", "a b")]).starts_with("COOKIE_NAME: "));
        assert!(problems(&[("LOGIN_URL", "//evil.example")]).starts_with("LOGIN_URL: "));
        assert!(problems(&[("PUBLIC_PATHS", "static/*")]).starts_with("PUBLIC_PATHS: "));
        assert_eq!(
            problems(&[("BAD_TOKEN_LIMIT", "lots")]),
            "BAD_TOKEN_LIMIT: \"lots\" is not N/duration, such as 30/1m, or off"
        );
        assert_eq!(
            problems(&[("MODE", "lenient")]),
            "MODE: \"lenient\" is not enforce or report"
        );
        assert_eq!(parse(&[("MODE", "Report")]).unwrap().mode, Mode::Report);
        assert_eq!(
            problems(&[("MAX_SESSIONS_PER_USER", "0")]),
            "MAX_SESSIONS_PER_USER: \"0\" is not a number from 1 to 1000, or unlimited"
        );
        assert_eq!(
            parse(&[("MAX_SESSIONS_PER_USER", "3")])
                .unwrap()
                .max_sessions_per_user,
            Some(3)
        );
        assert!(problems(&[("REAUTH_AFTER", "soon")]).starts_with("REAUTH_AFTER: "));
        assert_eq!(
            parse(&[("REAUTH_AFTER", "off")]).unwrap().reauth_after,
            None
        );
        let defaults = parse(&[]).unwrap();
        assert_eq!(
            (defaults.max_sessions_per_user, defaults.reauth_after),
            (None, Some(900))
        );
        assert_eq!(parse(&[]).unwrap().mode, Mode::Enforce);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let vars: HashMap<String, String> = HashMap::new();
        let errors = Config::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
        let vars: Vec<_> = errors.0.iter().map(|e| e.var).collect();
        assert_eq!(
            vars,
            [
                "ORIGIN_URL",
                "AUDIENCE",
                "SESSION_KEYS",
                "ASSERTION_KEY",
                "HANDOFF_KEY"
            ]
        );
        assert!(errors.0.iter().all(|e| e.problem == "is not set"));
    }

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
