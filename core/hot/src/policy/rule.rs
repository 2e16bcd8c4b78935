//! One rule of `POLICY` and its conditions, read from JSON and checked
//! (DESIGN §13.1). Every problem names the rule (its index, and its name
//! when it has one) and the field, so that a policy that fails closed
//! says where to look.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::path::Pattern;
use super::{Decision, MachineClient, Subject, Verdict};
use crate::duration;

/// Longest rule name: it goes into log lines, metrics and a header.
pub const MAX_NAME_LEN: usize = 64;
/// The label of the decision when no rule's paths match.
pub const DEFAULT_LABEL: &str = "default";

/// A checked rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its name, or its index in the list: what answers and logs call it.
    pub(crate) label: String,
    /// Whether `label` is a name given, rather than the rule's index.
    named: bool,
    pub(crate) paths: Vec<Pattern>,
    pub(crate) allow: Vec<Condition>,
    pub(crate) deny: Vec<Condition>,
    /// Seconds since the user last signed in after which this rule asks
    /// for a fresh sign-in.
    pub(crate) max_auth_age: Option<u64>,
}

/// A condition holds when every field it names holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    users: Option<Vec<String>>,
    /// Lower-cased.
    emails: Option<Vec<String>>,
    /// Lower-cased.
    email_domains: Option<Vec<String>>,
    groups: Option<Vec<String>>,
    claims: Option<Claims>,
    pub(super) device_bound: bool,
    /// Upper-cased.
    pub(super) methods: Option<Vec<String>>,
    /// Machine clients (DESIGN §15) by `client_id`.
    clients: Option<Vec<String>>,
    /// Scopes a machine client's token must all carry.
    scopes: Option<Vec<String>>,
}

/// Where a policy went wrong: the rule, the field, the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// `rule 2 ("admins")`; `None` for the policy as a whole.
    pub rule: Option<String>,
    /// `allow[0].emails`; empty for the rule or policy as a whole.
    pub field: String,
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(rule) = &self.rule {
            write!(f, "{rule}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.problem)
    }
}

impl std::error::Error for PolicyError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    paths: Option<Vec<String>>,
    allow: Option<Vec<Value>>,
    #[serde(default)]
    deny: Vec<Value>,
    max_auth_age: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    any_user: Option<bool>,
    users: Option<Vec<String>>,
    emails: Option<Vec<String>>,
    email_domains: Option<Vec<String>>,
    groups: Option<Vec<String>>,
    claims: Option<Claims>,
    device_bound: Option<bool>,
    methods: Option<Vec<String>>,
    clients: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
}

impl Rule {
    /// Reads rule `index` of the list.
    pub fn parse(index: usize, value: Value) -> Result<Self, PolicyError> {
        let named = value.get("name").and_then(Value::as_str).map(str::to_owned);
        let rule_ref = match &named {
            Some(name) => format!("rule {index} ({name:?})"),
            None => format!("rule {index}"),
        };
        let fail = |field: &str, problem: String| PolicyError {
            rule: Some(rule_ref.clone()),
            field: field.to_owned(),
            problem,
        };
        if !value.is_object() {
            return Err(fail("", "must be an object".into()));
        }
        let raw: RawRule = serde_json::from_value(value).map_err(|e| fail("", e.to_string()))?;
        let named = raw.name.is_some();
        let label = match raw.name {
            Some(name) => check_name(&name)
                .map(|()| name)
                .map_err(|p| fail("name", p))?,
            None => index.to_string(),
        };
        let paths = raw
            .paths
            .filter(|p| !p.is_empty())
            .ok_or_else(|| fail("paths", "must list at least one path".into()))?;
        let paths = paths
            .iter()
            .enumerate()
            .map(|(i, entry)| Pattern::parse(entry).map_err(|p| fail(&format!("paths[{i}]"), p)))
            .collect::<Result<_, _>>()?;
        let allow = raw
            .allow
            .filter(|a| !a.is_empty())
            .ok_or_else(|| fail("allow", "must list at least one condition".into()))?;
        let conditions = |list: &str, values: Vec<Value>| -> Result<Vec<Condition>, PolicyError> {
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let field = format!("{list}[{i}]");
                    Condition::parse(v).map_err(|(sub, problem)| match sub {
                        "" => fail(&field, problem),
                        sub => fail(&format!("{field}.{sub}"), problem),
                    })
                })
                .collect()
        };
        let allow = conditions("allow", allow)?;
        let deny = conditions("deny", raw.deny)?;
        let max_auth_age = raw
            .max_auth_age
            .map(|v| match v {
                Value::String(s) => duration::parse(&s),
                Value::Number(n) => n
                    .as_u64()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| "must be a duration such as \"15m\"".to_owned()),
                _ => Err("must be a duration such as \"15m\"".to_owned()),
            })
            .transpose()
            .map_err(|p| fail("max_auth_age", p))?;
        Ok(Self {
            label,
            named,
            paths,
            allow,
            deny,
            max_auth_age,
        })
    }

    /// What this rule answers a request it `admitted` (or not), whose
    /// sign-in (or token) dates from `auth_time`.
    pub(super) fn decision(&self, admitted: bool, auth_time: u64, now: u64) -> Decision<'_> {
        let outcome = match self.max_auth_age {
            _ if !admitted => Verdict::Forbidden,
            Some(max_age) if now.saturating_sub(auth_time) > max_age => Verdict::StepUp { max_age },
            _ => Verdict::Allow,
        };
        Decision {
            rule: &self.label,
            outcome,
        }
    }

    /// Whether `subject` may make this request under this rule: some
    /// `allow` condition holds and no `deny` condition does.
    pub fn admits(&self, subject: &Subject<'_>, method: &str) -> bool {
        self.admits_where(|c| c.holds(subject, method))
    }

    /// [`admits`](Self::admits) for a machine client: only conditions
    /// naming `clients` or `scopes` ever hold for one.
    pub fn admits_client(&self, client: &MachineClient<'_>, method: &str) -> bool {
        self.admits_where(|c| c.holds_for_client(client, method))
    }

    /// Some `allow` condition `holds`, and no `deny` condition does.
    fn admits_where(&self, holds: impl Fn(&Condition) -> bool) -> bool {
        self.allow.iter().any(&holds) && !self.deny.iter().any(&holds)
    }

    /// Its name, or its index in the list.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Seconds after a sign-in past which this rule asks for a fresh one.
    pub fn max_auth_age(&self) -> Option<u64> {
        self.max_auth_age
    }

    pub fn paths(&self) -> &[Pattern] {
        &self.paths
    }

    pub fn allow(&self) -> &[Condition] {
        &self.allow
    }

    pub fn deny(&self) -> &[Condition] {
        &self.deny
    }

    /// Whether the rule was given no name: answers and logs call it by its
    /// index.
    pub fn is_unnamed(&self) -> bool {
        !self.named
    }

    /// Whether a condition of this rule names `methods`: then the method
    /// decides, and a `POST` overriding its method is judged as both.
    pub fn judges_methods(&self) -> bool {
        self.allow
            .iter()
            .chain(&self.deny)
            .any(|c| c.methods.is_some())
    }
}

/// Names show in logs and in the verdict header: a plain token, and never
/// a number or `default`, which label unnamed rules and the fallback.
fn check_name(name: &str) -> Result<(), String> {
    let token = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !token {
        Err(format!(
            "{name:?} must be 1 to {MAX_NAME_LEN} characters of A-Z, a-z, 0-9, '-', '_' and '.'"
        ))
    } else if name.bytes().all(|b| b.is_ascii_digit()) {
        Err(format!(
            "{name:?} must not be a number: unnamed rules are called by their index"
        ))
    } else if name == DEFAULT_LABEL {
        Err(format!(
            "{name:?} is reserved for the decision when no rule matches"
        ))
    } else {
        Ok(())
    }
}

impl Condition {
    /// Reads one condition; an error names the field within it.
    fn parse(value: Value) -> Result<Self, (&'static str, String)> {
        if !value.is_object() {
            return Err(("", "must be an object".into()));
        }
        let raw: RawCondition = serde_json::from_value(value).map_err(|e| ("", e.to_string()))?;
        let list =
            |field: &'static str, list: Option<Vec<String>>, fold: fn(&str) -> String| match list {
                Some(items) if items.is_empty() => Err((
                    field,
                    "must not be empty (leave the field out instead)".to_owned(),
                )),
                Some(items) if items.iter().any(|i| i.trim().is_empty()) => {
                    Err((field, "must not hold an empty string".to_owned()))
                }
                items => Ok(items.map(|items| items.iter().map(|i| fold(i.trim())).collect())),
            };
        let keep = |s: &str| s.to_owned();
        let lower = |s: &str| s.to_ascii_lowercase();
        let upper = |s: &str| s.to_ascii_uppercase();
        let emails = list("emails", raw.emails, lower)?;
        every(
            "emails",
            &emails,
            is_email_like,
            "addresses such as ada@example.com",
        )?;
        let email_domains = list("email_domains", raw.email_domains, lower)?;
        let is_domain = |d: &str| !d.contains(['@', ' ']);
        every(
            "email_domains",
            &email_domains,
            is_domain,
            "domains such as example.com, without @",
        )?;
        let methods = list("methods", raw.methods, upper)?;
        let is_method = |m: &str| m.len() <= 16 && m.bytes().all(|b| b.is_ascii_uppercase());
        every("methods", &methods, is_method, "HTTP methods such as GET")?;
        let clients = list("clients", raw.clients, keep)?;
        let scopes = list("scopes", raw.scopes, keep)?;
        let is_scope_token = |s: &str| !s.contains(char::is_whitespace);
        every(
            "scopes",
            &scopes,
            is_scope_token,
            "one scope each, without spaces",
        )?;
        let claims = check_claims(raw.claims)?;
        let condition = Self {
            users: list("users", raw.users, keep)?,
            emails,
            email_domains,
            groups: list("groups", raw.groups, keep)?,
            claims,
            device_bound: match raw.device_bound {
                Some(false) => return Err(("device_bound", "may only be true".into())),
                bound => bound.is_some(),
            },
            methods,
            clients,
            scopes,
        };
        let any_user = match raw.any_user {
            Some(false) => return Err(("any_user", "may only be true".into())),
            any => any.is_some(),
        };
        condition.says_who(any_user)?;
        Ok(condition)
    }

    /// A condition names people (`any_user` counts) or machine clients:
    /// one of them, and not both.
    fn says_who(&self, any_user: bool) -> Result<(), (&'static str, String)> {
        let people = any_user || self.names_people();
        // `methods` alone names no one: say who, even if it is anyone.
        if !people && !self.names_clients() {
            return Err((
                "",
                "must say who: any_user, users, emails, email_domains, groups, claims, device_bound, clients or scopes"
                    .into(),
            ));
        }
        // Such a condition could never hold: a request is a person's or a
        // machine client's, never both.
        if people && self.names_clients() {
            return Err((
                "",
                "names people and machine clients (clients, scopes): use one condition for each"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(super) fn names_clients(&self) -> bool {
        self.clients.is_some() || self.scopes.is_some()
    }

    fn names_people(&self) -> bool {
        self.users.is_some()
            || self.emails.is_some()
            || self.email_domains.is_some()
            || self.groups.is_some()
            || self.claims.is_some()
            || self.device_bound
    }

    /// Every field named holds for this subject and method. A condition
    /// for machine clients never holds for a person.
    pub fn holds(&self, s: &Subject<'_>, method: &str) -> bool {
        if self.names_clients() {
            return false;
        }
        let email = s.email;
        let domain = email.and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);
        self.users
            .as_ref()
            .is_none_or(|users| users.iter().any(|u| u == s.uid))
            && self.emails.as_ref().is_none_or(|emails| {
                email.is_some_and(|e| emails.iter().any(|x| x.eq_ignore_ascii_case(e)))
            })
            && self.email_domains.as_ref().is_none_or(|domains| {
                domain.is_some_and(|d| domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
            })
            && self
                .groups
                .as_ref()
                .is_none_or(|groups| groups.iter().any(|g| s.groups.contains(g)))
            && self.claims.as_ref().is_none_or(|claims| {
                claims
                    .iter()
                    .all(|(name, values)| s.claims.get(name).is_some_and(|v| values.contains(v)))
            })
            && (!self.device_bound || s.device_bound)
            && self.holds_for_method(method)
    }

    /// Every field named holds for this machine client and method; a
    /// condition for people never holds for one.
    pub fn holds_for_client(&self, client: &MachineClient<'_>, method: &str) -> bool {
        self.names_clients()
            && self
                .clients
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|id| id == client.client_id))
            && self.scopes.as_ref().is_none_or(|scopes| {
                scopes
                    .iter()
                    .all(|s| client.scope.split_ascii_whitespace().any(|t| t == s))
            })
            && self.holds_for_method(method)
    }

    /// A list naming `GET` holds for `HEAD` too: it is `GET` without the
    /// body (RFC 9110 §9.3.2), and frameworks route it to the `GET` handler.
    fn holds_for_method(&self, method: &str) -> bool {
        let is_head = method.eq_ignore_ascii_case("HEAD");
        self.methods.as_ref().is_none_or(|methods| {
            methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method) || (is_head && m == "GET"))
        })
    }
}

/// Each item of a field's list is `what` it must be, or the field is refused.
fn every(
    field: &'static str,
    items: &Option<Vec<String>>,
    valid: impl Fn(&str) -> bool,
    what: &str,
) -> Result<(), (&'static str, String)> {
    match items.iter().flatten().all(|item| valid(item)) {
        true => Ok(()),
        false => Err((field, format!("must hold {what}"))),
    }
}

/// `claims`: at least one claim, each with at least one value.
type Claims = BTreeMap<String, Vec<String>>;

fn check_claims(claims: Option<Claims>) -> Result<Option<Claims>, (&'static str, String)> {
    match claims {
        Some(claims) if claims.is_empty() => Err(("claims", "must name at least one claim".into())),
        Some(claims) => match claims.iter().find(|(_, values)| values.is_empty()) {
            Some((name, _)) => Err(("claims", format!("{name:?} must list at least one value"))),
            None => Ok(Some(claims)),
        },
        None => Ok(None),
    }
}

fn is_email_like(e: &str) -> bool {
    e.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) && !e.contains(char::is_whitespace)
}
