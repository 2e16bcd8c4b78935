//! `RECORD_CACHE`: how long an isolate keeps a session record it read from
//! KV (docs/DESIGN.md §8, §14).
//!
//! Its default and its ceiling follow the revocation ledger, which the
//! bindings tell: with the ledger, a copy may not outlive
//! `REVOCATION_STALENESS`, the bound the edge states for every ending;
//! without it, at most [`MAX_WITHOUT_LEDGER`] seconds.

use super::revocation::Revocation;
use super::value::duration;
use super::Vars;
use crate::ledger;
use crate::record_cache::MAX_WITHOUT_LEDGER;

pub const VAR: &str = "RECORD_CACHE";

/// The seconds a copy is kept, as set or by default; `None` when the
/// setting is wrong, or when `REVOCATION_STALENESS`, which it follows, is.
pub(super) fn read(vars: &mut Vars, ledger: bool, revocation: Option<&Revocation>) -> Option<u64> {
    let set = match vars.get(VAR) {
        None => None,
        Some(v) => Some(vars.check(VAR, parse(v.trim()))?),
    };
    let staleness = revocation?.revocation_staleness;
    vars.check(VAR, resolve(set, ledger, staleness))
}

fn parse(v: &str) -> Result<u64, String> {
    match duration(v) {
        Ok(secs) if secs <= ledger::MAX_STALENESS => Ok(secs),
        Ok(_) => Err(format!(
            "must be at most {}s (the longest REVOCATION_STALENESS), or 0 (off)",
            ledger::MAX_STALENESS
        )),
        Err(_) if v == "0" || v.eq_ignore_ascii_case("off") => Ok(0),
        Err(problem) => Err(problem),
    }
}

/// The seconds a copy is kept, as set or by default; what is wrong with
/// the setting when the ledger is bound (`ledger`) or not.
fn resolve(set: Option<u64>, ledger: bool, staleness: u64) -> Result<u64, String> {
    match (set, ledger) {
        (None, true) => Ok(staleness),
        (None, false) => Ok(0),
        (Some(secs), true) if secs > staleness => Err(format!(
            "must not exceed REVOCATION_STALENESS ({staleness}s) while the revocation ledger (LEDGER) is bound"
        )),
        (Some(secs), false) if secs > MAX_WITHOUT_LEDGER => Err(format!(
            "must be at most {MAX_WITHOUT_LEDGER}s without the revocation ledger (LEDGER): a logout waits that long at the location's other isolates"
        )),
        (Some(secs), _) => Ok(secs),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{problems, read};

    fn bound(overrides: &[(&str, &str)], ledger: bool) -> Result<u64, String> {
        read(overrides, ledger)
            .map(|config| config.record_cache_s)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn unset_it_follows_the_ledger() {
        assert_eq!(bound(&[], true), Ok(10));
        assert_eq!(bound(&[("REVOCATION_STALENESS", "30s")], true), Ok(30));
        assert_eq!(bound(&[], false), Ok(0), "off without the ledger");
    }

    #[test]
    fn set_it_is_seconds_or_off() {
        assert_eq!(bound(&[("RECORD_CACHE", "5s")], true), Ok(5));
        assert_eq!(bound(&[("RECORD_CACHE", "1m")], false), Ok(60));
        for off in ["0", "off", "OFF"] {
            assert_eq!(bound(&[("RECORD_CACHE", off)], true), Ok(0), "{off}");
        }
        assert_eq!(
            problems(&[("RECORD_CACHE", "soon")]),
            "RECORD_CACHE: \"soon\" is not a duration (use 90s, 30m, 12h, 2d or plain seconds)"
        );
        assert_eq!(
            problems(&[("RECORD_CACHE", "301")]),
            "RECORD_CACHE: must be at most 300s (the longest REVOCATION_STALENESS), or 0 (off)"
        );
    }

    #[test]
    fn it_never_outlives_the_revocation_bound_nor_a_minute_without_the_ledger() {
        assert_eq!(
            bound(&[("RECORD_CACHE", "11")], true),
            Err("RECORD_CACHE: must not exceed REVOCATION_STALENESS (10s) while the revocation ledger (LEDGER) is bound".into())
        );
        assert_eq!(
            bound(&[("RECORD_CACHE", "61")], false),
            Err("RECORD_CACHE: must be at most 60s without the revocation ledger (LEDGER): a logout waits that long at the location's other isolates".into())
        );
        assert_eq!(
            bound(
                &[("RECORD_CACHE", "60"), ("REVOCATION_STALENESS", "2m")],
                true
            ),
            Ok(60),
            "with the ledger, up to its bound"
        );
    }
}
