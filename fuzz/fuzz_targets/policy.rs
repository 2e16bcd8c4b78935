//! `policy::Policy::parse` on arbitrary `POLICY` text, and its decisions.
//!
//! Input: `POLICY` alone, or, when it holds a NUL, up to nine NUL-separated
//! fields: `POLICY`, method, path (`routes::normalise`d first; a query is
//! dropped), uid, email, groups (comma-separated), claims (`k=v`,
//! comma-separated), seconds since sign-in (decimal), device-bound (any
//! non-empty text). Missing fields take a plain subject's values: `GET /`,
//! user `u`, no email, groups or claims, signed in just now, unbound.
//! Bytes are read lossily as UTF-8.
//!
//! Invariants:
//! - parsing never panics, gives the same answer twice, and does not depend
//!   on `POLICY_DEFAULT` beyond the decisions on unmatched paths;
//! - an accepted policy's rules each have paths and allow conditions,
//!   unique labels, and a `max_auth_age` above zero when they have one;
//! - every path `normalise` accepts gets a decision, and `decide` agrees
//!   with `rule_for`: the same rule (or `default` when none matches and
//!   then exactly what `POLICY_DEFAULT` says), `Forbidden` exactly when the
//!   rule does not admit the subject for the method, `StepUp` with the
//!   rule's `max_auth_age` exactly when it admits and the sign-in is older;
//! - the rule chosen covers the path, as it is or without a format suffix
//!   (`.json`) on its last segment; no rule covers it more specifically,
//!   and no earlier rule covers it as specifically (first among equals,
//!   a match as written before one without a suffix); `matching` names
//!   the pattern and the suffix it matched without;
//! - the path with a format suffix added (`.json`, `.tar.gz`) gets a rule
//!   that covers it at least as specifically as the path's own;
//! - a condition that holds for `GET` holds for `HEAD`;
//! - a `POST` judged as the input's method too (`_method`) passes exactly
//!   when both pass, under the same rule;
//! - a rule is not escaped by how the path is written: its upper-case
//!   form, a trailing slash, doubled slashes and a `;` parameter on the
//!   last segment get the same rule;
//! - the path each pattern names (a prefix's base, and a path below it) is
//!   decided by a rule that covers it at least as specifically;
//! - with no rules and `POLICY_DEFAULT=allow` the policy is inactive and
//!   everything is allowed;
//! - a machine client (the uid as its `client_id`, the groups as its
//!   scopes, the sign-in's age as its token's) is decided by the same rule,
//!   never by `POLICY_DEFAULT`: a path no rule matches refuses it, and a
//!   rule refuses it exactly when it does not admit the client; no
//!   condition holds for both the person and the client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiongate_core::policy::path::{fold, strip_format_suffix, Pattern, Specificity};
use sessiongate_core::policy::{
    Fallback, MachineClient, Policy, Request, Rule, Subject, Verdict, DEFAULT_LABEL,
};
use sessiongate_core::routes::normalise;
use sessiongate_core::session::Claims;

const NOW: u64 = 1_700_000_000;

/// Paths decided in every run, besides the input's and the rules' own.
const PATHS: [&str; 6] = [
    "/",
    "/admin",
    "/admin/users",
    "/ADMIN/",
    "/a;b/c",
    "//x//y/",
];

struct Who {
    uid: String,
    email: Option<String>,
    groups: Vec<String>,
    claims: Claims,
    device_bound: bool,
    auth_time: u64,
    /// The groups as a machine client's scopes.
    scope: String,
}

impl Who {
    fn subject(&self) -> Subject<'_> {
        Subject {
            uid: &self.uid,
            email: self.email.as_deref(),
            groups: &self.groups,
            claims: &self.claims,
            device_bound: self.device_bound,
            auth_time: self.auth_time,
        }
    }

    fn client(&self) -> MachineClient<'_> {
        MachineClient {
            client_id: &self.uid,
            scope: &self.scope,
            issued_at: self.auth_time,
        }
    }
}

/// How a rule covers `folded`, as the policy should judge it: the best of
/// its patterns on the path as it is, then without each format suffix; a
/// match as written ranks above one without a suffix.
fn covers(rule: &Rule, folded: &str) -> Option<(Specificity, bool)> {
    let mut best = None;
    let mut candidate = folded;
    loop {
        let literal = candidate.len() == folded.len();
        for pattern in rule.paths() {
            if let Some(s) = pattern.matches(candidate) {
                best = best.max(Some((s, literal)));
            }
        }
        match strip_format_suffix(candidate) {
            Some(base) => candidate = base,
            None => return best,
        }
    }
}

/// Decides `path` under both fallbacks and checks the decisions against
/// the rules.
fn check(allow: &Policy, deny: &Policy, method: &str, path: &str, who: &Who) {
    let subject = who.subject();
    let request = Request { path, method };
    let decided = allow.decide(&request, &subject, NOW);
    let denied = deny.decide(&request, &subject, NOW);
    let client = who.client();
    let as_client = allow.decide_client(&request, &client, NOW);
    assert_eq!(
        as_client,
        deny.decide_client(&request, &client, NOW),
        "{path:?}: POLICY_DEFAULT changed a machine client's decision"
    );
    assert_eq!(
        decided.rule, denied.rule,
        "{path:?}: the fallback changed the rule"
    );

    let folded = fold(path);
    assert_eq!(fold(&folded), folded, "{path:?}: folding is not idempotent");
    let Some(rule) = allow.rule_for(path) else {
        assert_eq!(
            decided.rule, DEFAULT_LABEL,
            "{path:?}: decided by a rule rule_for does not find"
        );
        assert_eq!(decided.outcome, Verdict::Allow);
        assert_eq!(denied.outcome, Verdict::Forbidden);
        assert_eq!(
            (as_client.rule, as_client.outcome),
            (DEFAULT_LABEL, Verdict::Forbidden),
            "{path:?}: a path no rule matches admitted a machine client"
        );
        assert!(
            allow.rules().iter().all(|r| covers(r, &folded).is_none()),
            "{path:?}: a rule covers it"
        );
        return;
    };
    assert_eq!(
        decided.rule,
        rule.label(),
        "{path:?}: decide and rule_for disagree"
    );
    assert_eq!(
        decided.outcome, denied.outcome,
        "{path:?}: the fallback changed a rule's verdict"
    );

    // The chosen rule is the most specific, and the first among equals.
    let best = covers(rule, &folded).expect("the rule chosen does not cover the path");
    let found = allow.matching(path).expect("matching finds no rule");
    assert_eq!(found.rule.label(), rule.label());
    let (spec, literal) = best;
    assert_eq!(literal, found.suffix_len == 0, "{path:?}: suffix");
    assert!(found.suffix_len < folded.len());
    assert_eq!(
        found
            .pattern
            .matches(&folded[..folded.len() - found.suffix_len]),
        Some(spec),
        "{path:?}: the pattern named does not match as said"
    );
    let first = allow
        .rules()
        .iter()
        .position(|r| r.label() == rule.label())
        .unwrap();
    for (i, other) in allow.rules().iter().enumerate() {
        match covers(other, &folded) {
            Some(s) if s > best => panic!(
                "{path:?}: rule {:?} is more specific than {:?}",
                other.label(),
                rule.label()
            ),
            Some(s) if s == best && i < first => {
                panic!("{path:?}: rule {:?} comes first", other.label())
            }
            _ => {}
        }
    }

    let expected = |admitted: bool| match rule.max_auth_age() {
        _ if !admitted => Verdict::Forbidden,
        Some(max_age) if NOW.saturating_sub(who.auth_time) > max_age => Verdict::StepUp { max_age },
        _ => Verdict::Allow,
    };
    let admitted = rule.admits(&subject, method);
    assert_eq!(
        decided.outcome,
        expected(admitted),
        "{path:?}: rule {:?}",
        rule.label()
    );
    assert_eq!(
        as_client.rule,
        rule.label(),
        "{path:?}: another rule for the client"
    );
    let client_admitted = rule.admits_client(&client, method);
    assert_eq!(
        as_client.outcome,
        expected(client_admitted),
        "{path:?}: client"
    );
    for condition in rule.allow().iter().chain(rule.deny()) {
        assert!(
            !(condition.holds(&subject, method) && condition.holds_for_client(&client, method)),
            "{path:?}: a condition of rule {:?} holds for a person and a client",
            rule.label()
        );
        if condition.holds(&subject, "GET") {
            assert!(
                condition.holds(&subject, "HEAD"),
                "{path:?}: GET holds, HEAD not"
            );
        }
    }

    // A POST overriding its method to the input's is judged as both.
    let post = allow.decide(
        &Request {
            path,
            method: "POST",
        },
        &subject,
        NOW,
    );
    let both = post.and(decided);
    assert_eq!(both.rule, rule.label());
    assert_eq!(
        both.outcome == Verdict::Allow,
        post.outcome == Verdict::Allow && decided.outcome == Verdict::Allow,
        "{path:?}: POST overriding to {method}"
    );

    // A format suffix added is judged by a rule at least as specific.
    let last = path.rsplit('/').next().unwrap_or_default();
    if !last.is_empty() && !last.contains(';') {
        for suffix in [".json", ".tar.gz"] {
            let suffixed = format!("{path}{suffix}");
            let other = allow.rule_for(&suffixed).expect("a suffix lost the rule");
            assert!(
                covers(other, &fold(&suffixed)).map(|(s, _)| s) >= Some(spec),
                "{path:?}{suffix}: a less specific rule"
            );
        }
    }

    // However the path is written, the same rule decides.
    let (base, last) = path.rsplit_once('/').unwrap_or(("", path));
    let param = if last.is_empty() {
        path.to_owned()
    } else {
        format!("{base}/{last};p=1")
    };
    for variant in [
        path.to_ascii_uppercase(),
        format!("{path}/"),
        format!("/{path}"),
        format!("{base}//{last}"),
        param,
    ] {
        let other = allow.rule_for(&variant).map(|r| r.label());
        assert_eq!(
            other,
            Some(rule.label()),
            "{path:?} as {variant:?}"
        );
    }
}

fn run(text: &str, method: &str, path: Option<&str>, who: &Who) {
    let allow = Policy::parse(text, Fallback::Allow);
    let deny = Policy::parse(text, Fallback::Deny);
    assert_eq!(
        allow,
        Policy::parse(text, Fallback::Allow),
        "parsing is not deterministic"
    );
    let (allow, deny) = match (allow, deny) {
        (Ok(allow), Ok(deny)) => (allow, deny),
        (Err(a), Err(d)) => {
            assert_eq!(a, d, "the error depends on POLICY_DEFAULT");
            assert!(!a.to_string().is_empty());
            return;
        }
        (a, d) => panic!(
            "valid under one fallback only: {:?} / {:?}",
            a.err(),
            d.err()
        ),
    };
    assert!(deny.is_active());
    assert_eq!(allow.is_active(), !allow.rules().is_empty());

    for (i, rule) in allow.rules().iter().enumerate() {
        assert!(
            !rule.paths().is_empty() && !rule.allow().is_empty(),
            "rule {i} is empty"
        );
        assert!(!rule.label().is_empty() && rule.label() != DEFAULT_LABEL);
        assert!(
            allow.rules()[..i]
                .iter()
                .all(|earlier| earlier.label() != rule.label()),
            "label {:?} used twice",
            rule.label()
        );
        assert_ne!(rule.max_auth_age(), Some(0));
    }

    if let Some(path) = path {
        if let Ok(path) = normalise(path) {
            check(&allow, &deny, method, &path, who);
        }
    }
    for path in PATHS {
        check(&allow, &deny, method, path, who);
    }
    for pattern in allow.rules().iter().flat_map(|r| r.paths()) {
        let named = match pattern {
            Pattern::Exact(p) => vec![p.clone()],
            Pattern::Prefix(base) => vec![format!("{base}/"), format!("{base}/below")],
        };
        for path in named {
            let spec = pattern
                .matches(&fold(&path))
                .expect("a pattern does not match the path it names");
            let rule = allow
                .rule_for(&path)
                .expect("no rule for a path a pattern names");
            assert!(covers(rule, &fold(&path)).map(|(s, _)| s) >= Some(spec));
            check(&allow, &deny, method, &path, who);
        }
    }
    if !allow.is_active() {
        let d = allow.decide(
            &Request {
                path: "/any",
                method,
            },
            &who.subject(),
            NOW,
        );
        assert_eq!((d.rule, d.outcome), (DEFAULT_LABEL, Verdict::Allow));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\0');
    let policy = fields.next().unwrap_or_default();
    let mut next = || fields.next().unwrap_or_default();
    let method = match next() {
        "" => "GET",
        m => m,
    };
    let path = match next() {
        "" => None,
        p => Some(p.split('?').next().unwrap_or_default()),
    };
    let uid = match next() {
        "" => "u",
        u => u,
    };
    let email = Some(next()).filter(|e| !e.is_empty()).map(str::to_owned);
    let groups: Vec<String> = next()
        .split(',')
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    let claims = next()
        .split(',')
        .filter_map(|c| c.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let age: u64 = next().parse().unwrap_or(0);
    let device_bound = !next().is_empty();
    let who = Who {
        uid: uid.to_owned(),
        email,
        groups: groups.clone(),
        claims,
        device_bound,
        auth_time: NOW.saturating_sub(age),
        scope: groups.join(" "),
    };
    run(policy, method, path, &who);
});
