use serde_json::json;

use super::*;

const NOW: u64 = 1_700_000_000;

fn policy(rules: serde_json::Value) -> Policy {
    Policy::parse(&rules.to_string(), Fallback::Allow).unwrap()
}

fn problem(rules: serde_json::Value) -> String {
    Policy::parse(&rules.to_string(), Fallback::Allow)
        .unwrap_err()
        .to_string()
}

/// A user as the tests need one.
#[derive(Debug)]
struct User {
    uid: &'static str,
    email: Option<&'static str>,
    groups: Vec<String>,
    claims: Claims,
    device_bound: bool,
    auth_time: u64,
}

impl User {
    fn new(uid: &'static str) -> Self {
        Self {
            uid,
            email: None,
            groups: Vec::new(),
            claims: Claims::new(),
            device_bound: false,
            auth_time: NOW - 60,
        }
    }

    fn email(mut self, email: &'static str) -> Self {
        self.email = Some(email);
        self
    }

    fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }

    fn claim(mut self, name: &str, value: &str) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    fn subject(&self) -> Subject<'_> {
        Subject {
            uid: self.uid,
            email: self.email,
            groups: &self.groups,
            claims: &self.claims,
            device_bound: self.device_bound,
            auth_time: self.auth_time,
        }
    }
}

fn decide<'p>(policy: &'p Policy, user: &User, method: &str, path: &str) -> (&'p str, Verdict) {
    let d = policy.decide(&Request { path, method }, &user.subject(), NOW);
    (d.rule, d.outcome)
}

fn allowed(policy: &Policy, user: &User, method: &str, path: &str) -> bool {
    decide(policy, user, method, path).1 == Verdict::Allow
}

#[test]
fn the_most_specific_rule_decides() {
    let p = policy(json!([
        {"name": "all", "paths": ["/*"], "allow": [{"any_user": true}]},
        {"name": "admin", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]},
        {"name": "admin-users", "paths": ["/admin/users/*"], "allow": [{"users": ["carol"]}]},
        {"name": "admin-users-list", "paths": ["/admin/users"], "allow": [{"users": ["dave"]}]},
    ]));
    let rule = |path| p.rule_for(path).map(|r| r.label.as_str());
    assert_eq!(rule("/"), Some("all"));
    assert_eq!(rule("/reports"), Some("all"));
    assert_eq!(rule("/admin"), Some("admin"));
    assert_eq!(rule("/admin/settings"), Some("admin"));
    assert_eq!(rule("/admin/users/7"), Some("admin-users"));
    // Exact beats the longer prefix that covers it too.
    assert_eq!(rule("/admin/users"), Some("admin-users-list"));
}

#[test]
fn among_equals_the_first_in_the_list_decides() {
    let p = policy(json!([
        {"paths": ["/a/*"], "allow": [{"users": ["first"]}]},
        {"paths": ["/b/*", "/a/*"], "allow": [{"users": ["second"]}]},
    ]));
    assert_eq!(p.rule_for("/a/x").unwrap().label, "0");
    assert_eq!(p.rule_for("/b/x").unwrap().label, "1");
}

#[test]
fn a_rule_is_never_escaped_by_how_the_path_is_written() {
    let p = policy(json!([
        {"name": "admin", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]},
        {"name": "billing", "paths": ["/billing"], "allow": [{"groups": ["finance"]}]},
    ]));
    let bob = User::new("bob");
    for path in [
        "/admin",
        "/admin/",
        "/ADMIN/users",
        "//admin/users",
        "/admin;x/users",
        "/Admin",
    ] {
        assert_eq!(
            decide(&p, &bob, "GET", path),
            ("admin", Verdict::Forbidden),
            "{path}"
        );
    }
    for path in [
        "/billing",
        "/billing/",
        "/BILLING",
        "/billing;v=1",
        "//billing",
    ] {
        assert_eq!(
            decide(&p, &bob, "GET", path),
            ("billing", Verdict::Forbidden),
            "{path}"
        );
    }
    // A neighbour is not a child.
    assert_eq!(
        decide(&p, &bob, "GET", "/administrator"),
        ("default", Verdict::Allow)
    );
}

#[test]
fn deny_wins_over_allow() {
    let p = policy(json!([{
        "name": "reports",
        "paths": ["/reports/*"],
        "allow": [{"email_domains": ["example.com"]}],
        "deny": [{"emails": ["mallory@example.com"]}],
    }]));
    let ada = User::new("ada").email("ada@example.com");
    let mallory = User::new("m").email("Mallory@Example.com");
    assert!(allowed(&p, &ada, "GET", "/reports/q3"));
    assert_eq!(
        decide(&p, &mallory, "GET", "/reports/q3"),
        ("reports", Verdict::Forbidden)
    );
}

#[test]
fn each_condition_field_is_checked() {
    let admits = |condition: serde_json::Value, user: &User| {
        let p = policy(json!([{"paths": ["/x"], "allow": [condition]}]));
        allowed(&p, user, "GET", "/x")
    };
    let ada = User::new("ada")
        .email("ada@example.com")
        .groups(&["staff", "admins"])
        .claim("plan", "pro");
    let bound = User {
        device_bound: true,
        ..User::new("ada")
    };
    let subdomain = User::new("x").email("x@sub.example.com");
    let cases = [
        (json!({"any_user": true}), &ada, true),
        (json!({"users": ["bob", "ada"]}), &ada, true),
        (json!({"users": ["Ada"]}), &ada, false),
        (json!({"emails": ["ADA@example.com"]}), &ada, true),
        (json!({"emails": ["bob@example.com"]}), &ada, false),
        (
            json!({"emails": ["ada@example.com"]}),
            &User::new("ada"),
            false,
        ),
        (json!({"email_domains": ["Example.COM"]}), &ada, true),
        (json!({"email_domains": ["ample.com"]}), &ada, false),
        (json!({"email_domains": ["example.com"]}), &subdomain, false),
        (json!({"groups": ["finance", "admins"]}), &ada, true),
        (json!({"groups": ["Admins"]}), &ada, false),
        (json!({"claims": {"plan": ["pro", "team"]}}), &ada, true),
        (json!({"claims": {"plan": ["team"]}}), &ada, false),
        (
            json!({"claims": {"plan": ["pro"], "region": ["eu"]}}),
            &ada,
            false,
        ),
        (json!({"device_bound": true}), &ada, false),
        (json!({"device_bound": true}), &bound, true),
        // Every field of a condition must hold (AND).
        (
            json!({"users": ["ada"], "groups": ["finance"]}),
            &ada,
            false,
        ),
    ];
    for (condition, user, expected) in cases {
        assert_eq!(
            admits(condition.clone(), user),
            expected,
            "{condition} for {}",
            user.uid
        );
    }
    // Any condition of the list may (OR).
    let either =
        policy(json!([{"paths": ["/x"], "allow": [{"groups": ["finance"]}, {"users": ["ada"]}]}]));
    assert!(allowed(&either, &ada, "GET", "/x"));
}

#[test]
fn methods_narrow_a_condition() {
    let p = policy(json!([{
        "name": "read-only",
        "paths": ["/docs/*"],
        "allow": [{"any_user": true, "methods": ["get", "HEAD"]}, {"groups": ["editors"]}],
    }]));
    let reader = User::new("r");
    let editor = User::new("e").groups(&["editors"]);
    assert!(allowed(&p, &reader, "GET", "/docs/a"));
    assert!(allowed(&p, &reader, "HEAD", "/docs/a"));
    assert_eq!(
        decide(&p, &reader, "POST", "/docs/a"),
        ("read-only", Verdict::Forbidden)
    );
    assert!(allowed(&p, &editor, "DELETE", "/docs/a"));
}

#[test]
fn a_methods_list_naming_get_holds_for_head_in_allow_and_deny() {
    let p = policy(json!([
        {"name": "docs", "paths": ["/docs/*"],
         "allow": [{"any_user": true, "methods": ["GET"]}],
         "deny": [{"groups": ["contractors"], "methods": ["GET"]}]},
        {"name": "writes", "paths": ["/w/*"], "allow": [{"any_user": true, "methods": ["POST"]}]},
    ]));
    let reader = User::new("r");
    let contractor = User::new("c").groups(&["contractors"]);
    assert!(allowed(&p, &reader, "HEAD", "/docs/x"));
    assert!(allowed(&p, &reader, "head", "/docs/x"));
    assert_eq!(
        decide(&p, &contractor, "HEAD", "/docs/x"),
        ("docs", Verdict::Forbidden)
    );
    // Only GET stands for HEAD: POST does not.
    assert_eq!(
        decide(&p, &reader, "HEAD", "/w/x"),
        ("writes", Verdict::Forbidden)
    );
}

#[test]
fn a_pattern_covers_the_path_with_a_format_suffix() {
    let p = policy(json!([
        {"name": "all", "paths": ["/*"], "allow": [{"any_user": true}]},
        {"name": "admin", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]},
        {"name": "security", "paths": ["/settings/security"], "allow": [{"any_user": true}], "max_auth_age": "5m"},
        {"name": "feed", "paths": ["/feed.xml"], "allow": [{"groups": ["subscribers"]}]},
        {"name": "feeds", "paths": ["/feed/*"], "allow": [{"any_user": true}]},
    ]));
    let bob = User::new("bob");
    for path in [
        "/admin.json",
        "/ADMIN.JSON",
        "/admin.json/",
        "/admin.tar.gz",
        "/admin/users.csv",
    ] {
        assert_eq!(
            decide(&p, &bob, "GET", path),
            ("admin", Verdict::Forbidden),
            "{path}"
        );
    }
    let mut old_login = User::new("ada");
    old_login.auth_time = NOW - 3600;
    assert_eq!(
        decide(&p, &old_login, "GET", "/settings/security.html"),
        ("security", Verdict::StepUp { max_age: 300 })
    );
    // Matched as written, a pattern beats the same pattern's match without
    // the suffix; a longer match beats a shorter one either way.
    assert_eq!(
        decide(&p, &bob, "GET", "/feed.xml"),
        ("feed", Verdict::Forbidden)
    );
    assert_eq!(
        decide(&p, &bob, "GET", "/feed.json"),
        ("feeds", Verdict::Allow)
    );
    // Not a suffix: a dot in an inner segment, too long, or not alphanumeric.
    for path in [
        "/admin.json/users",
        "/admin.0123456789abcdefg",
        "/admin.j-s",
    ] {
        assert_eq!(
            decide(&p, &bob, "GET", path),
            ("all", Verdict::Allow),
            "{path}"
        );
    }
    let found = p.matching("/Admin.JSON").unwrap();
    assert_eq!((found.rule.label.as_str(), found.suffix_len), ("admin", 5));
    assert_eq!(p.matching("/admin/x").unwrap().suffix_len, 0);
}

#[test]
fn a_rule_judges_methods_when_a_condition_names_them() {
    let p = policy(json!([
        {"name": "a", "paths": ["/a"], "allow": [{"any_user": true}]},
        {"name": "b", "paths": ["/b"], "allow": [{"any_user": true}], "deny": [{"users": ["x"], "methods": ["DELETE"]}]},
        {"name": "c", "paths": ["/c"], "allow": [{"any_user": true, "methods": ["GET"]}]},
    ]));
    let judges = |path| p.rule_for(path).unwrap().judges_methods();
    assert!(!judges("/a"));
    assert!(judges("/b"));
    assert!(judges("/c"));
}

#[test]
fn a_request_judged_under_two_methods_gets_the_stricter_answer() {
    let allow = Decision {
        rule: "r",
        outcome: Verdict::Allow,
    };
    let step_up = Decision {
        rule: "r",
        outcome: Verdict::StepUp { max_age: 60 },
    };
    let forbidden = Decision {
        rule: "r",
        outcome: Verdict::Forbidden,
    };
    assert_eq!(allow.and(allow), allow);
    assert_eq!(allow.and(step_up), step_up);
    assert_eq!(step_up.and(allow), step_up);
    assert_eq!(step_up.and(forbidden), forbidden);
    assert_eq!(forbidden.and(allow), forbidden);
}

#[test]
fn step_up_asks_only_past_max_auth_age_and_only_when_allowed() {
    let p = policy(json!([{
        "name": "billing",
        "paths": ["/billing/*"],
        "allow": [{"groups": ["finance"]}],
        "max_auth_age": "15m",
    }]));
    let at = |age: u64, groups: &[&str]| {
        let mut user = User::new("f").groups(groups);
        user.auth_time = NOW - age;
        decide(&p, &user, "GET", "/billing").1
    };
    assert_eq!(at(0, &["finance"]), Verdict::Allow);
    assert_eq!(at(900, &["finance"]), Verdict::Allow);
    assert_eq!(at(901, &["finance"]), Verdict::StepUp { max_age: 900 });
    // A fresh sign-in would not change who the user is.
    assert_eq!(at(901, &[]), Verdict::Forbidden);
    // A sign-in stamped ahead of the edge's clock is not stale.
    let mut ahead = User::new("f").groups(&["finance"]);
    ahead.auth_time = NOW + 30;
    assert_eq!(decide(&p, &ahead, "GET", "/billing").1, Verdict::Allow);
}

#[test]
fn the_fallback_decides_paths_no_rule_matches() {
    let rules = json!([{"paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]}]).to_string();
    let user = User::new("u");
    let open = Policy::parse(&rules, Fallback::Allow).unwrap();
    let closed = Policy::parse(&rules, Fallback::Deny).unwrap();
    assert_eq!(
        decide(&open, &user, "GET", "/"),
        ("default", Verdict::Allow)
    );
    assert_eq!(
        decide(&closed, &user, "GET", "/"),
        ("default", Verdict::Forbidden)
    );
    assert!(!Policy::default().is_active());
    assert!(Policy::parse("", Fallback::Deny).unwrap().is_active());
    assert!(open.is_active());
    assert_eq!(Fallback::parse(" Deny "), Ok(Fallback::Deny));
    assert!(Fallback::parse("closed").is_err());
}

#[test]
fn every_invalid_form_is_refused_naming_the_rule_and_field() {
    let cases: &[(serde_json::Value, &str)] = &[
        (json!({"a": 1}), "must be a JSON array of rules"),
        (json!(["x"]), "rule 0: must be an object"),
        (
            json!([{"paths": ["/a"], "allow": [{"any_user": true}], "alow": []}]),
            "rule 0: unknown field `alow`",
        ),
        (
            json!([{"allow": [{"any_user": true}]}]),
            "rule 0: paths: must list at least one path",
        ),
        (
            json!([{"name": "x", "paths": [], "allow": [{"any_user": true}]}]),
            "rule 0 (\"x\"): paths: must list at least one path",
        ),
        (
            json!([{"paths": ["/a"]}]),
            "rule 0: allow: must list at least one condition",
        ),
        (
            json!([{"paths": ["/a"], "allow": []}]),
            "rule 0: allow: must list at least one condition",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"any_user": true}], "max_auth_age": "soon"}]),
            "rule 0: max_auth_age: \"soon\" is not a duration",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"any_user": true}], "max_auth_age": 0}]),
            "rule 0: max_auth_age: must be a duration",
        ),
        (
            json!([{"paths": ["admin"], "allow": [{"any_user": true}]}]),
            "rule 0: paths[0]: \"admin\" must start with /",
        ),
        (
            json!([{"paths": ["/a", "/b*"], "allow": [{"any_user": true}]}]),
            "rule 0: paths[1]: \"/b*\" may use * only as a final /*",
        ),
        (
            json!([{"paths": ["/.sessiongate/*"], "allow": [{"any_user": true}]}]),
            "cannot match: paths under /.sessiongate/",
        ),
        (
            json!([{"paths": ["/a/../b"], "allow": [{"any_user": true}]}]),
            "cannot match: not in normal form",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{}]}]),
            "rule 0: allow[0]: must say who",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"methods": ["GET"]}]}]),
            "rule 0: allow[0]: must say who",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"any_user": true}], "deny": [{"users": []}]}]),
            "rule 0: deny[0].users: must not be empty",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"emial": ["a@b"]}]}]),
            "rule 0: allow[0]: unknown field `emial`",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"any_user": false}]}]),
            "rule 0: allow[0].any_user: may only be true",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"device_bound": false}]}]),
            "rule 0: allow[0].device_bound: may only be true",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"emails": ["ada"]}]}]),
            "rule 0: allow[0].emails: must hold addresses",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"email_domains": ["@example.com"]}]}]),
            "rule 0: allow[0].email_domains: must hold domains",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"any_user": true, "methods": ["GE T"]}]}]),
            "rule 0: allow[0].methods: must hold HTTP methods",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"claims": {}}]}]),
            "rule 0: allow[0].claims: must name at least one claim",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"claims": {"plan": []}}]}]),
            "rule 0: allow[0].claims: \"plan\" must list at least one value",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"groups": ["  "]}]}]),
            "rule 0: allow[0].groups: must not hold an empty string",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"users": "ada"}]}]),
            "rule 0: allow[0]: invalid type",
        ),
        (
            json!([{"name": "has space", "paths": ["/a"], "allow": [{"any_user": true}]}]),
            "rule 0 (\"has space\"): name:",
        ),
        (
            json!([{"name": "7", "paths": ["/a"], "allow": [{"any_user": true}]}]),
            "must not be a number",
        ),
        (
            json!([{"name": "default", "paths": ["/a"], "allow": [{"any_user": true}]}]),
            "is reserved",
        ),
        (
            json!([
                {"name": "a", "paths": ["/a"], "allow": [{"any_user": true}]},
                {"name": "a", "paths": ["/b"], "allow": [{"any_user": true}]},
            ]),
            "rule 1 (\"a\"): name: is used by an earlier rule",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"any_user": true, "clients": ["ci"]}]}]),
            "rule 0: allow[0]: names people and machine clients",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"groups": ["ops"], "scopes": ["deploy"]}]}]),
            "rule 0: allow[0]: names people and machine clients",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"clients": []}]}]),
            "rule 0: allow[0].clients: must not be empty",
        ),
        (
            json!([{"paths": ["/a"], "allow": [{"scopes": ["read write"]}]}]),
            "rule 0: allow[0].scopes: must hold one scope each",
        ),
    ];
    for (rules, expected) in cases {
        let text = problem(rules.clone());
        assert!(
            text.contains(expected),
            "{rules}: {text:?} lacks {expected:?}"
        );
    }
    let invalid_json = Policy::parse("[{", Fallback::Allow)
        .unwrap_err()
        .to_string();
    assert!(
        invalid_json.starts_with("is not valid JSON"),
        "{invalid_json}"
    );
    assert!(Policy::parse("  ", Fallback::Allow)
        .unwrap()
        .rules()
        .is_empty());
    assert!(Policy::parse("[]", Fallback::Allow).is_ok());
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn condition() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(json!({"any_user": true})),
            Just(json!({"users": ["ada"]})),
            Just(json!({"users": ["bob"]})),
            Just(json!({"groups": ["admins"]})),
            Just(json!({"email_domains": ["example.com"]})),
            Just(json!({"claims": {"plan": ["pro"]}})),
            Just(json!({"any_user": true, "methods": ["GET"]})),
            Just(json!({"device_bound": true})),
        ]
    }

    fn user() -> impl Strategy<Value = User> {
        (
            prop_oneof![Just("ada"), Just("bob"), Just("eve")],
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(uid, admin, example, pro, bound)| {
                let mut user = User::new(uid);
                if admin {
                    user = user.groups(&["admins"]);
                }
                if example {
                    user = user.email("someone@example.com");
                }
                if pro {
                    user = user.claim("plan", "pro");
                }
                user.device_bound = bound;
                user
            })
    }

    proptest! {
        /// Adding a deny condition to a rule never lets anyone in who was
        /// kept out before, on any path or method.
        #[test]
        fn adding_a_deny_never_allows_more(
            allow in prop::collection::vec(condition(), 1..4),
            deny in prop::collection::vec(condition(), 0..3),
            extra in condition(),
            user in user(),
            method in prop_oneof![Just("GET"), Just("POST")],
            path in prop_oneof![Just("/a"), Just("/a/b"), Just("/c")],
        ) {
            let rules = |deny: &[serde_json::Value]| {
                policy(json!([
                    {"paths": ["/a/*"], "allow": allow.clone(), "deny": deny},
                    {"paths": ["/*"], "allow": [{"any_user": true}], "deny": deny},
                ]))
            };
            let before = rules(&deny);
            let mut more = deny.clone();
            more.push(extra);
            let after = rules(&more);
            if allowed(&after, &user, method, path) {
                prop_assert!(allowed(&before, &user, method, path));
            }
        }
    }
}

fn client<'a>(client_id: &'a str, scope: &'a str) -> MachineClient<'a> {
    MachineClient {
        client_id,
        scope,
        issued_at: NOW - 60,
    }
}

fn decide_client<'p>(
    policy: &'p Policy,
    c: &MachineClient<'_>,
    method: &str,
    path: &str,
) -> (&'p str, Verdict) {
    let d = policy.decide_client(&Request { path, method }, c, NOW);
    (d.rule, d.outcome)
}

#[test]
fn machine_clients_pass_only_rules_naming_them_or_their_scopes() {
    let p = policy(json!([
        {"name": "deploy", "paths": ["/api/deploy"],
         "allow": [{"clients": ["ci"], "methods": ["POST"]}]},
        {"name": "reports", "paths": ["/api/reports/*"],
         "allow": [{"any_user": true}, {"scopes": ["reports:read", "tenant:acme"]}],
         "deny": [{"clients": ["revoked-bot"]}]},
        {"name": "people", "paths": ["/app/*"], "allow": [{"any_user": true}]},
        {"name": "fresh", "paths": ["/api/fresh"], "allow": [{"clients": ["ci"]}], "max_auth_age": 30},
    ]));
    let ci = client("ci", "deploy");
    let reader = client("reader", "tenant:acme reports:read");
    let cases = [
        (&ci, "POST", "/api/deploy", ("deploy", Verdict::Allow)),
        (&ci, "GET", "/api/deploy", ("deploy", Verdict::Forbidden)),
        (
            &reader,
            "POST",
            "/api/deploy",
            ("deploy", Verdict::Forbidden),
        ),
        (
            &reader,
            "GET",
            "/api/reports/q3",
            ("reports", Verdict::Allow),
        ),
        // Every listed scope, whole: not a prefix, not one of them.
        (
            &client("x", "reports:read"),
            "GET",
            "/api/reports/q3",
            ("reports", Verdict::Forbidden),
        ),
        (
            &client("x", "reports:readall tenant:acme"),
            "GET",
            "/api/reports/q3",
            ("reports", Verdict::Forbidden),
        ),
        (
            &client("revoked-bot", "reports:read tenant:acme"),
            "GET",
            "/api/reports/q3",
            ("reports", Verdict::Forbidden),
        ),
        // any_user never admits a machine client.
        (&ci, "GET", "/app/home", ("people", Verdict::Forbidden)),
        // No rule: closed to machine clients, though the fallback is allow.
        (
            &ci,
            "GET",
            "/elsewhere",
            (DEFAULT_LABEL, Verdict::Forbidden),
        ),
        (
            &ci,
            "GET",
            "/api/fresh",
            ("fresh", Verdict::StepUp { max_age: 30 }),
        ),
    ];
    for (c, method, path, expected) in cases {
        assert_eq!(
            decide_client(&p, c, method, path),
            expected,
            "{c:?} {method} {path}"
        );
    }
    // And a condition for machine clients never admits a person.
    let ada = User::new("ci");
    assert_eq!(
        decide(&p, &ada, "POST", "/api/deploy"),
        ("deploy", Verdict::Forbidden)
    );
    assert!(allowed(&p, &ada, "GET", "/api/reports/q3"));
}
