//! How long a session lives and the cookie that carries it:
//! `IDLE_TIMEOUT`, `ABSOLUTE_TIMEOUT`, `COOKIE_SAMESITE` and `COOKIE_NAME`
//! (docs/DESIGN.md §8).
//!
//! Two sections, since device binding names its cookie after the session
//! cookie whether or not the timeouts are valid.

use super::Vars;
use crate::cookie::{CookieSpec, SameSite};
use crate::session::Lifetimes;

/// Shortest idle window: re-stamping a cookie more often than every 15 s
/// would be all churn.
pub const MIN_IDLE: u64 = 60;
/// Shortest absolute lifetime: Workers KV's minimum `expirationTtl`.
pub const MIN_ABSOLUTE: u64 = 60;
/// Longest absolute lifetime: browsers cap cookie `Max-Age` at 400 days.
pub const MAX_ABSOLUTE: u64 = 400 * 86_400;

pub const DEFAULT_IDLE_TIMEOUT: &str = "30m";
pub const DEFAULT_ABSOLUTE_TIMEOUT: &str = "12h";
pub const DEFAULT_COOKIE_NAME: &str = "__Host-sg";
pub const DEFAULT_COOKIE_SAMESITE: &str = "Lax";

/// `IDLE_TIMEOUT` and `ABSOLUTE_TIMEOUT`. The idle timeout's bounds are
/// checked after the absolute timeout is read, since it is one of them.
#[inline(never)]
pub(super) fn lifetime(vars: &mut Vars) -> Option<Lifetimes> {
    let idle = vars.check(
        "IDLE_TIMEOUT",
        super::duration(&vars.or_default("IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT)),
    );
    let absolute = vars.check(
        "ABSOLUTE_TIMEOUT",
        super::duration(&vars.or_default("ABSOLUTE_TIMEOUT", DEFAULT_ABSOLUTE_TIMEOUT)).and_then(
            |secs| {
                if (MIN_ABSOLUTE..=MAX_ABSOLUTE).contains(&secs) {
                    Ok(secs)
                } else {
                    Err(format!("must be between {MIN_ABSOLUTE}s and 400d"))
                }
            },
        ),
    );
    let idle = idle.and_then(|idle| {
        let ceiling = absolute.unwrap_or(MAX_ABSOLUTE);
        vars.check(
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
    Some(Lifetimes::new(idle?, absolute?))
}

/// `COOKIE_SAMESITE`, then `COOKIE_NAME`, which is only checked with a
/// valid `SameSite` to build it with.
pub(super) fn cookie(vars: &mut Vars) -> Option<CookieSpec> {
    let same_site = vars.check("COOKIE_SAMESITE", {
        let v = vars.or_default("COOKIE_SAMESITE", DEFAULT_COOKIE_SAMESITE);
        SameSite::parse(v.trim()).ok_or_else(|| format!("{v:?} is not Strict, Lax or None"))
    });
    let name = vars.or_default("COOKIE_NAME", DEFAULT_COOKIE_NAME);
    vars.check(
        "COOKIE_NAME",
        CookieSpec::new(name.trim(), same_site?).map_err(str::to_owned),
    )
}
