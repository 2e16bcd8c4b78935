//! How the gate answers what fails its checks: `BAD_TOKEN_LIMIT` and
//! `MODE` (docs/DESIGN.md §8, §9).

use super::Vars;
use crate::throttle::Limit;

pub const DEFAULT_BAD_TOKEN_LIMIT: &str = "30/1m";
pub const DEFAULT_MODE: &str = "enforce";

pub(super) struct Section {
    /// Bad tokens a client may present per window; `None` is `off`.
    pub bad_token_limit: Option<Limit>,
    pub mode: Enforcement,
}

pub(super) fn read(vars: &mut Vars) -> Option<Section> {
    let bad_token_limit = vars.check(
        "BAD_TOKEN_LIMIT",
        Limit::parse(&vars.or_default("BAD_TOKEN_LIMIT", DEFAULT_BAD_TOKEN_LIMIT)),
    );
    let mode = vars.check(
        "MODE",
        Enforcement::parse(&vars.or_default("MODE", DEFAULT_MODE)),
    );
    Some(Section {
        bad_token_limit: bad_token_limit?,
        mode: mode?,
    })
}

/// `MODE`: whether the gate refuses what fails its checks, or only reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    Enforce,
    /// Forward what enforce mode would refuse, with its verdict (for rollout).
    Report,
}

impl Enforcement {
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "enforce" => Ok(Self::Enforce),
            "report" => Ok(Self::Report),
            _ => Err(format!("{v:?} is not enforce or report")),
        }
    }
}
