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

mod args;
mod setup;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use sessiongate::config::Mode;
use sessiongate::policy::path::{fold, Pattern};
use sessiongate::policy::rule::Condition;
use sessiongate::policy::{Client, Decision, Outcome, Request, Rule, Subject};
use sessiongate::routes::{self, Route};

use args::{Args, Command, Who, USAGE};
use setup::Setup;

fn main() -> ExitCode {
    let args = match Command::parse(std::env::args().skip(1)) {
        Ok(Command::Decide(args)) => args,
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
    let setup = match Setup::load(&args) {
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

fn report(setup: &Setup, args: &Args, now: u64) -> Report {
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

    let method = args.method.as_str();
    let request = Request {
        path: &path,
        method,
    };
    let rule = setup.policy.rule_for(&path);
    let auth_time = now.saturating_sub(args.auth_age);
    let (decision, refused_by_rule) = match &args.who {
        Who::User(uid) => {
            let subject = Subject {
                uid,
                email: args.email.as_deref(),
                groups: &args.groups,
                claims: &args.claims,
                device_bound: setup.device_binding && args.device_bound,
                auth_time,
            };
            let decision = setup.policy.decide(&request, &subject, now);
            let holds = |c: &Condition| c.holds(&subject, method);
            let none = format!("no allow condition holds for this user and {method}");
            (decision, rule.map(|rule| why_refused(rule, holds, none)))
        }
        Who::Client { id, scope } => {
            let client = Client {
                client_id: id,
                scope,
                issued_at: auth_time,
            };
            let decision = setup.policy.decide_client(&request, &client, now);
            let holds = |c: &Condition| c.holds_for_client(&client, method);
            let none = format!("no allow condition names this client or its scopes for {method}");
            (decision, rule.map(|rule| why_refused(rule, holds, none)))
        }
    };
    lines.push(rule_line(rule, &path, &decision, &args.who));
    let verdict = match (decision.outcome, refused_by_rule) {
        (Outcome::Allow, _) => "allow".to_owned(),
        (Outcome::Forbidden, None) => "forbidden (403)".to_owned(),
        (Outcome::Forbidden, Some(why)) => why,
        (Outcome::StepUp { max_age }, _) => match args.who {
            Who::User(_) => format!(
                "step_up (max_age={max_age}s): signed in {}s ago; a browser is sent to sign in again (303), other clients get 401",
                args.auth_age
            ),
            Who::Client { .. } => format!(
                "invalid_token (401): the token was issued {}s ago, past the rule's max_auth_age of {max_age}s",
                args.auth_age
            ),
        },
    };
    lines.push(format!("verdict: {verdict}"));
    let passes = decision.outcome == Outcome::Allow;
    if !passes && setup.mode == Mode::Report {
        lines.push(
            "note:    MODE=report: the gate forwards it all the same and logs this verdict".into(),
        );
    }
    Report { lines, passes }
}

/// Why `rule` refuses: the deny condition that holds, or else `none`.
fn why_refused(rule: &Rule, holds: impl Fn(&Condition) -> bool, none: String) -> String {
    let first = |conditions: &[Condition]| conditions.iter().position(&holds);
    match first(&rule.allow).and(first(&rule.deny)) {
        Some(i) => format!("forbidden (403): deny[{i}] holds"),
        None => format!("forbidden (403): {none}"),
    }
}

/// `rule:` and the rule that decides, or why none does.
fn rule_line(rule: Option<&Rule>, path: &str, decision: &Decision<'_>, who: &Who) -> String {
    match (rule, who) {
        (Some(rule), _) => format!("rule:    {}", describe(rule, path)),
        (None, Who::Client { .. }) => {
            "rule:    default (no rule's paths match; machine clients are refused there)".to_owned()
        }
        (None, Who::User(_)) => {
            let fallback = match decision.outcome {
                Outcome::Allow => "allow",
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

/// `admins (matches /admin/*)`: the rule's label and its pattern that
/// covers the path most specifically.
fn describe(rule: &Rule, path: &str) -> String {
    let folded = fold(path);
    let pattern = rule
        .paths
        .iter()
        .filter_map(|p| p.matches(&folded).map(|s| (s, p)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, p)| match p {
            Pattern::Exact(path) => path.clone(),
            Pattern::Prefix(base) => format!("{base}/*"),
        })
        .unwrap_or_default();
    let unnamed = if rule.label.bytes().all(|b| b.is_ascii_digit()) {
        "unnamed; "
    } else {
        ""
    };
    format!("{} ({unnamed}matches {pattern})", rule.label)
}
