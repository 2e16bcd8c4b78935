use super::*;

fn logout<'a>(u: &'a str, c: &'a str, accept: &'a str) -> Inbound<'a> {
    Inbound {
        method: "POST",
        accept: Some(accept),
        origin: Some(SITE),
        ..get(u, Some(c))
    }
}

#[test]
fn ends_the_current_session_and_clears_the_cookie() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let (other, _) = world.session("alice", 60);
    let c = cookie(&token);
    let u = url("/.sessiongate/logout");
    let r = reply(world.handle(logout(&u, &c, "text/html")));
    assert_eq!((r.status, r.header("location")), (303, Some("/")));
    assert!(set_cookies(&r)[0].contains("Max-Age=0"));
    assert_eq!(r.header("clear-site-data"), Some("\"cache\""));
    assert_eq!(
        world.memory().keys().len(),
        2,
        "alice's other session stays"
    );
    let d = cookie(&other);
    let dashboard = url("/dashboard");
    forward(world.handle(get(&dashboard, Some(&d))));
    assert_eq!(
        reason(&reply(world.handle(get(&dashboard, Some(&c))))),
        "revoked"
    );
}

#[test]
fn with_scope_all_ends_every_session_of_the_user_and_no_one_elses() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    world.session("alice", 60);
    let (bob, _) = world.session("alice:b", 60);
    let c = cookie(&token);
    let u = url("/.sessiongate/logout?scope=all");
    let r = reply(world.handle(logout(&u, &c, "application/json")));
    assert_eq!(r.status, 204);
    let keys = world.memory().keys();
    assert_eq!(
        keys.len(),
        2,
        "only the user whose id starts alike keeps a session: {keys:?}"
    );
    assert!(keys
        .iter()
        .all(|k| k.starts_with("s:") || k.starts_with("u:alice:b:")));
    let (b, d) = (cookie(&bob), url("/dashboard"));
    forward(world.handle(get(&d, Some(&b))));
}

#[test]
fn without_a_session_still_clears_the_cookie_and_must_be_a_post() {
    let world = World::new();
    let u = url("/.sessiongate/logout");
    let r = reply(world.handle(logout(&u, "", "application/json")));
    assert_eq!(r.status, 204);
    let cleared: Vec<_> = set_cookies(&r)
        .iter()
        .map(|c| c.split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(cleared, ["__Host-sg", "__Host-sg-bound"]);
    let r = reply(world.handle(get(&u, None)));
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    let cross = Inbound {
        origin: Some("https://evil.example"),
        ..logout(&u, "", "text/html")
    };
    assert_eq!(reply(world.handle(cross)).status, 403);
}

#[test]
fn the_origin_can_end_the_current_session_or_all_of_them() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/account/close"));
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let (
        Completion::Pass(Edits {
            set_cookies: cookies,
            headers,
            directives: true,
        }),
        log,
    ) = world.after(
        &fwd,
        Directives {
            login: None,
            logout: Some("current"),
        },
    )
    else {
        panic!()
    };
    assert!(cookies[0].contains("Max-Age=0"));
    assert!(headers.contains(&("clear-site-data", "\"cache\"".to_owned())));
    assert_eq!(log.event, Some("logout"));
    assert_eq!(world.memory().keys().len(), 2);

    let (token, _) = world.session("alice", 60);
    let c = cookie(&token);
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let (_, log) = world.after(
        &fwd,
        Directives {
            login: None,
            logout: Some("all"),
        },
    );
    assert_eq!(log.event, Some("logout_all"));
    assert!(world.memory().keys().is_empty());
}
