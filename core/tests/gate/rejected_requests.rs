use super::*;

#[test]
fn without_a_cookie_get_401_missing_or_a_redirect_to_login() {
    let world = World::new();
    let u = url("/dashboard?tab=1");
    let r = reply(world.handle(get(&u, None)));
    assert_eq!(r.status, 401);
    assert_eq!(reason(&r), "missing");
    assert_eq!(r.header("www-authenticate"), Some("Session"));
    assert!(set_cookies(&r).is_empty());
    let nav = Inbound {
        accept: Some("text/html,*/*"),
        ..get(&u, None)
    };
    let r = reply(world.handle(nav));
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("/login?return_to=/dashboard%3Ftab%3D1")
    );
    let head = Inbound {
        method: "HEAD",
        accept: Some("text/html"),
        ..get(&u, None)
    };
    assert_eq!(
        reply(world.handle(head)).status,
        303,
        "HEAD navigates like GET"
    );
    let post = Inbound {
        method: "POST",
        accept: Some("text/html"),
        ..get(&u, None)
    };
    assert_eq!(
        reply(world.handle(post)).status,
        401,
        "only GET and HEAD are navigations"
    );
    assert_eq!(world.counts().total(), 0);
}

#[test]
fn with_forged_malformed_or_idle_expired_tokens_cost_no_kv_operation() {
    let world = World::new();
    let (token, id) = world.session("alice", 60);
    let forged = ring(&[("k1", "not-the-key-not-the-key-not-the-key")]).mint(&id, NOW);
    let stale = world.config.session_keys.mint(&id, NOW - 1800);
    let future = world.config.session_keys.mint(&id, NOW + 61);
    let cases = [
        (forged, "invalid"),
        (token[..token.len() - 1].to_owned(), "invalid"),
        ("garbage\u{1}\u{7f}ÿ".to_owned(), "invalid"),
        ("x".repeat(10_000), "invalid"),
        (future, "invalid"),
        (stale, "expired"),
    ];
    let u = url("/dashboard");
    for (token, expected) in cases {
        let c = cookie(&token);
        let r = reply(world.handle(get(&u, Some(&c))));
        assert_eq!(
            (r.status, reason(&r).as_str()),
            (401, expected),
            "{}",
            &token[..token.len().min(40)]
        );
        assert!(
            set_cookies(&r)[0].contains("Max-Age=0"),
            "a failed cookie is cleared"
        );
    }
    assert_eq!(world.counts().total(), 0);
}

#[test]
fn with_two_session_cookies_are_invalid() {
    let world = World::new();
    let (a, _) = world.session("alice", 60);
    let (b, _) = world.session("bob", 60);
    let c = format!("{}; {}", cookie(&a), cookie(&b));
    let u = url("/dashboard");
    let r = reply(world.handle(get(&u, Some(&c))));
    assert_eq!(reason(&r), "invalid");
    let same_twice = format!("{}, {}", cookie(&a), cookie(&a));
    assert_eq!(
        reason(&reply(world.handle(get(&u, Some(&same_twice))))),
        "invalid"
    );
    assert_eq!(world.counts().total(), 0);
}

#[test]
fn whose_record_is_gone_are_revoked_after_one_read() {
    let world = World::new();
    let token = world
        .config
        .session_keys
        .mint(&SessionId::generate().unwrap(), NOW);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let r = reply(world.handle(get(&u, Some(&c))));
    assert_eq!(reason(&r), "revoked");
    assert_eq!(
        world.counts(),
        Counts {
            reads: 1,
            ..Counts::default()
        }
    );
}

#[test]
fn past_the_absolute_deadline_are_expired_and_the_record_deleted() {
    let world = World::new();
    let (_, id) = world.session("alice", 43_200);
    let token = world.config.session_keys.mint(&id, NOW);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let r = reply(world.handle(get(&u, Some(&c))));
    assert_eq!(reason(&r), "expired");
    assert!(
        world.memory().keys().is_empty(),
        "record and index entry deleted: {:?}",
        world.memory().keys()
    );
}

#[test]
fn idle_expiry_starts_exactly_at_the_idle_deadline() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    world.clock.advance(1799);
    forward(world.handle(get(&u, Some(&c))));
    world.clock.advance(1);
    assert_eq!(reason(&reply(world.handle(get(&u, Some(&c))))), "expired");
}
