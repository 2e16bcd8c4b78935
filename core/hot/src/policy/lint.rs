//! Traps in a valid policy (`npm run policy -- --lint`, DESIGN §13.7):
//! rules that never decide or never refuse what their author meant them to,
//! and the default that lets aliases of a protected path through. Each is a
//! warning: the policy works as written, but likely not as meant.

use std::fmt;

use super::path::Pattern;
use super::rule::{Condition, Rule};
use super::{Fallback, Policy};
use crate::routes::PublicPaths;

/// What else decides whether a rule can apply.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub public_paths: &'a PublicPaths,
    /// `BEARER_AUDIENCE` is set: machine clients reach the policy.
    pub machine_clients: bool,
    /// `DEVICE_BOUND` is not `off`: sessions can count as device-bound.
    pub device_binding: bool,
}

/// One trap, by rule (its label) where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// `POLICY_DEFAULT = "allow"` with rules: a path no rule names, an
    /// alias of a protected one among them, is open to any signed-in user.
    DefaultAllows,
    /// Every request a pattern covers is public, so the rule never judges it.
    UnderPublicPath {
        rule: String,
        pattern: String,
        public: String,
    },
    /// An earlier rule has each of this rule's patterns, so it decides
    /// every path and method this one covers.
    Shadowed { rule: String, by: String },
    /// A condition that never holds for anyone who reaches the policy.
    NeverHolds {
        rule: String,
        field: String,
        why: &'static str,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DefaultAllows => f.write_str(
                "POLICY_DEFAULT is allow while rules are set: a path no rule names is open to \
                 every signed-in user, and so is every other path that reaches the same page. An \
                 origin that routes by PATH_INFO (Laravel, Symfony, CodeIgniter behind nginx) \
                 serves /admin/users at /index.php/admin/users too. Set POLICY_DEFAULT = \"deny\" \
                 (and open what everyone may reach with a rule), or add a rule for the script's \
                 prefix (/index.php/*)",
            ),
            Self::UnderPublicPath {
                rule,
                pattern,
                public,
            } => write!(
                f,
                "rule {rule}: {pattern} lies under PUBLIC_PATHS' {public}: requests there are \
                 public and never judged (only spellings PUBLIC_PATHS does not match, such as \
                 another letter case, meet the rule)"
            ),
            Self::Shadowed { rule, by } => write!(
                f,
                "rule {rule} never decides: rule {by}, listed earlier, has each of its paths and \
                 so decides every path and method this one covers"
            ),
            Self::NeverHolds { rule, field, why } => {
                write!(f, "rule {rule}: {field} can never hold: {why}")
            }
        }
    }
}

impl Policy {
    /// The traps of this policy, in the order of its rules.
    pub fn lint(&self, context: Context<'_>) -> Vec<Warning> {
        let mut warnings = Vec::new();
        if self.fallback == Fallback::Allow && !self.rules.is_empty() {
            warnings.push(Warning::DefaultAllows);
        }
        for (i, rule) in self.rules.iter().enumerate() {
            for pattern in &rule.paths {
                if let Some(public) = public_cover(pattern, context.public_paths) {
                    warnings.push(Warning::UnderPublicPath {
                        rule: rule.label.clone(),
                        pattern: pattern.to_string(),
                        public,
                    });
                }
            }
            let shadowing = self.rules[..i]
                .iter()
                .find(|earlier| rule.paths.iter().all(|p| earlier.paths.contains(p)));
            if let Some(earlier) = shadowing {
                warnings.push(Warning::Shadowed {
                    rule: rule.label.clone(),
                    by: earlier.label.clone(),
                });
            }
            for (list, conditions) in [("allow", &rule.allow), ("deny", &rule.deny)] {
                for (j, condition) in conditions.iter().enumerate() {
                    if let Some(why) = never_holds(condition, rule, list, context) {
                        warnings.push(Warning::NeverHolds {
                            rule: rule.label.clone(),
                            field: format!("{list}[{j}]"),
                            why,
                        });
                    }
                }
            }
        }
        warnings
    }
}

/// The `PUBLIC_PATHS` entry every path `pattern` covers lies under, if any.
/// Patterns are folded (lower case) and public paths are not: a pattern is
/// under a public entry only when that entry is spelt as the pattern is.
fn public_cover(pattern: &Pattern, public: &PublicPaths) -> Option<String> {
    let (path, prefix) = match pattern {
        Pattern::Exact(path) => (path.as_str(), false),
        Pattern::Prefix(base) => (base.as_str(), true),
    };
    // `/a/*` covers `/a` itself, which a public `/a/*` does not make public.
    if prefix {
        let below = format!("{path}/");
        public.prefix_of(&below).filter(|_| public.is_public(path))
    } else {
        public.entry_for(path)
    }
}

/// Why `condition` of `rule`'s `list` never holds, if it cannot.
fn never_holds(
    condition: &Condition,
    rule: &Rule,
    list: &str,
    context: Context<'_>,
) -> Option<&'static str> {
    if condition.names_clients() && !context.machine_clients {
        return Some("it names machine clients, and BEARER_AUDIENCE is not set");
    }
    if condition.device_bound && !context.device_binding {
        return Some("DEVICE_BOUND is off, so no session counts as device-bound");
    }
    // A deny for methods no allow condition admits refuses nothing the
    // rule would have let through.
    let allowed_methods: Option<Vec<&String>> = rule
        .allow
        .iter()
        .map(|c| c.methods.as_ref())
        .collect::<Option<Vec<_>>>()
        .map(|lists| lists.into_iter().flatten().collect());
    match (list, &condition.methods, allowed_methods) {
        ("deny", Some(denied), Some(allowed)) => {
            let admitted = |m: &String| {
                allowed
                    .iter()
                    .any(|a| *a == m || (m == "HEAD" && *a == "GET"))
            };
            (!denied.iter().any(admitted))
                .then_some("no allow condition admits any of its methods, so it refuses nothing")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lint(rules: serde_json::Value, fallback: Fallback, context: Context<'_>) -> Vec<String> {
        Policy::parse(&rules.to_string(), fallback)
            .unwrap()
            .lint(context)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn context(public: &PublicPaths) -> Context<'_> {
        Context {
            public_paths: public,
            machine_clients: false,
            device_binding: true,
        }
    }

    #[test]
    fn a_clean_policy_under_deny_has_no_warning() {
        let public = PublicPaths::parse("/login,/static/*").unwrap();
        let rules = json!([
            {"name": "all", "paths": ["/*"], "allow": [{"any_user": true}]},
            {"name": "admins", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]},
        ]);
        assert!(lint(rules, Fallback::Deny, context(&public)).is_empty());
    }

    #[test]
    fn allow_by_default_with_rules_is_a_warning_with_the_reason() {
        let public = PublicPaths::default();
        let rules = json!([{"paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]}]);
        let warnings = lint(rules, Fallback::Allow, context(&public));
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("/index.php/admin/users"),
            "{}",
            warnings[0]
        );
        assert!(lint(json!([]), Fallback::Allow, context(&public)).is_empty());
    }

    #[test]
    fn a_rule_under_a_public_path_never_applies() {
        let public = PublicPaths::parse("/login,/static/*").unwrap();
        let rules = json!([
            {"name": "css", "paths": ["/static/css/*"], "allow": [{"groups": ["design"]}]},
            {"name": "login", "paths": ["/login"], "allow": [{"any_user": true}]},
            {"name": "static-root", "paths": ["/static/*"], "allow": [{"any_user": true}]},
        ]);
        let warnings = lint(rules, Fallback::Deny, context(&public));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("rule css: /static/css/* lies under PUBLIC_PATHS' /static/*")
        );
        assert!(warnings[1].starts_with("rule login: /login lies under PUBLIC_PATHS' /login"));
    }

    #[test]
    fn a_rule_whose_paths_an_earlier_rule_has_never_decides() {
        let public = PublicPaths::default();
        let rules = json!([
            {"name": "first", "paths": ["/a/*", "/b"], "allow": [{"any_user": true}]},
            {"name": "second", "paths": ["/A/*"], "allow": [{"groups": ["x"]}]},
            {"name": "third", "paths": ["/a/*", "/c"], "allow": [{"groups": ["x"]}]},
        ]);
        let warnings = lint(rules, Fallback::Deny, context(&public));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("rule second never decides: rule first"));
    }

    #[test]
    fn conditions_that_can_never_hold_are_named() {
        let public = PublicPaths::default();
        let rules = json!([
            {"name": "api", "paths": ["/api/*"], "allow": [{"any_user": true}], "deny": [{"clients": ["ci"]}]},
            {"name": "bound", "paths": ["/b/*"], "allow": [{"device_bound": true}]},
            {"name": "docs", "paths": ["/docs/*"], "allow": [{"any_user": true, "methods": ["GET"]}],
             "deny": [{"groups": ["x"], "methods": ["POST"]}, {"groups": ["y"], "methods": ["HEAD"]}]},
        ]);
        let off = Context {
            device_binding: false,
            ..context(&public)
        };
        let warnings = lint(rules, Fallback::Deny, off);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].starts_with("rule api: deny[0] can never hold: it names machine clients")
        );
        assert!(warnings[1].starts_with("rule bound: allow[0] can never hold: DEVICE_BOUND is off"));
        assert!(
            warnings[2].starts_with("rule docs: deny[0] can never hold: no allow condition admits")
        );
    }
}
