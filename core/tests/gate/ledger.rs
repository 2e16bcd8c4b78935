//! The revocation ledger (DESIGN §3), natively: the store keeps the ledger
//! and the location's Cache API as maps, and `Fail::Ledger` cuts it off.

use super::*;
use sessiongate_core::ledger::{cache_key, Cached};

fn world() -> World {
    let config = config_with_ledger(&[("REVOCATION_STALENESS", "10")]);
    World::with(config)
}

fn status(world: &World, token: &str) -> (u16, String) {
    let (c, u) = (cookie(token), url("/dashboard"));
    match world.handle(get(&u, Some(&c))).action {
        Action::Forward(_) => (200, String::new()),
        Action::Reply(r) => (r.status, reason(&r)),
    }
}

#[test]
fn a_first_request_reads_the_ledger_once_then_the_isolate_copy_serves() {
    let world = world();
    let (token, _) = world.session("alice", 60);
    world.store.reset();
    assert_eq!(status(&world, &token).0, 200);
    let first = world.counts();
    assert_eq!(
        (first.reads, first.ledger, first.cache),
        (1, 1, 1),
        "{first:?}"
    );
    world.store.reset();
    world.clock.advance(4);
    assert_eq!(status(&world, &token).0, 200);
    assert_eq!(
        (world.counts().ledger, world.counts().cache),
        (0, 0),
        "fresh in memory"
    );
}

#[test]
fn a_session_ended_elsewhere_is_refused_once_the_copy_is_stale() {
    let world = world();
    let (token, id) = world.session("alice", 60);
    assert_eq!(status(&world, &token).0, 200);
    // Another location ends it: the ledger has it, this location's KV not yet.
    world
        .memory()
        .ledger_write(
            "alice",
            sessiongate_core::store::LedgerChange::Revoke {
                hash: id.hash().to_string(),
            },
        )
        .unwrap();
    world.clock.advance(4);
    assert_eq!(status(&world, &token).0, 200, "within half the bound");
    world.clock.advance(6);
    assert_eq!(
        status(&world, &token),
        (401, "revoked".to_owned()),
        "a copy at the bound is never used"
    );
}

#[test]
fn past_half_the_bound_the_answer_asks_for_a_refresh_in_the_background() {
    let world = world();
    let (token, _) = world.session("alice", 60);
    status(&world, &token);
    world.clock.advance(5);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let mut exchange = fwd.exchange.borrow_mut().take().unwrap();
    let head = OriginHead {
        status: 200,
        ..OriginHead::default()
    };
    assert!(matches!(
        exchange.resume(world.gate(), Input::Origin(Ok(head))),
        Step::Finish(Answer::Pass(_), _)
    ));
    let background = exchange.take_background();
    assert_eq!(
        background,
        [sessiongate_core::gate::Op::LedgerRead {
            uid: "alice".into()
        }]
    );
    let outcomes = perform(&world.store, &background);
    let writes = world.gate().absorb(&background, outcomes, NOW + 5);
    assert!(
        matches!(&writes[..], [sessiongate_core::gate::Op::CacheWrite { key, .. }] if *key == cache_key("alice"))
    );
}

#[test]
fn another_isolates_copy_in_the_cache_api_is_used_while_fresh() {
    let world = world();
    let (token, _) = world.session("alice", 60);
    let cached = Cached {
        state: Default::default(),
        fetched_at: NOW - 3,
    };
    world
        .memory()
        .cache_write(
            &cache_key("alice"),
            &serde_json::to_string(&cached).unwrap(),
            10,
        )
        .unwrap();
    world.store.reset();
    assert_eq!(status(&world, &token).0, 200);
    assert_eq!((world.counts().cache, world.counts().ledger), (1, 0));
}

#[test]
fn an_unreachable_ledger_fails_closed_when_no_copy_is_fresh() {
    let world = world();
    let (token, _) = world.session("alice", 60);
    world.fail(Fail::Ledger);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let decision = world.handle(get(&u, Some(&c)));
    assert_eq!(decision.log.reason, Some("ledger_unavailable"));
    let r = reply(decision);
    assert_eq!(r.status, 503);
    assert_eq!(r.body, r#"{"error":"revocation_ledger_unavailable"}"#);
}

#[test]
fn every_way_a_session_ends_writes_the_ledger_before_answering() {
    let world = world();
    let (token, id) = world.session("alice", 60);
    let (other, other_id) = world.session("alice", 60);
    let c = cookie(&token);
    let u = url("/.sessiongate/logout");
    let r = reply(world.handle(Inbound {
        method: "POST",
        sec_fetch_site: Some("same-origin"),
        ..get(&u, Some(&c))
    }));
    assert_eq!(r.status, 204);
    assert!(world
        .memory()
        .ledger("alice")
        .revoked
        .contains(&id.hash().to_string()));

    let c = cookie(&other);
    let all = url("/.sessiongate/logout?scope=all");
    world.handle(Inbound {
        method: "POST",
        sec_fetch_site: Some("same-origin"),
        ..get(&all, Some(&c))
    });
    let state = world.memory().ledger("alice");
    assert_eq!(state.revoked_before, Some(NOW));
    assert!(
        state.revoked.contains(&other_id.hash().to_string()),
        "a session of this very second is named too"
    );

    world.fail(Fail::Ledger);
    let (third, _) = world.session("alice", 0);
    let c = cookie(&third);
    let r = reply(world.handle(Inbound {
        method: "POST",
        sec_fetch_site: Some("same-origin"),
        ..get(&u, Some(&c))
    }));
    assert_eq!(r.status, 503, "no success before the ledger has it");
}
