//! Authorization at the edge (DESIGN §13): who may reach which protected
//! path, decided from the session alone, with no I/O.
//!
//! `POLICY` is a list of rules. The most specific rule whose `paths` match
//! decides (an exact pattern beats any prefix, a longer prefix beats a
//! shorter one, and among equals the first in the list); it admits the
//! request when one of its `allow` conditions holds and none of its `deny`
//! conditions does, and asks for a fresh sign-in when the session's login
//! is older than its `max_auth_age`. A path no rule matches is open to any
//! signed-in user, or closed with `POLICY_DEFAULT=deny`. A pattern covers
//! the path with a format suffix too (`/admin/*` covers `/admin.json`), and
//! a `methods` list naming `GET` holds for `HEAD`.
//!
//! ```
//! use sessiongate_hot::policy::{Fallback, Verdict, Policy, Request, Subject};
//!
//! let policy = Policy::parse(
//!     r#"[{"name": "admins", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]}]"#,
//!     Fallback::Allow,
//! )
//! .unwrap();
//! let claims = Default::default();
//! let bob = Subject { uid: "bob", email: None, groups: &[], claims: &claims, device_bound: false, auth_time: 0 };
//! let decision = policy.decide(&Request { path: "/Admin/users", method: "GET" }, &bob, 60);
//! assert_eq!((decision.rule, decision.outcome), ("admins", Verdict::Forbidden));
//! ```

pub mod lint;
pub mod path;
pub mod rule;

use serde_json::Value;

pub use path::Pattern;
pub use rule::{PolicyError, Rule, DEFAULT_LABEL};

use crate::session::Claims;

/// The checked `POLICY` and `POLICY_DEFAULT`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
    /// What a protected path no rule matches gets.
    fallback: Fallback,
}

/// `POLICY_DEFAULT`: whether a protected path no rule matches is open to
/// any signed-in user (`allow`, the default) or refused (`deny`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fallback {
    #[default]
    Allow,
    Deny,
}

impl Fallback {
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            _ => Err(format!("{v:?} is not allow or deny")),
        }
    }
}

/// Who is asking, as the session record says.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub uid: &'a str,
    pub email: Option<&'a str>,
    pub groups: &'a [String],
    pub claims: &'a Claims,
    pub device_bound: bool,
    /// Unix seconds of the user's last sign-in.
    pub auth_time: u64,
}

/// A machine client (DESIGN §15), as its access token says.
#[derive(Debug, Clone, Copy)]
pub struct MachineClient<'a> {
    pub client_id: &'a str,
    /// The token's `scope`: space-separated.
    pub scope: &'a str,
    /// Unix seconds the token was issued: a rule's `max_auth_age` counts
    /// from here.
    pub issued_at: u64,
}

/// What is asked for: the normalised path (no query) and the method.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub path: &'a str,
    pub method: &'a str,
}

/// The policy's answer, and the rule that gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'p> {
    /// The deciding rule's name or index, or [`DEFAULT_LABEL`].
    pub rule: &'p str,
    pub outcome: Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused: no allow condition holds, or a deny condition does.
    Forbidden,
    /// Admitted, but only after a sign-in within `max_age` seconds.
    StepUp {
        max_age: u64,
    },
}

impl Decision<'_> {
    /// The stricter of two decisions of one rule: a request judged under
    /// two methods (a `POST` that overrides its method, DESIGN §13.2)
    /// passes only when both pass.
    pub fn and(self, other: Self) -> Self {
        let rank = |outcome: Verdict| match outcome {
            Verdict::Allow => 0,
            Verdict::StepUp { .. } => 1,
            Verdict::Forbidden => 2,
        };
        if rank(other.outcome) > rank(self.outcome) {
            other
        } else {
            self
        }
    }
}

/// How a rule came to decide a path: the rule, the pattern that matched,
/// and the format suffix the pattern matched without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'p> {
    pub rule: &'p Rule,
    pub pattern: &'p Pattern,
    /// Bytes of format suffix (`.json`) dropped from the end of the folded
    /// path for the pattern to match; 0 when it matched as it is.
    pub suffix_len: usize,
}

impl Policy {
    /// Reads `POLICY`: a JSON array of rules, empty for none. Errors name
    /// the rule and the field.
    pub fn parse(rules: &str, fallback: Fallback) -> Result<Self, PolicyError> {
        let whole = |problem: String| PolicyError {
            rule: None,
            field: String::new(),
            problem,
        };
        let rules = if rules.trim().is_empty() {
            Vec::new()
        } else {
            let value: Value = serde_json::from_str(rules)
                .map_err(|e| whole(format!("is not valid JSON ({e})")))?;
            let Value::Array(values) = value else {
                return Err(whole("must be a JSON array of rules".into()));
            };
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| Rule::parse(i, v))
                .collect::<Result<Vec<_>, _>>()?
        };
        if let Some((i, rule)) = rules.iter().enumerate().find(|(i, rule)| {
            rules[..*i]
                .iter()
                .any(|earlier| earlier.label == rule.label)
        }) {
            return Err(PolicyError {
                rule: Some(format!("rule {i} ({:?})", rule.label)),
                field: "name".into(),
                problem: "is used by an earlier rule: names must be unique".into(),
            });
        }
        Ok(Self { rules, fallback })
    }

    /// Whether the policy can refuse anything: without rules and with the
    /// default `allow`, every signed-in user passes.
    pub fn is_active(&self) -> bool {
        self.fallback == Fallback::Deny || !self.rules.is_empty()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that decides `path`: the most specific match, the first
    /// among equals; `None` when no rule's paths match.
    pub fn rule_for(&self, path: &str) -> Option<&Rule> {
        self.matching(path).map(|m| m.rule)
    }

    /// [`rule_for`](Self::rule_for), and how the rule matched. The path is
    /// matched as it is, then without each format suffix of its last
    /// segment ([`path::strip_format_suffix`]); the most specific match
    /// wins, and among equals the one without a suffix stripped, then the
    /// rule listed first.
    pub fn matching(&self, path: &str) -> Option<Match<'_>> {
        let folded = path::fold(path);
        let mut best: Option<((path::Specificity, bool), Match<'_>)> = None;
        let mut candidate: &str = &folded;
        loop {
            let suffix_len = folded.len() - candidate.len();
            for rule in &self.rules {
                for pattern in &rule.paths {
                    let Some(specificity) = pattern.matches(candidate) else {
                        continue;
                    };
                    let key = (specificity, suffix_len == 0);
                    // Strictly better: among equals the first stays.
                    if best.as_ref().is_none_or(|(b, _)| key > *b) {
                        let found = Match {
                            rule,
                            pattern,
                            suffix_len,
                        };
                        best = Some((key, found));
                    }
                }
            }
            match path::strip_format_suffix(candidate) {
                Some(base) => candidate = base,
                None => return best.map(|(_, found)| found),
            }
        }
    }

    /// Decides a request of `subject`'s at `now` (Unix seconds).
    pub fn decide(&self, request: &Request<'_>, subject: &Subject<'_>, now: u64) -> Decision<'_> {
        let Some(rule) = self.rule_for(request.path) else {
            let outcome = match self.fallback {
                Fallback::Allow => Verdict::Allow,
                Fallback::Deny => Verdict::Forbidden,
            };
            return Decision {
                rule: DEFAULT_LABEL,
                outcome,
            };
        };
        let admitted = rule.admits(subject, request.method);
        rule.decision(admitted, subject.auth_time, now)
    }

    /// Decides a machine client's request at `now`. Machine access is
    /// opt-in per path: only a rule naming the client (or scopes it has)
    /// admits it, and a path no rule matches is refused, whatever
    /// `POLICY_DEFAULT` says.
    pub fn decide_client(
        &self,
        request: &Request<'_>,
        client: &MachineClient<'_>,
        now: u64,
    ) -> Decision<'_> {
        let Some(rule) = self.rule_for(request.path) else {
            return Decision {
                rule: DEFAULT_LABEL,
                outcome: Verdict::Forbidden,
            };
        };
        let admitted = rule.admits_client(client, request.method);
        rule.decision(admitted, client.issued_at, now)
    }
}

#[cfg(test)]
mod tests;
