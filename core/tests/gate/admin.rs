use super::*;

fn admin<'a>(method: &'a str, u: &'a str, authorization: Option<&'a str>) -> Inbound<'a> {
    Inbound {
        method,
        authorization,
        ..get(u, None)
    }
}

#[test]
fn needs_the_bearer_token() {
    let world = World::new();
    let u = url("/.sessiongate/admin/users/alice/sessions");
    let r = reply(world.handle(admin("GET", &u, None)));
    assert_eq!(
        (r.status, r.header("www-authenticate")),
        (401, Some("Bearer"))
    );
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    assert_eq!(
        reply(world.handle(admin("GET", &u, Some(&wrong)))).status,
        403
    );
    assert_eq!(
        reply(world.handle(admin("GET", &u, Some(ADMIN_TOKEN)))).status,
        401,
        "the scheme is required"
    );
    let in_query = url(&format!(
        "/.sessiongate/admin/users/alice/sessions?token={ADMIN_TOKEN}"
    ));
    assert_eq!(
        reply(world.handle(admin("GET", &in_query, None))).status,
        401
    );
    assert_eq!(world.counts().total(), 0);
}

#[test]
fn lists_and_revokes_a_users_sessions() {
    let world = World::new();
    let (_, a) = world.session("alice@example.com", 60);
    world.session("alice@example.com", 120);
    world.session("bob", 60);
    let bearer = format!("bearer {ADMIN_TOKEN}");
    let u = url("/.sessiongate/admin/users/alice%40example.com/sessions");
    let r = reply(world.handle(admin("GET", &u, Some(&bearer))));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions
        .iter()
        .any(|s| s["sid"] == a.hash().sid() && s["iat"] == NOW - 60));
    assert_eq!(
        world.counts(),
        Counts {
            lists: 1,
            ..Counts::default()
        },
        "listing reads no record"
    );

    let r = reply(world.handle(admin("DELETE", &u, Some(&bearer))));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["revoked"], 2);
    assert_eq!(world.memory().keys().len(), 2, "bob keeps his session");
}

#[test]
fn is_off_without_an_admin_token() {
    let mut config = config_with(&[]);
    config.admin_token = None;
    let world = World::with(config);
    let u = url("/.sessiongate/admin/users/alice/sessions");
    let auth = format!("Bearer {ADMIN_TOKEN}");
    assert_eq!(
        reply(world.handle(admin("GET", &u, Some(&auth)))).status,
        404
    );
}
