//! `npm run policy -- --user alice --groups admins --auth-age 20m GET /admin/users`
//! (or `--client ci-deployer --scope deploy:write POST /api/deploy` for a
//! machine client, DESIGN §15): the operator's policy tester. It reads `POLICY`, `POLICY_DEFAULT`,
//! `PUBLIC_PATHS` and `LOGIN_URL` from `wrangler.toml` as the Worker does,
//! takes the request through the gate's own steps (normalise the path,
//! classify it, then the policy, DESIGN §4 and §13) natively, and prints
//! which rule decides and what the gate answers:
//!
//! ```text
//! path:    /admin/users
//! rule:    admins (matches /admin/*)
//! verdict: step_up (max_age=600s): signed in 1200s ago; a browser is sent to sign in again (303), other clients get 401
//! ```
//!
//! Exit status: 0 when the request passes, 1 when it is refused, 2 for a
//! usage or configuration error (a policy's names the rule and the field).
//!
//! `npm run policy -- --lint` reads the same settings and prints the traps
//! a valid policy can hold (DESIGN §13.7): exit 0 with warnings only, 2
//! when the configuration itself is wrong.

mod args;
mod setup;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use sessiongate_core::config::Enforcement;
use sessiongate_core::method_override;
use sessiongate_core::policy::lint::Context;
use sessiongate_core::policy::path::fold;
use sessiongate_core::policy::rule::Condition;
use sessiongate_core::policy::{Decision, MachineClient, Match, Request, Rule, Subject, Verdict};
use sessiongate_core::routes::{self, Route};

use args::{Args, Command, Who, USAGE};
use sessiongate_core::config::Deciding;

fn main() -> ExitCode {
    let args = match Command::parse(std::env::args().skip(1)) {
        Ok(Command::Decide(args)) => args,
        Ok(Command::Lint(source)) => return lint(&source),
        Ok(Command::Help) => {
            print_lines([USAGE]);
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            let usage = USAGE.lines().next().unwrap_or_default();
            eprintln!("policy: {problem}\n{usage}\n(--help lists the options)");
            return ExitCode::from(2);
        }
    };
    let setup = match setup::read(&args.source) {
        Ok(setup) => setup,
        Err(problem) => {
            eprintln!("policy: {problem}");
            return ExitCode::from(2);
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let report = report(&setup, &args, now);
    print_lines(&report.lines);
    ExitCode::from(if report.passes { 0 } else { 1 })
}

/// `--lint`: every warning, one a line; exit 0 unless the settings are wrong.
fn lint(source: &args::Source) -> ExitCode {
    let setup = match setup::read(source) {
        Ok(setup) => setup,
        Err(problem) => {
            eprintln!("policy: {problem}");
            return ExitCode::from(2);
        }
    };
    let warnings = setup.policy.lint(Context {
        public_paths: &setup.public_paths,
        machine_clients: setup.machine_clients,
        device_binding: setup.device_binding,
    });
    let count = |n: usize, what: &str| match n {
        0 => format!("no {what}s"),
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    };
    let summary = format!(
        "lint: {}, {}",
        count(setup.policy.rules().len(), "rule"),
        count(warnings.len(), "warning")
    );
    print_lines(
        warnings
            .iter()
            .map(|w| format!("warning: {w}"))
            .chain([summary]),
    );
    ExitCode::SUCCESS
}

/// To stdout; a closed pipe (`| head`) is not an error.
fn print_lines(lines: impl IntoIterator<Item = impl std::fmt::Display>) {
    let mut out = io::stdout().lock();
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
}

/// What the gate does with the request, in the lines printed.
struct Report {
    lines: Vec<String>,
    /// Not refused: allowed, public or the edge's own.
    passes: bool,
}

fn report(setup: &Deciding, args: &Args, now: u64) -> Report {
    let path = match routes::normalise(path_of(&args.target)) {
        Ok(path) => path,
        Err(e) => {
            return Report {
                lines: vec![format!("verdict: refused before the policy: 400 {e}")],
                passes: false,
            }
        }
    };
    let mut lines = vec![format!("path:    {path}")];
    let outside = match routes::classify(&path, &setup.public_paths) {
        Route::Reserved(_) => Some("edge endpoint: outside the policy"),
        Route::Public => Some("public: outside the policy"),
        Route::Protected => None,
    };
    if let Some(outside) = outside {
        lines.push(format!("verdict: {outside}"));
        return Report {
            lines,
            passes: true,
        };
    }

    let found = setup.policy.matching(&path);
    let overrides = overrides(args, found.map(|m| m.rule));
    if !overrides.is_empty() {
        lines.push(format!(
            "method:  POST, judged as {} too (_method)",
            overrides.join(", ")
        ));
    }
    let methods: Vec<&str> = std::iter::once(args.method.as_str())
        .chain(overrides.iter().map(String::as_str))
        .collect();
    let (decision, refused_by_rule) = decide(setup, args, &path, &methods, found, now);
    lines.push(rule_line(found, &path, &decision, &args.who));
    lines.push(format!(
        "verdict: {}",
        verdict(args, &decision, refused_by_rule)
    ));
    let passes = decision.outcome == Verdict::Allow;
    if !passes && setup.mode == Enforcement::Report {
        lines.push(
            "note:    MODE=report: the gate forwards it all the same and logs this verdict".into(),
        );
    }
    Report { lines, passes }
}

/// The methods a POST overrides to in its query (`_method`), which the
/// gate judges too where the matching rule names methods.
fn overrides(args: &Args, rule: Option<&Rule>) -> Vec<String> {
    let method = args.method.as_str();
    match (method, query_of(&args.target)) {
        ("POST", Some(query)) if rule.is_some_and(Rule::judges_methods) => {
            method_override::in_query(query)
                .filter(|m| m != method)
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The policy's decision for the person or client asking, judged under
/// every one of `methods`, and why the matching rule refuses, if it does.
fn decide<'p>(
    setup: &'p Deciding,
    args: &Args,
    path: &str,
    methods: &[&str],
    found: Option<Match<'p>>,
    now: u64,
) -> (Decision<'p>, Option<String>) {
    let rule = found.map(|m| m.rule);
    let auth_time = now.saturating_sub(args.auth_age);
    // The method the rule refuses: why, under it.
    let refused_of = |admits: &dyn Fn(&Rule, &str) -> bool| {
        *methods
            .iter()
            .find(|m| !rule.is_some_and(|r| admits(r, m)))
            .unwrap_or(&methods[0])
    };
    match &args.who {
        Who::User(uid) => {
            let subject = Subject {
                uid,
                email: args.email.as_deref(),
                groups: &args.groups,
                claims: &args.claims,
                device_bound: setup.device_binding && args.device_bound,
                auth_time,
            };
            let decision = all_of(methods, |m| {
                setup
                    .policy
                    .decide(&Request { path, method: m }, &subject, now)
            });
            let refused = refused_of(&|r, m| r.admits(&subject, m));
            let holds = |c: &Condition| c.holds(&subject, refused);
            let none = format!("no allow condition holds for this user and {refused}");
            (decision, rule.map(|rule| why_refused(rule, holds, none)))
        }
        Who::Client { id, scope } => {
            let client = MachineClient {
                client_id: id,
                scope,
                issued_at: auth_time,
            };
            let decision = all_of(methods, |m| {
                setup
                    .policy
                    .decide_client(&Request { path, method: m }, &client, now)
            });
            let refused = refused_of(&|r, m| r.admits_client(&client, m));
            let holds = |c: &Condition| c.holds_for_client(&client, refused);
            let none = format!("no allow condition names this client or its scopes for {refused}");
            (decision, rule.map(|rule| why_refused(rule, holds, none)))
        }
    }
}

/// The verdict line's text: what the gate answers, and why.
fn verdict(args: &Args, decision: &Decision<'_>, refused_by_rule: Option<String>) -> String {
    match (decision.outcome, refused_by_rule) {
        (Verdict::Allow, _) => "allow".to_owned(),
        (Verdict::Forbidden, None) => "forbidden (403)".to_owned(),
        (Verdict::Forbidden, Some(why)) => why,
        (Verdict::StepUp { max_age }, _) => match args.who {
            Who::User(_) => format!(
                "step_up (max_age={max_age}s): signed in {}s ago; a browser is sent to sign in again (303), other clients get 401",
                args.auth_age
            ),
            Who::Client { .. } => format!(
                "invalid_token (401): the token was issued {}s ago, past the rule's max_auth_age of {max_age}s",
                args.auth_age
            ),
        },
    }
}

/// Why `rule` refuses: the deny condition that holds, or else `none`.
fn why_refused(rule: &Rule, holds: impl Fn(&Condition) -> bool, none: String) -> String {
    let first = |conditions: &[Condition]| conditions.iter().position(&holds);
    match first(rule.allow()).and(first(rule.deny())) {
        Some(i) => format!("forbidden (403): deny[{i}] holds"),
        None => format!("forbidden (403): {none}"),
    }
}

/// The decision under each of `methods`: the stricter wins.
fn all_of<'p>(methods: &[&str], decide: impl Fn(&str) -> Decision<'p>) -> Decision<'p> {
    methods
        .iter()
        .skip(1)
        .fold(decide(methods[0]), |d, m| d.and(decide(m)))
}

/// `rule:` and the rule that decides, or why none does.
fn rule_line(found: Option<Match<'_>>, path: &str, decision: &Decision<'_>, who: &Who) -> String {
    match (found, who) {
        (Some(found), _) => format!("rule:    {}", describe(found, path)),
        (None, Who::Client { .. }) => {
            "rule:    default (no rule's paths match; machine clients are refused there)".to_owned()
        }
        (None, Who::User(_)) => {
            let fallback = match decision.outcome {
                Verdict::Allow => "allow",
                _ => "deny",
            };
            format!("rule:    default (no rule's paths match; POLICY_DEFAULT is {fallback})")
        }
    }
}

/// The path of a request target as the gate takes it from the URL: no
/// scheme and host, fragment or query; empty is `/`.
fn path_of(target: &str) -> &str {
    let rest = match target.split_once("://") {
        Some((_, after)) if !target.starts_with('/') => after.find('/').map_or("", |i| &after[i..]),
        _ => target,
    };
    let rest = rest.split('#').next().unwrap_or_default();
    match rest.split('?').next().unwrap_or_default() {
        "" => "/",
        path => path,
    }
}

/// `admins (matches /admin/*)`: the rule's label and the pattern of its
/// that matched, with the format suffix it matched without.
fn describe(found: Match<'_>, path: &str) -> String {
    let folded = fold(path);
    let suffix = match found.suffix_len {
        0 => String::new(),
        n => format!(" with the format suffix {}", &folded[folded.len() - n..]),
    };
    let unnamed = if found.rule.is_unnamed() {
        "unnamed; "
    } else {
        ""
    };
    format!(
        "{} ({unnamed}matches {}{suffix})",
        found.rule.label(),
        found.pattern
    )
}

/// The query of a request target, if it has one.
fn query_of(target: &str) -> Option<&str> {
    let rest = target.split('#').next().unwrap_or_default();
    rest.split_once('?').map(|(_, query)| query)
}
