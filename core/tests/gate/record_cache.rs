//! The isolate's copies of session records (DESIGN §14): a
//! record read once serves the session's later requests without a read,
//! the revocation check runs on every one, and every write or ending at
//! this isolate drops the copy at once.

use super::*;
use sessiongate_core::ledger::Cached;
use sessiongate_core::store::SessionStore;

/// Without the ledger, keeping records for a minute (its ceiling).
fn world() -> World {
    World::with(config_with(&[("RECORD_CACHE", "60")]))
}

/// A request for the dashboard: its status and reason, and the KV
/// reads it cost.
fn dashboard(world: &World, token: &str) -> (u16, String, usize) {
    let (c, u) = (cookie(token), url("/dashboard"));
    let before = world.counts().reads;
    let (status, why) = match world.handle(get(&u, Some(&c))).action {
        Action::Forward(_) => (200, String::new()),
        Action::Reply(r) => (r.status, reason(&r)),
    };
    (status, why, world.counts().reads - before)
}

fn served(world: &World, token: &str) -> usize {
    let (status, why, reads) = dashboard(world, token);
    assert_eq!((status, why.as_str()), (200, ""));
    reads
}

fn revoked(world: &World, token: &str) {
    let (status, why, reads) = dashboard(world, token);
    assert_eq!(
        (status, why.as_str(), reads),
        (401, "revoked", 1),
        "read again, and gone"
    );
}

fn unbacked(world: &World, id: &SessionId) {
    world
        .memory()
        .delete(&session::record_key(&id.hash()))
        .unwrap();
}

#[test]
fn a_record_read_once_serves_later_requests_without_a_read() {
    let world = world();
    let (token, _) = world.session("alice", 60);
    assert_eq!(served(&world, &token), 1, "a miss reads KV");
    assert_eq!(served(&world, &token), 0, "a hit does not");
    world.clock.advance(59);
    assert_eq!(served(&world, &token), 0);
    // The edge's own endpoints take the copy too, and see the same record.
    let c = cookie(&token);
    let r = reply(world.handle(get(&url("/.sessiongate/session"), Some(&c))));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (body["uid"].as_str(), body["claims"]["role"].as_str()),
        (Some("alice"), Some("admin"))
    );
    assert_eq!(world.counts().reads, 1);
    world.clock.advance(1);
    assert_eq!(
        served(&world, &token),
        1,
        "a copy at its lifetime is read again"
    );
    assert_eq!(world.record_cache.len(), 1);
}

#[test]
fn off_every_request_reads_kv() {
    for world in [
        World::new(),
        World::with(config_with(&[("RECORD_CACHE", "0")])),
        World::with(config_with_ledger(&[("RECORD_CACHE", "off")])),
    ] {
        assert_eq!(world.config.record_cache_s, 0);
        let (token, id) = world.session("alice", 60);
        assert_eq!(served(&world, &token), 1);
        assert_eq!(served(&world, &token), 1);
        unbacked(&world, &id);
        revoked(&world, &token);
        assert!(world.record_cache.is_empty());
    }
}

#[test]
fn with_the_ledger_records_are_kept_for_revocation_staleness_by_default() {
    let config = config_with_ledger(&[("REVOCATION_STALENESS", "10")]);
    let world = World::with(config);
    assert_eq!(world.config.record_cache_s, 10);
    let (token, _) = world.session("alice", 60);
    assert_eq!(served(&world, &token), 1);
    world.clock.advance(9);
    assert_eq!(served(&world, &token), 0);
    world.clock.advance(1);
    assert_eq!(served(&world, &token), 1);
}

#[test]
fn a_record_deleted_behind_the_edges_back_serves_until_the_bound_and_not_past_it() {
    let world = world();
    let (token, id) = world.session("alice", 60);
    served(&world, &token);
    unbacked(&world, &id);
    world.clock.advance(59);
    assert_eq!(served(&world, &token), 0, "the copy does not know");
    world.clock.advance(1);
    revoked(&world, &token);
}

#[test]
fn no_copy_outlives_the_records_absolute_deadline() {
    let world = world();
    // Begun 12 h less 30 s ago: 30 s left.
    let (token, id) = world.session("alice", 43_200 - 30);
    served(&world, &token);
    world.clock.advance(29);
    assert_eq!(served(&world, &token), 0);
    world.clock.advance(1);
    let (status, why, reads) = dashboard(&world, &token);
    assert_eq!((status, why.as_str(), reads), (401, "expired", 1));
    assert!(world
        .memory()
        .value(&session::record_key(&id.hash()))
        .is_none());
}

#[test]
fn the_revocation_check_runs_on_a_copy() {
    let config = config_with_ledger(&[("REVOCATION_STALENESS", "10")]);
    let world = World::with(config);
    let (token, id) = world.session("alice", 60);
    served(&world, &token);
    // The isolate learns of a revocation made elsewhere.
    let state =
        sessiongate_core::ledger::LedgerState::default().with_revoked(id.hash().to_string());
    world.ledger_cache.put(
        "alice",
        Cached {
            state,
            fetched_at: NOW,
        },
    );
    let (status, why, reads) = dashboard(&world, &token);
    assert_eq!((status, why.as_str(), reads), (401, "revoked", 0));
}

#[test]
fn every_ending_at_this_isolate_drops_the_copy_at_once() {
    let world = world();
    let fresh = |uid: &str| {
        let (token, id) = world.session(uid, 60);
        served(&world, &token);
        assert_eq!(served(&world, &token), 0, "cached");
        (token, id)
    };
    let post = |path: &str, token: &str| {
        let (c, u) = (cookie(token), url(path));
        reply(world.handle(Inbound {
            method: "POST",
            origin: Some(SITE),
            ..get(&u, Some(&c))
        }))
    };

    // Logout, and logout everywhere (a session only this isolate's copy knew).
    let (token, _) = fresh("alice");
    assert_eq!(post("/.sessiongate/logout", &token).status, 204);
    revoked(&world, &token);
    let (mine, _) = fresh("alice");
    let (other, _) = fresh("alice");
    assert_eq!(post("/.sessiongate/logout?scope=all", &mine).status, 204);
    revoked(&world, &other);

    // The origin's directives, current and all.
    for scope in ["current", "all"] {
        let (token, _) = fresh("bob");
        let (c, u) = (cookie(&token), url("/account"));
        let fwd = forward(world.handle(get(&u, Some(&c))));
        world.after(
            &fwd,
            Directives {
                login: None,
                logout: Some(scope),
            },
        );
        revoked(&world, &token);
    }

    // One of one's sessions ended from the list.
    let (mine, _) = fresh("carol");
    let (other, other_id) = fresh("carol");
    let ended = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
    let c = cookie(&mine);
    let r = reply(world.handle(Inbound {
        method: "DELETE",
        sec_fetch_site: Some("same-origin"),
        ..get(&ended, Some(&c))
    }));
    assert_eq!(r.status, 204);
    revoked(&world, &other);

    // The admin API.
    let (token, _) = fresh("dan");
    let u = url("/.sessiongate/admin/users/dan/sessions");
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let r = reply(world.handle(Inbound {
        method: "DELETE",
        authorization: Some(&bearer),
        ..get(&u, None)
    }));
    assert_eq!(r.status, 200);
    revoked(&world, &token);

    // A login replacing the session the browser came with.
    let (token, _) = fresh("erin");
    let (c, u) = (cookie(&token), url("/login"));
    let fwd = forward(world.handle(Inbound {
        method: "POST",
        ..get(&u, Some(&c))
    }));
    let handoff = jwt::sign(
        &HmacKey::new(HANDOFF_KEY.as_bytes()),
        &serde_json::json!({"sub": "erin", "exp": NOW + 60}),
    );
    world.after(
        &fwd,
        Directives {
            login: Some(&handoff),
            logout: None,
        },
    );
    revoked(&world, &token);
}

#[test]
fn the_session_limit_drops_the_copy_of_the_session_it_ends() {
    let world = World::with(config_with(&[
        ("RECORD_CACHE", "60"),
        ("MAX_SESSIONS_PER_USER", "1"),
    ]));
    let (oldest, _) = world.session("alice", 300);
    served(&world, &oldest);
    world.log_in("alice", None);
    revoked(&world, &oldest);
}

#[test]
fn a_read_answered_after_a_logout_here_is_not_kept() {
    let world = world();
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    // A request reads the record; the read is answered before the
    // logout deletes it, but reaches the gate after the logout is done.
    let (mut slow, step) = world.gate().start(&get(&u, Some(&c)), NOW);
    let Step::Store(ops) = step else {
        panic!("{step:?}")
    };
    let outcomes = perform(&world.store, &ops);
    let out = url("/.sessiongate/logout");
    let r = reply(world.handle(Inbound {
        method: "POST",
        origin: Some(SITE),
        ..get(&out, Some(&c))
    }));
    assert_eq!(r.status, 204);
    let step = slow.resume(world.gate(), Input::Store(outcomes));
    assert!(
        matches!(step, Step::Forward(_)),
        "served, as a read before the delete is"
    );
    assert!(world.record_cache.is_empty(), "but not kept");
    revoked(&world, &token);
}

#[test]
fn health_says_how_long_a_record_is_kept() {
    for (world, secs) in [(World::new(), 0), (world(), 60)] {
        let u = url("/.sessiongate/health");
        let r = reply(world.handle(get(&u, None)));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["record_cache_s"], secs);
    }
}

/// A logout whose delete is asked for, and whose answer never comes back
/// (the client went away): the copy is gone already, so the session is
/// read again, and found ended.
#[test]
fn an_ending_drops_the_copy_when_its_write_is_asked_for() {
    let world = world();
    let (token, id) = world.session("alice", 60);
    served(&world, &token);
    assert_eq!(served(&world, &token), 0, "cached");
    let (c, u) = (cookie(&token), url("/.sessiongate/logout"));
    let req = Inbound {
        method: "POST",
        origin: Some(SITE),
        ..get(&u, Some(&c))
    };
    let gate = world.gate();
    let (mut exchange, mut step) = gate.start(&req, world.clock.now());
    // Perform the reads; stop at the first step that deletes the record.
    loop {
        let Step::Store(ops) = step else {
            panic!("the logout finished without a delete: {step:?}")
        };
        if ops.iter().any(|op| matches!(op, Op::Delete { .. })) {
            break;
        }
        step = exchange.resume(gate, Input::Store(perform(&world.store, &ops)));
    }
    drop(exchange);
    // The delete landed at KV (another isolate's request did it, say).
    unbacked(&world, &id);
    revoked(&world, &token);
}
