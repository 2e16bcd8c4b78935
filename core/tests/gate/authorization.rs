use super::*;

const POLICY: &str = r#"[
    {"name": "admins", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]},
    {"name": "billing", "paths": ["/billing"], "allow": [{"any_user": true}], "max_auth_age": "10m"}
]"#;

fn world(mode: &str) -> World {
    World::with(config_with(&[("POLICY", POLICY), ("MODE", mode)]))
}

/// A session for `uid` in `groups`, signed in `auth_age` seconds ago.
fn member(world: &World, uid: &str, groups: &[&str], auth_age: u64) -> String {
    let identity = Identity {
        email: Some(format!("{uid}@example.com")),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Identity::new(uid, world.clock.now() - auth_age)
    };
    cookie(&world.session_of(identity, auth_age).0)
}

#[test]
fn a_member_is_forwarded_and_the_log_names_the_rule() {
    let world = world("enforce");
    let c = member(&world, "ada", &["admins"], 60);
    let u = url("/admin/users");
    let decision = world.handle(get(&u, Some(&c)));
    let fwd = forward(decision);
    assert!(fwd.headers.iter().any(|(n, _)| *n == assertion::HEADER));
    let (_, log) = world.after(&fwd, Directives::default());
    assert_eq!(
        (log.decision, log.rule.as_deref()),
        ("forward", Some("admins"))
    );
}

#[test]
fn a_refusal_costs_the_one_read_and_never_reaches_the_origin() {
    let world = world("enforce");
    let c = member(&world, "bob", &["staff"], 60);
    let u = url("/admin/users");
    let decision = world.handle(get(&u, Some(&c)));
    let log = decision.log.clone();
    let refused = reply(decision);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body, r#"{"error":"forbidden","rule":"admins"}"#);
    assert_eq!((world.counts().reads, world.counts().total()), (1, 1));
    assert_eq!(
        (log.decision, log.reason, log.rule.as_deref()),
        ("reject", Some("forbidden"), Some("admins"))
    );
    assert!(log.sid.is_some());
    assert!(set_cookies(&refused).is_empty(), "the session is kept");
    let page = reply(world.handle(navigation(&u, &c)));
    assert_eq!(page.status, 403);
    assert!(page.body.contains("bob@example.com"));
}

#[test]
fn a_stale_login_is_asked_to_sign_in_again_and_keeps_its_session() {
    let world = world("enforce");
    let c = member(&world, "sam", &[], 601);
    let u = url("/billing?tab=2");
    let redirect = reply(world.handle(navigation(&u, &c)));
    assert_eq!(redirect.status, 303);
    assert_eq!(
        redirect.header("location"),
        Some("/login?return_to=/billing%3Ftab%3D2&max_age=600")
    );
    let api = reply(world.handle(get(&u, Some(&c))));
    assert_eq!(
        (api.status, api.body.as_str()),
        (401, r#"{"error":"unauthenticated","reason":"step_up"}"#)
    );
    assert_eq!(world.counts().deletes, 0, "nothing is ended");
    forward(world.handle(get(&url("/dashboard"), Some(&c))));
    // Exactly at the bound it still passes.
    let fresh = member(&world, "sam", &[], 600);
    forward(world.handle(get(&u, Some(&fresh))));
}

#[test]
fn a_refusal_still_restamps_an_active_session() {
    let world = world("enforce");
    let c = member(&world, "bob", &[], 60);
    world.clock.advance(1000);
    let refused = reply(world.handle(get(&url("/admin"), Some(&c))));
    assert_eq!(refused.status, 403);
    assert_eq!(set_cookies(&refused).len(), 1, "a re-stamped cookie");
}

#[test]
fn report_mode_forwards_the_identity_with_the_verdict() {
    let world = world("report");
    let c = member(&world, "bob", &["staff"], 60);
    let fwd = forward(world.handle(get(&url("/admin"), Some(&c))));
    let header = |name: &str| {
        fwd.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        header("sessiongate-verdict"),
        Some("deny; reason=forbidden; rule=admins")
    );
    assert!(header(assertion::HEADER).is_some());
    let (_, log) = world.after(&fwd, Directives::default());
    assert_eq!(
        (log.decision, log.reason, log.mode),
        ("reject", Some("forbidden"), Some("report"))
    );
}

#[test]
fn without_a_policy_nothing_is_decided_or_logged() {
    let world = World::new();
    let (token, _) = world.session("bob", 60);
    let c = cookie(&token);
    let fwd = forward(world.handle(get(&url("/admin"), Some(&c))));
    let (_, log) = world.after(&fwd, Directives::default());
    assert_eq!(log.rule, None);
}

/// Only admins may delete a project; everyone may read and post.
const PROJECTS: &str = r#"[
    {"name": "projects", "paths": ["/projects/*"],
     "allow": [{"any_user": true, "methods": ["GET", "POST"]}, {"groups": ["admins"]}]},
    {"name": "docs", "paths": ["/docs/*"], "allow": [{"any_user": true}],
     "deny": [{"groups": ["contractors"], "methods": ["GET"]}]},
    {"name": "uploads", "paths": ["/uploads/*"], "allow": [{"any_user": true}]}
]"#;

fn projects(mode: &str) -> World {
    World::with(config_with(&[("POLICY", PROJECTS), ("MODE", mode)]))
}

fn post<'a>(u: &'a str, c: &'a str, content_type: Option<&'a str>) -> Inbound<'a> {
    Inbound {
        method: "POST",
        content_type,
        sec_fetch_site: Some("same-origin"),
        ..get(u, Some(c))
    }
}

#[test]
fn a_format_suffix_is_judged_by_the_rule_of_the_path_without_it() {
    let world = world("enforce");
    let bob = member(&world, "bob", &["staff"], 60);
    for path in ["/admin.json", "/ADMIN.JSON", "/admin/users.csv"] {
        let u = url(path);
        let decision = world.handle(get(&u, Some(&bob)));
        assert_eq!(decision.log.rule.as_deref(), Some("admins"), "{path}");
        assert_eq!(reply(decision).status, 403, "{path}");
    }
    let stale = member(&world, "sam", &[], 3600);
    let u = url("/billing.html");
    let r = reply(world.handle(get(&u, Some(&stale))));
    assert_eq!((r.status, reason(&r).as_str()), (401, "step_up"));
}

#[test]
fn a_deny_naming_get_holds_for_head() {
    let world = projects("enforce");
    let contractor = member(&world, "cy", &["contractors"], 60);
    let u = url("/docs/x");
    for method in ["GET", "HEAD"] {
        let req = Inbound {
            method,
            ..get(&u, Some(&contractor))
        };
        let decision = world.handle(req);
        assert_eq!(decision.log.rule.as_deref(), Some("docs"));
        assert_eq!(reply(decision).status, 403, "{method}");
    }
}

#[test]
fn a_post_is_judged_as_the_method_its_query_overrides_to() {
    let world = projects("enforce");
    let member_ = member(&world, "bob", &[], 60);
    let admin = member(&world, "ada", &["admins"], 60);
    let u = url("/projects/5?_method=DELETE");
    let decision = world.handle_body(post(&u, &member_, None), Some(""));
    assert_eq!(
        (decision.log.reason, decision.log.rule.as_deref()),
        (Some("forbidden"), Some("projects"))
    );
    assert_eq!(reply(decision).status, 403);
    forward(world.handle_body(post(&u, &admin, None), Some("")));
    // A plain POST, and a GET whatever its query says, are the member's.
    let plain = url("/projects/5");
    forward(world.handle_body(post(&plain, &member_, None), Some("")));
    let get_u = url("/projects/5?_method=DELETE");
    forward(world.handle(get(&get_u, Some(&member_))));
}

#[test]
fn a_post_is_judged_as_the_method_its_form_body_overrides_to() {
    let world = projects("enforce");
    let bob = member(&world, "bob", &[], 60);
    let u = url("/projects/5");
    let multipart =
        "--b0\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\ndelete\r\n--b0--\r\n";
    for (content_type, body) in [
        (
            Some("application/x-www-form-urlencoded"),
            "title=x&_method=delete",
        ),
        (None, "_method=DELETE"),
        (Some("multipart/form-data; boundary=b0"), multipart),
        (Some("application/json"), r#"{"_method":"delete"}"#),
    ] {
        let decision = world.handle_body(post(&u, &bob, content_type), Some(body));
        assert_eq!(reply(decision).status, 403, "{content_type:?}");
    }
    // Another type of body is not read, and holds no override.
    forward(world.handle_body(post(&u, &bob, Some("text/plain")), Some("_method=DELETE")));
}

#[test]
fn a_body_too_large_to_judge_is_refused_and_elsewhere_no_body_is_read() {
    let world = projects("report");
    let bob = member(&world, "bob", &[], 60);
    let u = url("/projects/5");
    let decision = world.handle_body(
        post(&u, &bob, Some("application/x-www-form-urlencoded")),
        None,
    );
    assert_eq!(decision.log.reason, Some("body_too_large"));
    let r = reply(decision);
    assert_eq!(
        (r.status, r.body.as_str()),
        (413, r#"{"error":"body_too_large"}"#)
    );
    // No rule of /uploads names methods: its body is never read (a read
    // would have found it too large).
    let uploads = url("/uploads/big");
    forward(world.handle_body(
        post(&uploads, &bob, Some("multipart/form-data; boundary=x")),
        None,
    ));
    let no_boundary = world.handle_body(post(&u, &bob, Some("multipart/form-data")), Some(""));
    let r = reply(no_boundary);
    assert_eq!(
        (r.status, reason(&r).as_str()),
        (400, "form_without_boundary")
    );
}

#[test]
fn report_mode_forwards_an_overriding_post_with_the_verdict() {
    let world = projects("report");
    let bob = member(&world, "bob", &[], 60);
    let u = url("/projects/5?_method=delete");
    let fwd = forward(world.handle_body(post(&u, &bob, None), Some("")));
    let verdict = fwd
        .headers
        .iter()
        .find(|(n, _)| *n == "sessiongate-verdict")
        .map(|(_, v)| v.as_str());
    assert_eq!(verdict, Some("deny; reason=forbidden; rule=projects"));
}
