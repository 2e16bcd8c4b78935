//! The tester as an operator runs it: on a `wrangler.toml` whose `POLICY`
//! is a JSON string or an array of tables, and on a rules file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `[vars]` of both configs, before their `POLICY`.
const VARS: &str = r#"
[vars]
LOGIN_URL = "/signin"
PUBLIC_PATHS = "/static/*"
"#;

const RULES: &str = r#"[
  {"name": "admins", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}], "max_auth_age": "10m"},
  {"name": "reports", "paths": ["/reports/*"],
   "allow": [{"email_domains": ["example.com"]}], "deny": [{"emails": ["mallory@example.com"]}]},
  {"name": "deploy", "paths": ["/api/deploy"],
   "allow": [{"clients": ["ci-deployer"], "scopes": ["deploy:write"], "methods": ["POST"]}]}
]"#;

/// The same rules as TOML tables.
const RULES_AS_TABLES: &str = r#"
[[vars.POLICY]]
name = "admins"
paths = ["/admin/*"]
allow = [{ groups = ["admins"] }]
max_auth_age = "10m"

[[vars.POLICY]]
name = "reports"
paths = ["/reports/*"]
allow = [{ email_domains = ["example.com"] }]
deny = [{ emails = ["mallory@example.com"] }]

[[vars.POLICY]]
name = "deploy"
paths = ["/api/deploy"]
allow = [{ clients = ["ci-deployer"], scopes = ["deploy:write"], methods = ["POST"] }]
"#;

fn file(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("policy-cli-{name}"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Both ways of writing `POLICY` in `wrangler.toml`, written once for
/// the tests running in parallel.
fn configs() -> &'static [PathBuf; 2] {
    static CONFIGS: OnceLock<[PathBuf; 2]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        [
            file(
                "string.toml",
                &format!("{VARS}POLICY = '''\n{RULES}\n'''\n"),
            ),
            file("tables.toml", &format!("{VARS}{RULES_AS_TABLES}")),
        ]
    })
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn tester(config: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_sessiongate-policy"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs the tester on `config` and checks its exit code and that each of
/// `lines` is a line of its output.
#[track_caller]
fn check(config: &Path, args: &[&str], code: i32, lines: &[&str]) {
    let run = tester(config, args);
    for line in lines {
        assert!(
            run.stdout.lines().any(|l| l == *line),
            "no line {line:?} in:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
    assert_eq!(run.code, code, "{}{}", run.stdout, run.stderr);
}

/// [`check`] on both ways of writing `POLICY`: they must answer alike.
#[track_caller]
fn check_both(args: &[&str], code: i32, lines: &[&str]) {
    for config in configs() {
        check(config, args, code, lines);
    }
}

#[test]
fn an_admin_is_allowed() {
    check_both(
        &[
            "--user",
            "alice",
            "--groups",
            "staff,admins",
            "GET",
            "/admin/users",
        ],
        0,
        &[
            "path:    /admin/users",
            "rule:    admins (matches /admin/*)",
            "verdict: allow",
        ],
    );
}

#[test]
fn a_user_outside_the_group_is_forbidden_however_the_path_is_written() {
    check_both(
        &[
            "--user",
            "bob",
            "--groups",
            "staff",
            "GET",
            "/%41dmin/users?tab=2",
        ],
        1,
        &[
            "path:    /Admin/users",
            "rule:    admins (matches /admin/*)",
            "verdict: forbidden (403): no allow condition holds for this user and GET",
        ],
    );
}

#[test]
fn a_deny_condition_says_which() {
    check_both(
        &[
            "--user",
            "m",
            "--email",
            "Mallory@example.com",
            "POST",
            "/reports/q3",
        ],
        1,
        &[
            "rule:    reports (matches /reports/*)",
            "verdict: forbidden (403): deny[0] holds",
        ],
    );
    check_both(
        &[
            "--user",
            "ada",
            "--email",
            "ada@example.com",
            "POST",
            "/reports/q3",
        ],
        0,
        &["verdict: allow"],
    );
}

#[test]
fn a_login_older_than_the_rule_allows_must_step_up() {
    let admin = ["--user", "alice", "--groups", "admins"];
    check_both(
        &[&admin[..], &["--auth-age", "20m", "GET", "/admin"]].concat(),
        1,
        &["verdict: step_up (max_age=600s): signed in 1200s ago; a browser is sent to sign in again (303), other clients get 401"],
    );
    check_both(
        &[&admin[..], &["--auth-age=9m", "GET", "/admin"]].concat(),
        0,
        &["verdict: allow"],
    );
}

#[test]
fn public_and_edge_paths_are_outside_the_policy() {
    for path in ["/static/app.js", "/signin?return_to=%2Fadmin"] {
        check_both(
            &["--user", "bob", "GET", path],
            0,
            &["verdict: public: outside the policy"],
        );
    }
    check_both(
        &["--user", "bob", "GET", "/.sessiongate/session"],
        0,
        &["verdict: edge endpoint: outside the policy"],
    );
    // Neither public nor a way round the rule: refused before it.
    check_both(
        &["--user", "bob", "GET", "/static/../admin"],
        1,
        &["verdict: refused before the policy: 400 dot_segment"],
    );
}

#[test]
fn a_rules_file_replaces_the_policy_with_its_own_default() {
    let config = file("vars-only.toml", VARS);
    let rules = file("rules.json", RULES);
    let rules = rules.to_str().unwrap();
    let with_rules = |args: &[&'static str]| [&["--policy", rules][..], args].concat();
    check(
        &config,
        &with_rules(&["--default", "deny", "--user", "bob", "GET", "/billing"]),
        1,
        &[
            "rule:    default (no rule's paths match; POLICY_DEFAULT is deny)",
            "verdict: forbidden (403)",
        ],
    );
    check(
        &config,
        &with_rules(&["--user", "bob", "GET", "/billing"]),
        0,
        &[
            "rule:    default (no rule's paths match; POLICY_DEFAULT is allow)",
            "verdict: allow",
        ],
    );
    check(
        &config,
        &with_rules(&["--user", "alice", "--groups", "admins", "GET", "/admin/x"]),
        0,
        &["rule:    admins (matches /admin/*)", "verdict: allow"],
    );
}

#[test]
fn a_bad_policy_is_refused_naming_the_rule_and_the_field() {
    let bad = RULES.replace(r#"{"email_domains": ["example.com"]}"#, r#"{"groups": []}"#);
    let config = file("bad.toml", &format!("{VARS}POLICY = '''{bad}'''\n"));
    let run = tester(&config, &["--user", "bob", "GET", "/admin"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains(r#"POLICY: rule 1 ("reports"): allow[0].groups: must not be empty"#),
        "{}",
        run.stderr
    );

    let rules = file("bad.json", &bad);
    let run = tester(
        &config,
        &[
            "--policy",
            rules.to_str().unwrap(),
            "--user",
            "bob",
            "GET",
            "/admin",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains(r#"bad.json: rule 1 ("reports"): allow[0].groups"#),
        "{}",
        run.stderr
    );
}

#[test]
fn with_apps_it_asks_for_one_apps_rules() {
    let apps = file(
        "apps.toml",
        "[vars]\nAUTH_HOST = \"a.example.com\"\n\n[[vars.APPS]]\nname = \"a\"\nhosts = [\"a.example.com\"]\norigin = \"https://a.internal\"\n",
    );
    let run = tester(&apps, &["--user", "bob", "GET", "/admin"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("APPS is set"), "{}", run.stderr);

    let rules = file("apps-rules.json", RULES);
    check(
        &apps,
        &[
            "--policy",
            rules.to_str().unwrap(),
            "--user",
            "bob",
            "GET",
            "/admin/users",
        ],
        1,
        &["rule:    admins (matches /admin/*)"],
    );
}

#[test]
fn usage_errors_exit_2() {
    let config = &configs()[0];
    for args in [
        &["GET", "/admin"][..],
        &["--user", "bob", "/admin"],
        &["--user", "bob", "--color", "GET", "/admin"],
        &["--user", "bob", "--auth-age", "soon", "GET", "/admin"],
        &["--user", "bob", "--default", "deny", "GET", "/admin"],
    ] {
        let run = tester(config, args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert!(run.stderr.starts_with("policy: "), "{}", run.stderr);
    }
}

#[test]
fn a_machine_client_passes_only_where_a_rule_names_it() {
    let deployer = ["--client", "ci-deployer", "--scope", "deploy:write read"];
    check_both(
        &[&deployer[..], &["POST", "/api/deploy"]].concat(),
        0,
        &["rule:    deploy (matches /api/deploy)", "verdict: allow"],
    );
    check_both(
        &["--client", "ci-deployer", "POST", "/api/deploy"],
        1,
        &["verdict: forbidden (403): no allow condition names this client or its scopes for POST"],
    );
    // A path no rule matches is closed to machine clients.
    check_both(
        &[&deployer[..], &["GET", "/dashboard"]].concat(),
        1,
        &[
            "rule:    default (no rule's paths match; machine clients are refused there)",
            "verdict: forbidden (403)",
        ],
    );
    let run = tester(&configs()[0], &["--user", "a", "--client", "b", "GET", "/"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--user or --client, not both"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_format_suffix_is_shown_with_the_pattern_it_matched_without() {
    check_both(
        &["--user", "bob", "GET", "/admin.json"],
        1,
        &[
            "path:    /admin.json",
            "rule:    admins (matches /admin/* with the format suffix .json)",
        ],
    );
}

#[test]
fn a_post_overriding_its_method_in_the_query_is_judged_as_both() {
    let deployer = ["--client", "ci-deployer", "--scope", "deploy:write"];
    check_both(
        &[&deployer[..], &["POST", "/api/deploy?_method=DELETE"]].concat(),
        1,
        &[
            "method:  POST, judged as DELETE too (_method)",
            "verdict: forbidden (403): no allow condition names this client or its scopes for DELETE",
        ],
    );
    // A rule without methods judges the path alone: the query is not read.
    check_both(
        &[
            "--user",
            "ada",
            "--email",
            "ada@example.com",
            "POST",
            "/reports/q3?_method=DELETE",
        ],
        0,
        &["verdict: allow"],
    );
}

/// `--lint` on a config: each warning a line, exit 0; a bad policy exits 2.
#[test]
fn lint_lists_the_traps_and_exits_0_with_warnings_only() {
    let config = file(
        "lint.toml",
        r#"
[vars]
PUBLIC_PATHS = "/static/*"
DEVICE_BOUND = "off"
POLICY = '''[
  {"name": "admins", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]},
  {"name": "assets", "paths": ["/static/img/*"], "allow": [{"groups": ["design"]}]},
  {"name": "admins-again", "paths": ["/admin/*"], "allow": [{"any_user": true}]},
  {"name": "api", "paths": ["/api/*"], "allow": [{"any_user": true}], "deny": [{"clients": ["ci"]}]},
  {"name": "bound", "paths": ["/b"], "allow": [{"device_bound": true}]}
]'''
"#,
    );
    let run = tester(&config, &["--lint"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let warnings: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 5, "{}", run.stdout);
    for expected in [
        "warning: POLICY_DEFAULT is allow while rules are set",
        "warning: rule assets: /static/img/* lies under PUBLIC_PATHS' /static/*",
        "warning: rule admins-again never decides: rule admins",
        "warning: rule api: deny[0] can never hold: it names machine clients",
        "warning: rule bound: allow[0] can never hold: DEVICE_BOUND is off",
    ] {
        assert!(
            warnings.iter().any(|w| w.starts_with(expected)),
            "{expected}\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.lines().any(|l| l == "lint: 5 rules, 5 warnings"));

    let clean = file(
        "lint-clean.toml",
        "[vars]\nPOLICY_DEFAULT = \"deny\"\nPOLICY = '''[{\"paths\": [\"/*\"], \"allow\": [{\"any_user\": true}]}]'''\n",
    );
    check(&clean, &["--lint"], 0, &["lint: 1 rule, no warnings"]);

    let bad = file(
        "lint-bad.toml",
        "[vars]\nPOLICY = '''[{\"paths\": []}]'''\n",
    );
    let run = tester(&bad, &["--lint"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("POLICY: rule 0: paths"),
        "{}",
        run.stderr
    );
}
