//! `MODE=report`: every refusal of a protected request, forwarded instead
//! with its verdict and no identity; the edge's hygiene unchanged.

use super::*;
use sessiongate_core::gate::VERDICT_HEADER;

fn report() -> World {
    World::with(config_with(&[
        ("MODE", "report"),
        ("BAD_TOKEN_LIMIT", "1/1m"),
    ]))
}

#[test]
fn each_refusal_is_forwarded_with_its_verdict_and_no_identity() {
    let world = report();
    let (token, id) = world.session("alice", 60);
    let forged = ring(&[("k1", "not-the-key-not-the-key-not-the-key")]).mint(&id, NOW);
    let stale = world.config.session_keys.mint(&id, NOW - 1800);
    let unknown = world
        .config
        .session_keys
        .mint(&SessionId::generate().unwrap(), NOW);
    let u = url("/dashboard");
    let (c_forged, c_stale, c_unknown, c_good) = (
        cookie(&forged),
        cookie(&stale),
        cookie(&unknown),
        cookie(&token),
    );
    let cases: Vec<(Inbound<'_>, &str)> = vec![
        (get(&u, None), "missing"),
        (get(&u, Some(&c_stale)), "expired"),
        (get(&u, Some(&c_unknown)), "revoked"),
        (
            Inbound {
                method: "POST",
                origin: Some("https://evil.example"),
                ..get(&u, Some(&c_good))
            },
            "cross_site",
        ),
        (
            Inbound {
                client: Some("203.0.113.7"),
                ..get(&u, Some(&c_forged))
            },
            "invalid",
        ),
        (
            Inbound {
                client: Some("203.0.113.7"),
                ..get(&u, Some(&c_good))
            },
            "throttled",
        ),
    ];
    for (req, reason) in cases {
        let fwd = forward(world.handle(req));
        assert_eq!(
            fwd.headers,
            [(VERDICT_HEADER, format!("deny; reason={reason}"))],
            "no assertion, no user header"
        );
        let (completion, log) = world.after(&fwd, Directives::default());
        assert_eq!(completion, Completion::Pass(Edits::default()), "{reason}");
        assert_eq!(
            (log.decision, log.reason, log.mode, log.status),
            ("reject", Some(reason), Some("report"), 200)
        );
    }
}

#[test]
fn a_store_failure_is_forwarded_as_a_verdict_too() {
    let world = report();
    let (token, _) = world.session("alice", 60);
    world.fail(Fail::Everything);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let fwd = forward(world.handle(get(&u, Some(&c))));
    assert_eq!(
        fwd.headers,
        [(VERDICT_HEADER, "deny; reason=store_unavailable".to_owned())]
    );
}

#[test]
fn an_authenticated_request_carries_its_identity_and_allow() {
    let world = report();
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let names: Vec<&str> = fwd.headers.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [assertion::HEADER, "x-sessiongate-user", VERDICT_HEADER]
    );
    assert_eq!(fwd.headers[2].1, "allow");
}

#[test]
fn malformed_paths_and_the_edges_own_endpoints_are_refused_as_ever() {
    let world = report();
    let u = url("/static/..%2fadmin");
    assert_eq!(reply(world.handle(get(&u, None))).status, 400);
    let u = url("/.sessiongate/session");
    assert_eq!(reply(world.handle(get(&u, None))).status, 401);
    let u = url("/.sessiongate/logout");
    let cross = Inbound {
        method: "POST",
        origin: Some("https://evil.example"),
        ..get(&u, None)
    };
    assert_eq!(reply(world.handle(cross)).status, 403);
}

#[test]
fn enforce_mode_refuses_the_same_requests() {
    let world = World::new();
    let u = url("/dashboard");
    let r = reply(world.handle(get(&u, None)));
    assert_eq!(r.status, 401);
    assert!(r.header(VERDICT_HEADER).is_none());
}
