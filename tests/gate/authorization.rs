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
