//! Environment variables and secrets into one validated [`Config`]
//! (docs/DESIGN.md §8).
//!
//! Parsed once per isolate. Every problem is reported, each naming its
//! variable; the text of a secret never appears in an error.
//!
//! Each concern is a section in a module of its own: a function that reads
//! its variables through the reader in `vars.rs`, records what is wrong and
//! returns the section only when all of it is valid. [`Config::from_lookup`]
//! reads the sections in the order their problems are reported, then
//! assembles `Config` if none was found. A new section is a new module, one
//! line reading it and its fields in `Config`.

use std::borrow::Cow;
use std::fmt;

use crate::apps::Apps;
use crate::assertion::signing::Signer;
use crate::cookie::CookieSpec;
use crate::dbsc::Binding;
use crate::key::HmacKey;
use crate::oidc::Oidc;
use crate::session::Lifetimes;
use crate::throttle::Limit;
use crate::token::KeyRing;

mod apps;
mod authorization;
mod bearer;
mod dbsc;
mod deciding;
mod enforcement;
mod keys;
mod oidc;
mod origin;
mod record_cache;
mod revocation;
mod session;
mod signing;
mod value;
mod vars;

pub use deciding::Deciding;
pub use enforcement::{Enforcement, DEFAULT_BAD_TOKEN_LIMIT, DEFAULT_MODE};
pub use keys::AdminToken;
pub use origin::{LoginUrl, DEFAULT_LOGIN_URL};
pub use revocation::{DEFAULT_REAUTH_AFTER, MAX_SESSION_LIMIT};
pub use session::{
    DEFAULT_ABSOLUTE_TIMEOUT, DEFAULT_COOKIE_NAME, DEFAULT_COOKIE_SAMESITE, DEFAULT_IDLE_TIMEOUT,
    MAX_ABSOLUTE, MIN_ABSOLUTE, MIN_IDLE,
};
use value::duration;
use vars::Vars;

/// Everything the gate needs, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The apps, and where people sign in (`APPS`, `AUTH_HOST`); without
    /// them, the one app of `ORIGIN_URL`, `AUDIENCE`, `PUBLIC_PATHS`,
    /// `POLICY` and `BEARER_AUDIENCE`.
    pub apps: Apps,
    /// Where unauthenticated browsers are sent (on `AUTH_HOST` with apps).
    pub login_url: LoginUrl,
    /// `IDLE_TIMEOUT` and `ABSOLUTE_TIMEOUT`: the sign-in's lifetimes, and
    /// each app's ceiling.
    pub lifetimes: Lifetimes,
    pub cookie: CookieSpec,
    pub session_keys: KeyRing,
    /// How assertions are signed: `ASSERTION_SIGNING_KEYS`, else HS256
    /// under `ASSERTION_KEY`.
    pub assertion_signer: Signer,
    pub handoff_key: HmacKey,
    /// `None` turns the admin API off.
    pub admin_token: Option<AdminToken>,
    /// Bad tokens a client may present per window; `None` is `off`.
    pub bad_token_limit: Option<Limit>,
    pub mode: Enforcement,
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
    /// Whether the revocation ledger (`LEDGER`) is bound, as the bindings
    /// say; without it, revocation is KV's alone.
    pub ledger: bool,
    /// Seconds an isolate keeps a session record it read from KV
    /// (`RECORD_CACHE`); 0 is off. Unset, it is `REVOCATION_STALENESS`
    /// with the ledger bound and off without it.
    pub record_cache_s: u64,
}

/// One variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable, or the part of one (`APPS[wiki].policy`).
    pub var: Cow<'static, str>,
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

impl Config {
    /// [`Config::read`] without the revocation ledger.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        Self::read(lookup, false)
    }

    /// Reads every variable through `lookup` (a missing or empty value is
    /// unset) and validates them all, knowing whether the revocation
    /// ledger is bound (`ledger`), which `RECORD_CACHE`'s default and
    /// ceiling follow (DESIGN §14).
    pub fn read(
        lookup: impl Fn(&str) -> Option<String>,
        ledger: bool,
    ) -> Result<Self, ConfigErrors> {
        let mut vars = Vars::new(&lookup);
        // In the order problems are reported: a later section may take an
        // earlier one's value, even when other sections are invalid.
        let draft = apps::read(&mut vars);
        let lifetimes = session::lifetime(&mut vars);
        let cookie = session::cookie(&mut vars);
        let session_keys = keys::ring(&mut vars);
        let signing_keys = signing::read(&mut vars);
        let secrets = keys::secrets(&mut vars, matches!(signing_keys, Some(Some(_))));
        let enforcement = enforcement::read(&mut vars);
        let revocation = revocation::read(&mut vars);
        let record_cache = record_cache::read(&mut vars, ledger, revocation.as_ref());
        let device_binding = dbsc::read(&mut vars, cookie.as_ref(), session_keys.as_ref());
        let oidc = oidc::read(&mut vars, session_keys.as_ref());
        let context = apps::Context {
            lifetime: lifetimes,
            cookie: cookie.as_ref(),
            signing_keys: matches!(signing_keys, Some(Some(_))),
        };
        let apps = apps::finish(&mut vars, draft, &context);
        vars.finish(|| {
            let (apps, login_url) = apps?;
            let secrets = secrets?;
            let assertion_signer = match signing_keys? {
                Some(keys) => Signer::Keys(keys),
                None => Signer::Shared(secrets.assertion_key?),
            };
            let enforcement = enforcement?;
            let revocation = revocation?;
            Some(Self {
                apps,
                login_url,
                lifetimes: lifetimes?,
                cookie: cookie?,
                session_keys: session_keys?,
                assertion_signer,
                handoff_key: secrets.handoff_key,
                admin_token: secrets.admin_token,
                bad_token_limit: enforcement.bad_token_limit,
                mode: enforcement.mode,
                max_sessions_per_user: revocation.max_sessions_per_user,
                reauth_after: revocation.reauth_after,
                revocation_staleness: revocation.revocation_staleness,
                device_binding: device_binding?,
                oidc: oidc?,
                ledger,
                record_cache_s: record_cache?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    pub(super) const SECRET_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    pub(super) const SECRET_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

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

    pub(super) fn parse(overrides: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        read(overrides, false)
    }

    /// [`parse`], with the revocation ledger bound or not.
    pub(super) fn read(overrides: &[(&str, &str)], ledger: bool) -> Result<Config, ConfigErrors> {
        let vars = vars(overrides);
        Config::read(|k| vars.get(k).cloned(), ledger)
    }

    pub(super) fn problems(overrides: &[(&str, &str)]) -> String {
        parse(overrides).unwrap_err().to_string()
    }

    #[test]
    fn defaults_fill_what_is_unset() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.lifetimes, Lifetimes::new(1800, 43_200));
        assert_eq!(config.cookie.name(), "__Host-sg");
        assert_eq!(config.login_url, LoginUrl("/login".into()));
        assert!(config.apps.get(0).public_paths.is_public("/login"));
        assert!(config.admin_token.is_none());
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
        assert_eq!(
            parse(&[("MODE", "Report")]).unwrap().mode,
            Enforcement::Report
        );
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
        assert_eq!(parse(&[]).unwrap().mode, Enforcement::Enforce);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let vars: HashMap<String, String> = HashMap::new();
        let errors = Config::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
        let vars: Vec<_> = errors.0.iter().map(|e| e.var.as_ref()).collect();
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
}
