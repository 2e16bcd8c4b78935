use super::*;

fn from<'a>(u: &'a str, c: &'a str, client: &'a str) -> Inbound<'a> {
    Inbound {
        client: Some(client),
        ..get(u, Some(c))
    }
}

#[test]
fn a_client_past_the_limit_gets_429_before_any_token_check_or_kv_read() {
    let world = World::with(config_with(&[("BAD_TOKEN_LIMIT", "3/1m")]));
    let (good, _) = world.session("alice", 60);
    let u = url("/dashboard");
    let bad = cookie("sg1.k1.garbage");
    for _ in 0..3 {
        assert_eq!(
            reply(world.handle(from(&u, &bad, "203.0.113.7"))).status,
            401
        );
    }
    world.store.reset();
    let c = cookie(&good);
    let r = reply(world.handle(from(&u, &c, "203.0.113.7")));
    assert_eq!((r.status, r.header("retry-after")), (429, Some("60")));
    assert_eq!(
        world.counts().total(),
        0,
        "no KV read for a throttled client"
    );
    forward(world.handle(from(&u, &c, "198.51.100.1")));
    world.clock.advance(60);
    forward(world.handle(from(&u, &c, "203.0.113.7")));
}

#[test]
fn only_invalid_tokens_count() {
    let world = World::with(config_with(&[("BAD_TOKEN_LIMIT", "1/1m")]));
    let (_, id) = world.session("alice", 60);
    let stale = cookie(&world.config.session_keys.mint(&id, NOW - 3600));
    let u = url("/dashboard");
    for _ in 0..3 {
        assert_eq!(
            reason(&reply(world.handle(from(&u, &stale, "203.0.113.7")))),
            "expired"
        );
        assert_eq!(
            reply(world.handle(Inbound {
                client: Some("203.0.113.7"),
                ..get(&u, None)
            }))
            .status,
            401
        );
    }
}

#[test]
fn wrong_admin_tokens_count_too() {
    let world = World::with(config_with(&[("BAD_TOKEN_LIMIT", "2/1m")]));
    let u = url("/.sessiongate/admin/users/alice/sessions");
    let wrong = "Bearer wrong-token-wrong-token-wrong-token";
    let right = format!("Bearer {ADMIN_TOKEN}");
    let admin = |auth| Inbound {
        authorization: Some(auth),
        client: Some("203.0.113.7"),
        ..get(&u, None)
    };
    assert_eq!(reply(world.handle(admin(wrong))).status, 403);
    assert_eq!(reply(world.handle(admin(wrong))).status, 403);
    assert_eq!(reply(world.handle(admin(&right))).status, 429);
}

#[test]
fn off_means_never() {
    let world = World::with(config_with(&[("BAD_TOKEN_LIMIT", "off")]));
    let u = url("/dashboard");
    let bad = cookie("sg1.k1.garbage");
    for _ in 0..100 {
        assert_eq!(
            reply(world.handle(from(&u, &bad, "203.0.113.7"))).status,
            401
        );
    }
}
