//! `config::Config::from_lookup` with every variable carved out of the input.
//!
//! Input: up to 16 values separated by NUL, in the order of `VARS` (the
//! variables of DESIGN §8); a value past the last
//! NUL-separated piece is unset (lookup returns `None`), as is any variable
//! not in `VARS`. Bytes are read lossily as UTF-8.
//!
//! Invariants:
//! - secrets never appear in errors: no `ConfigError` contains a secret of at
//!   least 8 characters (the `SESSION_KEYS` secrets, `ASSERTION_KEY`,
//!   `HANDOFF_KEY`, `ADMIN_TOKEN`; raw or trimmed). To tell a leak from
//!   public text that merely coincides (a message's own words, a key id,
//!   another variable's echoed value), the config is parsed a second time
//!   with every ASCII letter and digit of the secrets rotated (ROT13 /
//!   ROT5: lengths, whitespace, `,` and `:` and key ids unchanged, equal
//!   secrets stay equal). A secret found in an error is a leak unless the
//!   same text is in that error in the rotated run too;
//! - more strictly, errors (and the `Debug` of an accepted `Config`) must
//!   be identical in both runs: nothing about a secret but its length and
//!   structure may show;
//! - an accepted config is consistent: `MIN_IDLE <= idle <= absolute <=
//!   MAX_ABSOLUTE`, no app's lifetimes exceed them, a same-origin login
//!   path is public at the app where people sign in, no origin URL has a
//!   trailing `/`, a bad-token limit allows at least one failure; every
//!   error names one of the variables in `VARS`, or a part of `APPS`
//!   (`APPS[wiki].policy`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiongate_core::config::{Config, ConfigErrors, MAX_ABSOLUTE, MIN_IDLE};

const VARS: [&str; 16] = [
    "ORIGIN_URL",
    "AUDIENCE",
    "LOGIN_URL",
    "PUBLIC_PATHS",
    "IDLE_TIMEOUT",
    "ABSOLUTE_TIMEOUT",
    "COOKIE_NAME",
    "COOKIE_SAMESITE",
    "SESSION_KEYS",
    "ASSERTION_KEY",
    "HANDOFF_KEY",
    "ADMIN_TOKEN",
    "BAD_TOKEN_LIMIT",
    "MODE",
    "APPS",
    "AUTH_HOST",
];
const SESSION_KEYS: usize = 8;
/// `SESSION_KEYS` up to `ADMIN_TOKEN` are secret.
const SECRETS: std::ops::RangeInclusive<usize> = 8..=11;
const MIN_CHECKED: usize = 8;

fn rotate(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            '0'..='9' => (((c as u8 - b'0') + 5) % 10 + b'0') as char,
            other => other,
        })
        .collect()
}

/// `SESSION_KEYS` with each entry's secret (after its first `:`, or the
/// whole entry when it has none) rotated, and key ids kept.
fn rotate_session_keys(v: &str) -> String {
    v.split(',')
        .map(|entry| match entry.split_once(':') {
            Some((kid, secret)) => format!("{kid}:{}", rotate(secret)),
            None => rotate(entry),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Every secret text, raw and trimmed, of at least `MIN_CHECKED` chars.
fn secrets(values: &[Option<String>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        for s in [s, s.trim()] {
            if s.chars().count() >= MIN_CHECKED && !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
    };
    for (i, value) in values.iter().enumerate() {
        let (true, Some(v)) = (SECRETS.contains(&i), value) else { continue };
        add(v);
        if i == SESSION_KEYS {
            for entry in v.split(',') {
                // A malformed entry may be a bare secret pasted without a kid.
                match entry.trim().split_once(':') {
                    Some((_, secret)) => add(secret),
                    None => add(entry),
                }
            }
        }
    }
    out
}

fn parse(values: &[Option<String>]) -> Result<Config, ConfigErrors> {
    Config::from_lookup(|var: &str| -> Option<String> {
        let i = VARS.iter().position(|v| *v == var)?;
        values.get(i).cloned().flatten()
    })
}

fuzz_target!(|data: &[u8]| {
    let values: Vec<Option<String>> = data
        .split(|&b| b == 0)
        .take(VARS.len())
        .map(|v| Some(String::from_utf8_lossy(v).into_owned()))
        .collect();
    let rotated: Vec<Option<String>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| match (i, v) {
            (SESSION_KEYS, Some(v)) => Some(rotate_session_keys(v)),
            (i, Some(v)) if SECRETS.contains(&i) => Some(rotate(v)),
            _ => v.clone(),
        })
        .collect();

    match (parse(&values), parse(&rotated)) {
        (Err(errors), Err(errors_rotated)) => {
            assert!(!errors.0.is_empty(), "Err with no errors");
            let secrets = secrets(&values);
            for (i, error) in errors.0.iter().enumerate() {
                let var = error.var.as_ref();
                assert!(
                    VARS.contains(&var) || var.starts_with("APPS["),
                    "error names unknown variable {var}"
                );
                let coincidence = errors_rotated.0.get(i).map_or("", |e| e.problem.as_str());
                for secret in &secrets {
                    assert!(
                        !error.problem.contains(secret.as_str()) || coincidence.contains(secret.as_str()),
                        "secret {secret:?} leaked in error {}: {}",
                        error.var,
                        error.problem
                    );
                }
            }
            assert_eq!(errors, errors_rotated, "error text depends on the content of a secret");
        }
        (Ok(config), Ok(config_rotated)) => {
            let idle = config.lifetimes.idle();
            let absolute = config.lifetimes.absolute();
            assert!(MIN_IDLE <= idle && idle <= absolute && absolute <= MAX_ABSOLUTE);
            let apps = &config.apps;
            for app in apps.list() {
                // Each app's sessions live no longer than the sign-in's.
                assert!(app.lifetime.idle() <= idle && app.lifetime.absolute() <= absolute);
                assert!(!app.origin_url.ends_with('/'));
            }
            // The login page is reachable without a session where it is.
            let login_app = match apps.auth_host() {
                Some(host) => apps.index_for_host(host),
                None => Some(0),
            };
            if let (Some(path), Some(app)) = (config.login_url.same_origin_path(), login_app) {
                assert!(apps.get(app).public_paths.is_public(path));
            }
            if let Some(limit) = &config.bad_token_limit {
                assert!(limit.failures >= 1 && limit.window >= 1);
            }
            assert_eq!(
                format!("{config:?}"),
                format!("{config_rotated:?}"),
                "Debug of Config depends on the content of a secret"
            );
        }
        (a, b) => panic!(
            "validity depends on the content of a secret: {:?} vs {:?}",
            a.err(),
            b.err()
        ),
    }
});
