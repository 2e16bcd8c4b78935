use super::*;

#[test]
fn public_paths_are_forwarded_without_assertion_or_kv_read() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let c = format!("{}; theme=dark", cookie(&token));
    let u = url("/static/app.css");
    let fwd = forward(world.handle(get(&u, Some(&c))));
    assert!(fwd.headers.is_empty());
    assert_eq!(
        fwd.cookie,
        sessiongate_core::gate::CookieHeader::Replace("theme=dark".to_owned())
    );
    assert_eq!(world.counts().total(), 0);
}

#[test]
fn tricks_are_refused_or_stay_protected() {
    let world = World::new();
    for (path, status) in [
        ("/static/%2e%2e/admin", 400),
        ("/static/..%2fadmin", 400),
        ("/static/..;/admin", 400),
        ("/static/%252e%252e/admin", 400),
        ("/static%5c..%5cadmin", 400),
        ("/%EF%BD%81dmin/users", 400),
        ("/admin./users", 400),
        ("/admin%20/users", 400),
        ("//static/app.css", 401),
        ("/STATIC/app.css", 401),
        ("/static", 401),
    ] {
        let u = url(path);
        assert_eq!(reply(world.handle(get(&u, None))).status, status, "{path}");
    }
}

#[test]
fn the_origin_receives_the_normalised_path() {
    let world = World::new();
    let u = url("/static/%61pp.css?v=%2F");
    assert_eq!(
        forward(world.handle(get(&u, None))).url,
        "https://origin.internal/static/app.css?v=%2F"
    );
}

#[test]
fn unsafe_return_to_is_dropped_on_the_way_to_the_login_page() {
    let world = World::new();
    let u = url("/login?return_to=%2F%2Fevil.example&x=1");
    assert_eq!(
        forward(world.handle(get(&u, None))).url,
        "https://origin.internal/login?x=1"
    );
    let u = url("/login?return_to=%2Fdashboard");
    assert_eq!(
        forward(world.handle(get(&u, None))).url,
        "https://origin.internal/login?return_to=%2Fdashboard"
    );
}

#[test]
fn look_alikes_and_trailing_dots_are_refused_before_any_read_with_their_reason() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let c = cookie(&token);
    for (path, why) in [
        ("/%EF%BD%81dmin/users", "unicode_lookalike"),
        ("/\u{FF41}dmin/users", "unicode_lookalike"),
        ("/%C4%81dmin", "unicode_lookalike"),
        ("/admin./users", "trailing_dot_or_space"),
        ("/admin%20/users", "trailing_dot_or_space"),
        ("/settings/security.", "trailing_dot_or_space"),
    ] {
        let u = url(path);
        let decision = world.handle(get(&u, Some(&c)));
        assert_eq!(decision.log.reason, Some(why), "{path}");
        let r = reply(decision);
        assert_eq!((r.status, reason(&r).as_str()), (400, why), "{path}");
    }
    assert_eq!(world.counts().total(), 0);
    for fine in ["/wiki/Zo%C3%AB", "/%E6%96%87%E6%A1%A3", "/a.b/c.json"] {
        let u = url(fine);
        forward(world.handle(get(&u, Some(&c))));
    }
}
