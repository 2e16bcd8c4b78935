use super::*;

fn handoff(claims: serde_json::Value) -> String {
    jwt::sign(&HmacKey::new(HANDOFF_KEY.as_bytes()), &claims)
}

fn login_as(world: &World, cookie_header: Option<&str>, token: &str) -> (Completion, Log) {
    let u = url("/login");
    let req = Inbound {
        method: "POST",
        ..get(&u, cookie_header)
    };
    let fwd = forward(world.handle(req));
    world.after(
        &fwd,
        Directives {
            login: Some(token),
            logout: None,
        },
    )
}

#[test]
fn starts_a_session_with_one_cookie_a_record_and_an_index_entry() {
    let world = World::new();
    let token =
        handoff(serde_json::json!({"sub": "alice", "exp": NOW + 60, "claims": {"tenant": "t1"}}));
    let (completion, log) = login_as(&world, None, &token);
    let Completion::Pass(Edits {
        set_cookies: cookies,
        headers,
        directives: true,
    }) = completion
    else {
        panic!("{completion:?}")
    };
    let no_store = ("cache-control", "no-store".to_owned());
    assert_eq!(
        headers[0], no_store,
        "a response carrying a new session is never cached"
    );
    let (name, offer) = &headers[1];
    assert_eq!(*name, "secure-session-registration");
    assert!(
        offer.starts_with("(ES256);path=\"/.sessiongate/dbsc/register\";challenge=\"k1."),
        "{offer}"
    );
    assert_eq!(headers.len(), 2);
    assert_eq!(cookies.len(), 1);
    assert!(
        cookies[0].ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=43200"),
        "{}",
        cookies[0]
    );
    let session: Token = token_in(&cookies[0]).parse().unwrap();
    let hash = session.id().hash();
    let record =
        Record::from_json(&world.memory().value(&session::record_key(&hash)).unwrap()).unwrap();
    assert_eq!(
        (record.uid.as_str(), record.iat, record.abs_exp),
        ("alice", NOW, NOW + 43_200)
    );
    assert_eq!(record.claims.get("tenant").map(String::as_str), Some("t1"));
    assert_eq!(
        world.memory().ttl(&session::record_key(&hash)),
        Some(43_200)
    );
    assert_eq!(
        world.memory().ttl(&session::index_key("alice", &hash)),
        Some(43_200)
    );
    assert_eq!(log.event, Some("login"));
    assert_eq!(log.sid, Some(hash.sid()));
    assert_eq!(
        world.counts(),
        Counts {
            writes: 2,
            ..Counts::default()
        }
    );
}

#[test]
fn a_handoffs_email_groups_and_auth_time_reach_the_record_the_assertion_and_the_session() {
    let world = World::new();
    let token = handoff(serde_json::json!({
        "sub": "alice", "exp": NOW + 60, "email": "alice@example.com",
        "groups": ["admins", "staff"], "auth_time": NOW - 600,
    }));
    let (Completion::Pass(edits), _) = login_as(&world, None, &token) else {
        panic!()
    };
    let session: Token = token_in(&edits.set_cookies[0]).parse().unwrap();
    let stored = world
        .memory()
        .value(&session::record_key(&session.id().hash()))
        .unwrap();
    let record = Record::from_json(&stored).unwrap();
    assert_eq!(record.email.as_deref(), Some("alice@example.com"));
    assert_eq!(record.groups, ["admins", "staff"]);
    assert_eq!(
        (record.auth_time, record.iat),
        (Some(NOW - 600), NOW),
        "authenticated before the session began"
    );

    let c = cookie(token_in(&edits.set_cookies[0]));
    let claims = dashboard_assertion(&forward(world.handle(get(&url("/dashboard"), Some(&c)))));
    assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
    assert_eq!(claims.groups, ["admins", "staff"]);
    assert_eq!(claims.auth_time, NOW - 600);

    let u = url("/.sessiongate/session");
    let body: serde_json::Value =
        serde_json::from_str(&reply(world.handle(get(&u, Some(&c)))).body).unwrap();
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["groups"], serde_json::json!(["admins", "staff"]));
    assert_eq!(body["auth_time"], NOW - 600);
    assert_eq!(body["iat"], NOW);
}

#[test]
fn a_record_written_before_identity_still_authenticates() {
    let world = World::new();
    let id = SessionId::generate().unwrap();
    let hash = id.hash();
    // A record exactly as the previous version wrote it.
    let old = format!(
        r#"{{"v":1,"uid":"alice","iat":{},"abs_exp":{},"claims":{{"role":"admin"}}}}"#,
        NOW - 300,
        NOW + 3600
    );
    world
        .memory()
        .put(&session::record_key(&hash), &old, None, 3600)
        .unwrap();
    let c = cookie(&world.config.session_keys.mint(&id, NOW));
    let claims = dashboard_assertion(&forward(world.handle(get(&url("/dashboard"), Some(&c)))));
    assert_eq!(claims.auth_time, NOW - 300, "its iat");
    assert_eq!((claims.email, claims.groups), (None, Vec::new()));
    assert_eq!(
        world.memory().value(&session::record_key(&hash)),
        Some(old),
        "read, not rewritten"
    );
}

#[test]
fn ends_the_session_the_request_came_with() {
    let world = World::new();
    let (old, old_id) = world.session("mallory", 60);
    let c = cookie(&old);
    let (
        Completion::Pass(Edits {
            set_cookies: cookies,
            ..
        }),
        _,
    ) = login_as(
        &world,
        Some(&c),
        &handoff(serde_json::json!({"sub": "alice", "exp": NOW + 60})),
    )
    else {
        panic!()
    };
    let new: Token = token_in(&cookies[0]).parse().unwrap();
    assert_ne!(new.id(), &old_id);
    let keys = world.memory().keys();
    assert!(
        !keys.iter().any(|k| k.contains(&old_id.hash().to_string())),
        "old session gone: {keys:?}"
    );
    assert_eq!(
        keys.len(),
        2,
        "only the new record and its index entry: {keys:?}"
    );
}

#[test]
fn a_bad_handoff_is_logged_and_ignored() {
    let world = World::new();
    let other_key = jwt::sign(
        &HmacKey::new(ASSERTION_KEY.as_bytes()),
        &serde_json::json!({"sub": "a", "exp": NOW + 60}),
    );
    let cases = [
        (handoff(serde_json::json!({"exp": NOW + 60})), "missing_sub"),
        (
            handoff(serde_json::json!({"sub": "a", "exp": NOW + 121})),
            "exp_too_far_ahead",
        ),
        (
            handoff(serde_json::json!({"sub": "a", "exp": NOW - 1})),
            "expired",
        ),
        (other_key, "jwt_bad_signature"),
        ("not a jwt".to_owned(), "jwt_malformed"),
        (
            handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "email": "a"})),
            "bad_email",
        ),
        (
            handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "groups": [""]})),
            "bad_groups",
        ),
        (
            handoff(serde_json::json!({
                "sub": "a", "exp": NOW + 60,
                "groups": (0..65).map(|i| i.to_string()).collect::<Vec<_>>(),
            })),
            "too_many_groups",
        ),
        (
            handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "groups": ["g".repeat(2100)]})),
            "groups_too_large",
        ),
        (
            handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "auth_time": NOW + 1})),
            "auth_time_in_future",
        ),
        (
            handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "auth_time": "now"})),
            "bad_auth_time",
        ),
        (
            handoff(serde_json::json!({"sub": " alice ", "exp": NOW + 60})),
            "sub_surrounding_whitespace",
        ),
        (
            handoff(serde_json::json!({"sub": "alice\u{3000}", "exp": NOW + 60})),
            "sub_surrounding_whitespace",
        ),
        (
            handoff(serde_json::json!({"sub": "al\tice", "exp": NOW + 60})),
            "sub_control_character",
        ),
    ];
    for (token, detail) in cases {
        let (completion, log) = login_as(&world, None, &token);
        let untouched_but_the_header = Edits {
            directives: true,
            ..Edits::default()
        };
        assert_eq!(
            completion,
            Completion::Pass(untouched_but_the_header),
            "{detail}"
        );
        assert_eq!(log.event, Some("login_rejected"));
        assert_eq!(log.detail.as_deref(), Some(detail));
    }
    assert!(world.memory().keys().is_empty());
    assert_eq!(world.counts().total(), 0);
}

#[test]
fn a_store_failure_answers_503_and_sets_no_session() {
    let world = World::new();
    world.fail(Fail::Writes);
    let (completion, log) = login_as(
        &world,
        None,
        &handoff(serde_json::json!({"sub": "a", "exp": NOW + 60})),
    );
    let Completion::Replace(r) = completion else {
        panic!("{completion:?}")
    };
    assert_eq!(r.status, 503);
    assert!(set_cookies(&r)[0].contains("Max-Age=0"));
    assert_eq!(log.reason, Some("store_unavailable"));
}

#[test]
fn a_user_id_beyond_visible_ascii_reaches_the_origin_encoded_in_the_header_and_exact_in_the_assertion(
) {
    let world = World::new();
    for (uid, header) in [
        ("zoë", "UTF-8''zo%C3%AB"),
        ("日本", "UTF-8''%E6%97%A5%E6%9C%AC"),
        ("a b", "UTF-8''a%20b"),
        ("a,b", "a,b"),
        ("UTF-8''x", "UTF-8''UTF-8%27%27x"),
    ] {
        let (token, _) = world.session(uid, 60);
        let c = cookie(&token);
        let u = url("/dashboard");
        let fwd = forward(world.handle(get(&u, Some(&c))));
        let user = fwd
            .headers
            .iter()
            .find(|(n, _)| *n == "x-sessiongate-user")
            .map(|(_, v)| v.as_str());
        assert_eq!(user, Some(header), "{uid}");
        assert_eq!(
            sessiongate_core::user_header::decode(header).as_deref(),
            Some(uid)
        );
        assert_eq!(dashboard_assertion(&fwd).sub, uid);
    }
}
