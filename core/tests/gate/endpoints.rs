use super::*;

#[test]
fn session_describes_the_current_session() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/.sessiongate/session"));
    let r = reply(world.handle(get(&u, Some(&c))));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["uid"], "alice");
    assert_eq!(body["claims"]["role"], "admin");
    assert_eq!(body["email"], serde_json::Value::Null);
    assert_eq!(body["groups"], serde_json::json!([]));
    assert_eq!(body["auth_time"], NOW - 60);
    assert_eq!(body["iat"], NOW - 60);
    assert_eq!(body["abs_exp"], NOW - 60 + 43_200);
    assert_eq!(body["idle_exp"], NOW + 1800);
    assert_eq!(reply(world.handle(get(&u, None))).status, 401);
}

#[test]
fn a_user_lists_and_ends_their_own_sessions_only() {
    let world = World::new();
    let (mine, mine_id) = world.session("alice", 60);
    let (_, other_id) = world.session("alice", 120);
    let (_, bobs_id) = world.session("bob", 60);
    let c = cookie(&mine);
    let list = url("/.sessiongate/sessions");
    world.store.reset();
    let r = reply(world.handle(get(&list, Some(&c))));
    assert_eq!(
        world.counts(),
        Counts {
            reads: 1,
            lists: 1,
            ..Counts::default()
        }
    );
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["sid"], mine_id.hash().sid());

    let delete = |sid: String| {
        let u = url(&format!("/.sessiongate/sessions/{sid}"));
        reply(world.handle(Inbound {
            method: "DELETE",
            sec_fetch_site: Some("same-origin"),
            ..get(&u, Some(&c))
        }))
    };
    assert_eq!(
        delete(bobs_id.hash().sid()).status,
        404,
        "another user's session is not theirs to end"
    );
    let r = delete(other_id.hash().sid());
    assert_eq!(r.status, 204);
    assert!(set_cookies(&r).is_empty(), "the current session stays");
    assert!(world
        .memory()
        .value(&session::record_key(&other_id.hash()))
        .is_none());
    let r = delete(mine_id.hash().sid());
    assert!(
        set_cookies(&r)[0].contains("Max-Age=0"),
        "ending the current one clears its cookie"
    );
    assert!(world
        .memory()
        .value(&session::record_key(&bobs_id.hash()))
        .is_some());
}

#[test]
fn ending_one_of_ones_sessions_is_refused_cross_site() {
    let world = World::new();
    let (mine, _) = world.session("alice", 60);
    let (_, other_id) = world.session("alice", 60);
    let (c, u) = (
        cookie(&mine),
        url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid())),
    );
    let cross = Inbound {
        method: "DELETE",
        origin: Some("https://evil.example"),
        ..get(&u, Some(&c))
    };
    assert_eq!(reply(world.handle(cross)).status, 403);
    assert!(world
        .memory()
        .value(&session::record_key(&other_id.hash()))
        .is_some());
}

#[test]
fn health_reports_whether_kv_answers() {
    let world = World::new();
    let u = url("/.sessiongate/health");
    assert_eq!(reply(world.handle(get(&u, None))).status, 200);
    world.fail(Fail::Reads);
    assert_eq!(reply(world.handle(get(&u, None))).status, 503);
}

#[test]
fn unknown_reserved_paths_are_404_and_never_forwarded() {
    let world = World::new();
    for path in [
        "/.sessiongate",
        "/.sessiongate/",
        "/.sessiongate/nope",
        "/.sessiongate/admin/users",
    ] {
        let u = url(path);
        assert_eq!(reply(world.handle(get(&u, None))).status, 404, "{path}");
    }
}
