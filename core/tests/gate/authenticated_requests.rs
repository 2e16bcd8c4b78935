use super::*;

#[test]
fn cost_exactly_one_read_and_no_write() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let c = cookie(&token);
    let u = url("/dashboard");
    let fwd = forward(world.handle(get(&u, Some(&c))));
    assert_eq!(
        world.counts(),
        Counts {
            reads: 1,
            ..Counts::default()
        }
    );
    let (completion, _) = world.after(&fwd, Directives::default());
    assert_eq!(
        completion,
        Completion::Pass(Edits::default()),
        "no re-stamp within a quarter of the idle window"
    );
    assert_eq!(world.counts().total(), 1);
}

#[test]
fn are_forwarded_with_an_assertion_bound_to_method_and_path() {
    let world = World::new();
    let (token, id) = world.session("alice", 60);
    let c = format!("a=1; {}; b=2", cookie(&token));
    let u = url("/api/items?page=2");
    let req = Inbound {
        method: "DELETE",
        sec_fetch_site: Some("same-origin"),
        ..get(&u, Some(&c))
    };
    let fwd = forward(world.handle(req));
    assert_eq!(fwd.url, "https://origin.internal/api/items?page=2");
    assert_eq!(
        fwd.cookie,
        sessiongate_core::gate::CookieHeader::Replace("a=1; b=2".to_owned())
    );
    let header = |name: &str| {
        fwd.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(header("x-sessiongate-user"), "alice");
    let expected = Expected {
        audience: "app",
        method: "DELETE",
        path_and_query: "/api/items?page=2",
        now: NOW,
        leeway: 0,
    };
    let claims = AssertionClaims::verify(
        &HmacKey::new(ASSERTION_KEY.as_bytes()),
        &header(assertion::HEADER),
        &expected,
    )
    .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.sid, id.hash().sid());
    assert_eq!(claims.iat, NOW);
    assert_eq!(claims.exp, NOW + 60);
    assert_eq!(claims.auth_time, NOW - 60, "when the session began");
    assert_eq!(claims.claims.get("role").map(String::as_str), Some("admin"));
}

#[test]
fn are_restamped_after_a_quarter_of_the_idle_window_keeping_the_id() {
    let world = World::new();
    let (token, id) = world.session("alice", 3600);
    world.clock.advance(450);
    let c = cookie(&token);
    let u = url("/dashboard");
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let (completion, _) = world.after(&fwd, Directives::default());
    let Completion::Pass(Edits {
        set_cookies: cookies,
        ..
    }) = completion
    else {
        panic!("{completion:?}")
    };
    assert_eq!(cookies.len(), 1);
    let restamped: Token = token_in(&cookies[0]).parse().unwrap();
    assert_eq!(restamped.id(), &id);
    assert_eq!(restamped.stamp(), NOW + 450);
    // Max-Age runs to the absolute deadline: 12 h from login.
    assert!(
        cookies[0].ends_with(&format!("Max-Age={}", 43_200 - 3600 - 450)),
        "{}",
        cookies[0]
    );
    assert_eq!(
        world.counts(),
        Counts {
            reads: 1,
            ..Counts::default()
        },
        "re-stamping writes nothing"
    );
}

#[test]
fn under_a_retired_key_are_restamped_under_the_current_one() {
    let world = World::new();
    let (_, id) = world.session("alice", 60);
    let old = ring(&[("k0", OLD_SESSION_KEY)]).mint(&id, NOW);
    let c = cookie(&old);
    let u = url("/dashboard");
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let (
        Completion::Pass(Edits {
            set_cookies: cookies,
            ..
        }),
        _,
    ) = world.after(&fwd, Directives::default())
    else {
        panic!()
    };
    let restamped: Token = token_in(&cookies[0]).parse().unwrap();
    assert_eq!(restamped.kid().as_str(), "k1");
    assert_eq!(restamped.id(), &id);
}
