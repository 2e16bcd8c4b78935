//! Device-bound sessions: `DEVICE_BOUND` and `DEVICE_BOUND_REFRESH`, into
//! a [`Binding`] (docs/DESIGN.md §8, §11).

use super::value::duration_within;
use super::Vars;
use crate::cookie::CookieSpec;
use crate::dbsc::{self, Binding};
use crate::token::KeyRing;

/// `DEVICE_BOUND` alone.
pub(super) fn requirement(vars: &mut Vars) -> Option<dbsc::Requirement> {
    vars.check(
        "DEVICE_BOUND",
        dbsc::Requirement::parse(&vars.or_default("DEVICE_BOUND", dbsc::DEFAULT_MODE)),
    )
}

/// The bound cookie is named after the session cookie and its keys are
/// derived from the session keys, so the binding is built only when both
/// are valid; a session cookie name too long for the suffix is reported
/// against `COOKIE_NAME`.
pub(super) fn read(
    vars: &mut Vars,
    cookie: Option<&CookieSpec>,
    keys: Option<&KeyRing>,
) -> Option<Binding> {
    let mode = requirement(vars);
    let refresh = vars.check(
        "DEVICE_BOUND_REFRESH",
        duration_within(
            &vars.or_default("DEVICE_BOUND_REFRESH", dbsc::DEFAULT_REFRESH),
            dbsc::MIN_REFRESH..=dbsc::MAX_REFRESH,
        ),
    );
    let (mode, refresh, cookie, keys) = (mode?, refresh?, cookie?, keys?);
    vars.check("COOKIE_NAME", Binding::new(mode, refresh, cookie, keys))
}
