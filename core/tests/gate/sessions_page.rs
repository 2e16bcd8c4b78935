use super::*;

#[test]
fn lists_sessions_with_their_devices_and_forms() {
    let world = World::new();
    let (mine, mine_id) = world.session("alice", 60);
    let (_, other_id) = world.session("alice", 3600);
    let c = cookie(&mine);
    let u = url("/.sessiongate/sessions");
    let r = reply(world.handle(navigation(&u, &c)));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r
        .header("content-security-policy")
        .is_some_and(|csp| csp.contains("frame-ancestors 'none'")));
    let html = &r.body;
    assert!(html.contains("(this device)"));
    assert!(html.contains(&format!(
        "action=\"/.sessiongate/sessions/{}\"",
        other_id.hash().sid()
    )));
    assert!(
        !html.contains(&format!("/.sessiongate/sessions/{}", mine_id.hash().sid())),
        "no End button for this device"
    );
    assert!(html.contains("action=\"/.sessiongate/logout?scope=all\""));
    let json = reply(world.handle(get(&u, Some(&c))));
    assert_eq!(json.header("content-type"), Some("application/json"));
}

#[test]
fn a_form_post_ends_another_session_and_comes_back_to_the_page() {
    let world = World::new();
    let (mine, _) = world.session("alice", 60);
    let (_, other_id) = world.session("alice", 600);
    let c = cookie(&mine);
    let u = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
    let form = Inbound {
        method: "POST",
        origin: Some(SITE),
        accept: Some("text/html"),
        ..get(&u, Some(&c))
    };
    let r = reply(world.handle(form));
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/.sessiongate/sessions"))
    );
    assert!(world
        .memory()
        .value(&session::record_key(&other_id.hash()))
        .is_none());
    let cross = Inbound {
        method: "POST",
        origin: Some("https://evil.example"),
        ..get(&u, Some(&c))
    };
    assert_eq!(reply(world.handle(cross)).status, 403);
}

#[test]
fn the_device_a_login_came_from_is_kept_in_the_index_not_the_agent() {
    let world = World::new();
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
    world.log_in("alice", Some(ua));
    let (_, listed) = world
        .memory()
        .list("u:alice:", None)
        .unwrap()
        .0
        .into_iter()
        .map(|l| (l.name, l.metadata.unwrap()))
        .next()
        .unwrap();
    let meta: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(meta["device"], "Firefox on Linux");
    assert!(!listed.contains("Gecko"));
}
