use super::*;

#[test]
fn ending_other_sessions_needs_a_recent_login() {
    let world = World::with(config_with(&[("REAUTH_AFTER", "15m")]));
    let (old_login, _) = world.session("alice", 16 * 60);
    let (_, other_id) = world.session("alice", 60);
    let c = cookie(&old_login);
    let u = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
    let api = Inbound {
        method: "DELETE",
        sec_fetch_site: Some("same-origin"),
        ..get(&u, Some(&c))
    };
    let r = reply(world.handle(api));
    assert_eq!(
        (r.status, reason(&r).as_str()),
        (403, "reauthentication_required")
    );
    let form = Inbound {
        method: "POST",
        sec_fetch_site: Some("same-origin"),
        accept: Some("text/html"),
        ..get(&u, Some(&c))
    };
    let r = reply(world.handle(form));
    assert_eq!(
        (r.status, r.header("location")),
        (
            303,
            Some("/login?return_to=/.sessiongate/sessions&max_age=900")
        )
    );
    let all = url("/.sessiongate/logout?scope=all");
    let r = reply(world.handle(Inbound {
        method: "POST",
        sec_fetch_site: Some("same-origin"),
        ..get(&all, Some(&c))
    }));
    assert_eq!(
        r.status, 403,
        "logging out everywhere ends other sessions too"
    );
    assert!(world
        .memory()
        .value(&session::record_key(&other_id.hash()))
        .is_some());
    let own = url("/.sessiongate/logout");
    let r = reply(world.handle(Inbound {
        method: "POST",
        sec_fetch_site: Some("same-origin"),
        ..get(&own, Some(&c))
    }));
    assert_eq!(r.status, 204, "ending one's own session never needs it");
}

#[test]
fn the_login_that_counts_is_when_the_user_authenticated_not_when_the_session_began() {
    let world = World::with(config_with(&[("REAUTH_AFTER", "15m")]));
    let (_, other_id) = world.session("alice", 60);
    // A session begun a minute ago from a single sign-on login of an hour ago.
    let handoff = jwt::sign(
        &HmacKey::new(HANDOFF_KEY.as_bytes()),
        &serde_json::json!({"sub": "alice", "exp": NOW + 60, "auth_time": NOW - 3600}),
    );
    let u = url("/login");
    let fwd = forward(world.handle(Inbound {
        method: "POST",
        ..get(&u, None)
    }));
    let (Completion::Pass(edits), _) = world.after(
        &fwd,
        Directives {
            login: Some(&handoff),
            logout: None,
        },
    ) else {
        panic!()
    };
    let c = cookie(token_in(&edits.set_cookies[0]));
    let u = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
    let r = reply(world.handle(Inbound {
        method: "DELETE",
        sec_fetch_site: Some("same-origin"),
        ..get(&u, Some(&c))
    }));
    assert_eq!(
        (r.status, reason(&r).as_str()),
        (403, "reauthentication_required")
    );
}

#[test]
fn a_recent_login_or_off_ends_them_at_once() {
    for (vars, age) in [(vec![], 60), (vec![("REAUTH_AFTER", "off")], 11 * 3600)] {
        let world = World::with(config_with(&vars));
        let (mine, _) = world.session("alice", age);
        let (_, other_id) = world.session("alice", 60);
        let c = cookie(&mine);
        let u = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
        let r = reply(world.handle(Inbound {
            method: "DELETE",
            sec_fetch_site: Some("same-origin"),
            ..get(&u, Some(&c))
        }));
        assert_eq!(r.status, 204);
    }
}
