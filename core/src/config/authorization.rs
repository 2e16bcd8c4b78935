//! The authorization section (docs/DESIGN.md §8, §13): `POLICY`, the rules
//! of who may reach which protected path, and `POLICY_DEFAULT`, what a path
//! no rule matches gets.

use super::vars::Vars;
use crate::policy::{Fallback, Policy};

/// A policy that cannot be read refuses every request (`misconfigured`):
/// the problem names the rule and the field.
#[inline(never)]
pub fn read(vars: &mut Vars) -> Option<Policy> {
    let fallback = vars.check(
        "POLICY_DEFAULT",
        Fallback::parse(&vars.or_default("POLICY_DEFAULT", "allow")),
    )?;
    let rules = vars.get("POLICY").unwrap_or_default();
    vars.check(
        "POLICY",
        Policy::parse(&rules, fallback).map_err(|e| e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse, problems};
    use crate::policy::Verdict;

    #[test]
    fn no_policy_lets_every_signed_in_user_through() {
        assert!(!parse(&[]).unwrap().apps.get(0).authorization.is_active());
    }

    #[test]
    fn a_policy_is_read_from_its_json_text() {
        let rules =
            r#"[{"name": "admins", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]}]"#;
        let config = parse(&[("POLICY", rules), ("POLICY_DEFAULT", "deny")]).unwrap();
        let policy = &config.apps.get(0).authorization;
        assert_eq!(
            policy.rule_for("/admin/x").map(|r| r.label()),
            Some("admins")
        );
        let claims = Default::default();
        let anyone = crate::policy::Subject {
            uid: "u",
            email: None,
            groups: &[],
            claims: &claims,
            device_bound: false,
            auth_time: 0,
        };
        let request = crate::policy::Request {
            path: "/elsewhere",
            method: "GET",
        };
        assert_eq!(
            policy.decide(&request, &anyone, 0).outcome,
            Verdict::Forbidden
        );
    }

    #[test]
    fn a_bad_policy_is_a_problem_naming_the_rule_and_field() {
        assert_eq!(
            problems(&[("POLICY", r#"[{"name": "x", "paths": ["/a"], "allow": []}]"#)]),
            "POLICY: rule 0 (\"x\"): allow: must list at least one condition"
        );
        assert_eq!(
            problems(&[("POLICY_DEFAULT", "closed")]),
            "POLICY_DEFAULT: \"closed\" is not allow or deny"
        );
    }
}
