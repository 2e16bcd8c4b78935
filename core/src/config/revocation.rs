//! What ends sessions early: `MAX_SESSIONS_PER_USER` and `REAUTH_AFTER`
//! (DESIGN §6), and the ledger's `REVOCATION_STALENESS` (§3); all three
//! in docs/DESIGN.md §8.

use super::value::{duration, duration_within};
use super::Vars;
use crate::ledger;

/// Most sessions `MAX_SESSIONS_PER_USER` may allow: one list page of index keys.
pub const MAX_SESSION_LIMIT: u32 = 1000;
pub const DEFAULT_REAUTH_AFTER: &str = "15m";

pub(super) struct Revocation {
    /// Sessions a user may have at once; `None` is unlimited.
    pub max_sessions_per_user: Option<u32>,
    /// How old a location's copy of a user's revocation state may be, in
    /// seconds, when the ledger is bound.
    pub revocation_staleness: u64,
    /// How recent a login must be to end the user's other sessions;
    /// `None` is `off`.
    pub reauth_after: Option<u64>,
}

pub(super) fn read(vars: &mut Vars) -> Option<Revocation> {
    let max_sessions_per_user = vars.check(
        "MAX_SESSIONS_PER_USER",
        vars.get("MAX_SESSIONS_PER_USER")
            .map_or(Ok(None), |v| session_limit(&v)),
    );
    let revocation_staleness = vars.check(
        "REVOCATION_STALENESS",
        duration_within(
            &vars.or_default("REVOCATION_STALENESS", ledger::DEFAULT_STALENESS),
            ledger::MIN_STALENESS..=ledger::MAX_STALENESS,
        ),
    );
    let reauth_after = vars.check(
        "REAUTH_AFTER",
        match vars.or_default("REAUTH_AFTER", DEFAULT_REAUTH_AFTER).trim() {
            off if off.eq_ignore_ascii_case("off") => Ok(None),
            v => duration(v).map(Some),
        },
    );
    Some(Revocation {
        max_sessions_per_user: max_sessions_per_user?,
        revocation_staleness: revocation_staleness?,
        reauth_after: reauth_after?,
    })
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
