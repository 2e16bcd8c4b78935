use super::*;
use sessiongate_core::gate::{Op, Outcome};
use sessiongate_core::oidc::form_encode;

const ISSUER: &str = "https://id.example.com";

fn world() -> World {
    World::with(config_with(&[
        ("OIDC_ISSUER", ISSUER),
        ("OIDC_CLIENT_ID", "app"),
        ("OIDC_CLIENT_SECRET", "s3cret"),
        ("OIDC_ALLOWED_DOMAINS", "example.com"),
    ]))
}

/// This location's Cache API holding the discovery document, fetched `age` seconds ago.
fn cache_discovery(world: &World, age: u64) {
    let url = format!("{ISSUER}/.well-known/openid-configuration");
    let body = serde_json::json!({
        "issuer": ISSUER,
        "authorization_endpoint": "https://id.example.com/authorize",
        "token_endpoint": "https://id.example.com/token",
        "jwks_uri": "https://id.example.com/jwks",
    })
    .to_string();
    let entry = serde_json::json!({ "at": NOW - age, "body": body }).to_string();
    let key = format!("https://oidc.sessiongate.invalid/{}", form_encode(&url));
    world.memory().cache_write(&key, &entry, 3600).unwrap();
}

fn start(world: &World) -> Reply {
    let u = url("/.sessiongate/oidc/start?return_to=%2Fdashboard");
    reply(world.handle(Inbound {
        accept: Some("text/html"),
        ..get(&u, None)
    }))
}

#[test]
fn a_login_redirect_goes_to_the_edge_start_which_goes_to_the_provider() {
    let world = world();
    let r = reply(world.handle(Inbound {
        accept: Some("text/html"),
        ..get(&url("/dashboard"), None)
    }));
    assert_eq!(
        r.header("location"),
        Some("/.sessiongate/oidc/start?return_to=/dashboard")
    );
    cache_discovery(&world, 60);
    let r = start(&world);
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap();
    assert!(
        location.starts_with("https://id.example.com/authorize?response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example.com%2F.sessiongate%2Foidc%2Fcallback&scope=openid%20email%20profile&state="),
        "{location}"
    );
    assert!(location.ends_with("&code_challenge_method=S256"));
    let state = set_cookies(&r)[0];
    assert!(state.starts_with("__Host-sg-oidc="), "{state}");
    assert!(state.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600"));
}

#[test]
fn a_copy_of_the_discovery_document_past_an_hour_is_not_used() {
    let world = world();
    cache_discovery(&world, 3600);
    // The provider is asked instead; the native driver has no network,
    // so the sign-in fails closed with a page that says why.
    let r = start(&world);
    assert_eq!(r.status, 502);
    assert!(
        r.body.contains("<code>provider_unavailable</code>"),
        "{}",
        r.body
    );
    assert!(
        set_cookies(&r).iter().all(|c| c.contains("Max-Age=0")),
        "no state is set"
    );
}

#[test]
fn a_callback_without_its_state_cookie_is_refused_before_any_io() {
    let world = world();
    let u = url("/.sessiongate/oidc/callback?code=c&state=s");
    let before = world.counts();
    let r = reply(world.handle(get(&u, None)));
    assert_eq!(
        (r.status, reason(&r).as_str()),
        (400, "state_cookie_missing")
    );
    assert_eq!(world.counts(), before);
    let backchannel = url("/.sessiongate/oidc/backchannel-logout");
    assert_eq!(reply(world.handle(get(&backchannel, None))).status, 405);
}

/// This location's Cache API holding the provider's keys: one RSA key,
/// `k1` (never used: the driver below finds every signature good).
fn cache_jwks(world: &World) {
    let body = serde_json::json!({
        "keys": [{ "kty": "RSA", "kid": "k1", "use": "sig", "n": "AQAB", "e": "AQAB" }],
    })
    .to_string();
    let entry = serde_json::json!({ "at": NOW, "body": body }).to_string();
    let key = format!(
        "https://oidc.sessiongate.invalid/{}",
        form_encode("https://id.example.com/jwks")
    );
    world.memory().cache_write(&key, &entry, 3600).unwrap();
}

/// A parameter of the provider URL a start sent the browser to.
fn param(location: &str, name: &str) -> String {
    let query = location.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_default()
        .to_owned()
}

/// An ID token as the provider would sign it (the signature is not
/// looked at: WebCrypto is the driver's, faked below).
fn id_token(claims: serde_json::Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let header = serde_json::json!({ "alg": "RS256", "kid": "k1" });
    format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A sign-in at the edge, as the JS driver would run it: the start
/// (with `query`), then the callback, the provider answering the code
/// with the ID token `claims` (plus `iss`, `aud`, `exp`, `iat`, `nonce`)
/// and WebCrypto finding its signature good. The callback's answer.
fn sign_in(world: &World, query: &str, claims: serde_json::Value) -> Reply {
    cache_discovery(world, 60);
    cache_jwks(world);
    let u = url(&format!(
        "/.sessiongate/oidc/start?return_to=%2Fadmin{query}"
    ));
    let started = reply(world.handle(Inbound {
        accept: Some("text/html"),
        ..get(&u, None)
    }));
    assert_eq!(started.status, 303, "{}", started.body);
    let location = started.header("location").unwrap();
    let mut claims = claims;
    claims.as_object_mut().unwrap().extend(
        serde_json::json!({
            "iss": ISSUER, "aud": "app", "exp": NOW + 300, "iat": NOW,
            "nonce": param(location, "nonce"),
        })
        .as_object()
        .unwrap()
        .clone(),
    );
    let token = id_token(claims);
    let state_cookie = set_cookies(&started)[0].split(';').next().unwrap();
    let u = url(&format!(
        "/.sessiongate/oidc/callback?code=c&state={}",
        param(location, "state")
    ));
    let req = Inbound {
        accept: Some("text/html"),
        ..get(&u, Some(state_cookie))
    };
    let (mut exchange, mut step) = world.gate().start(&req, world.clock.now());
    loop {
        step = match step {
            Step::Store(ops) => {
                let outcomes = ops
                    .iter()
                    .map(|op| match op {
                        Op::Fetch { url, .. } if url.ends_with("/token") => {
                            let body =
                                serde_json::json!({ "id_token": token, "access_token": "at" });
                            Outcome::Response {
                                status: 200,
                                body: body.to_string(),
                            }
                        }
                        Op::Verify { .. } => Outcome::Value(Some("valid".to_owned())),
                        other => perform(&world.store, std::slice::from_ref(other)).remove(0),
                    })
                    .collect();
                exchange.resume(world.gate(), Input::Store(outcomes))
            }
            Step::Finish(Answer::Reply(reply), _) => return reply,
            other => panic!("a sign-in neither forwards nor passes: {other:?}"),
        }
    }
}

/// The record of the session a sign-in's answer started.
fn signed_in_record(world: &World, r: &Reply) -> Record {
    let session = set_cookies(r)
        .into_iter()
        .find(|c| c.starts_with("__Host-sg="))
        .expect("a session cookie");
    let token: Token = token_in(session).parse().unwrap();
    let stored = world
        .memory()
        .value(&session::record_key(&token.id().hash()))
        .unwrap();
    Record::from_json(&stored).unwrap()
}

#[test]
fn a_sign_in_keeps_the_verified_email_the_groups_and_the_id_tokens_auth_time() {
    let world = world();
    let claims = serde_json::json!({
        "sub": "u1", "email": "alice@example.com", "email_verified": true,
        "groups": ["staff", "admins"], "auth_time": NOW - 100,
    });
    let r = sign_in(&world, "", claims);
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/admin")),
        "{}",
        r.body
    );
    let record = signed_in_record(&world, &r);
    assert_eq!(record.uid, "u1");
    assert_eq!(record.email.as_deref(), Some("alice@example.com"));
    assert_eq!(record.groups, ["staff", "admins"]);
    assert_eq!(record.auth_time, Some(NOW - 100));
    // Without an auth_time in the ID token, the sign-in is the login.
    let r = sign_in(
        &world,
        "",
        serde_json::json!({ "sub": "u2", "email": "bob@example.com", "email_verified": true }),
    );
    let record = signed_in_record(&world, &r);
    assert_eq!((record.auth_time, record.groups.len()), (Some(NOW), 0));
}

#[test]
fn an_unverified_email_is_not_kept_and_groups_past_the_bounds_are_refused() {
    let world = World::with(config_with(&[
        ("OIDC_ISSUER", ISSUER),
        ("OIDC_CLIENT_ID", "app"),
        ("OIDC_CLIENT_SECRET", "s3cret"),
        ("OIDC_ALLOWED_GROUPS", "staff"),
        ("OIDC_GROUPS_CLAIM", "roles"),
    ]));
    let claims = serde_json::json!({
        "sub": "u3", "email": "mallory@example.com", "email_verified": false,
        "roles": "staff",
    });
    let r = sign_in(&world, "", claims);
    assert_eq!(r.status, 303, "{}", r.body);
    let record = signed_in_record(&world, &r);
    assert_eq!(record.email, None);
    assert_eq!(record.groups, ["staff"], "one group, as a string");
    let before = world.memory().keys();
    let mut many: Vec<String> = (0..64).map(|i| format!("g{i}")).collect();
    many.push("staff".to_owned());
    let r = sign_in(
        &world,
        "",
        serde_json::json!({ "sub": "u4", "roles": many }),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("<code>too_many_groups</code>"),
        "{}",
        r.body
    );
    assert_eq!(world.memory().keys(), before, "no session");
}

#[test]
fn a_step_up_start_asks_the_provider_for_a_fresh_login() {
    let world = world();
    cache_discovery(&world, 60);
    let start = |query: &str| {
        let u = url(&format!(
            "/.sessiongate/oidc/start?return_to=%2Fadmin{query}"
        ));
        reply(world.handle(Inbound {
            accept: Some("text/html"),
            ..get(&u, None)
        }))
    };
    let r = start("&max_age=300");
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap();
    assert!(
        location.ends_with("&code_challenge_method=S256&prompt=login&max_age=300"),
        "{location}"
    );
    let plain = start("");
    let location = plain.header("location").unwrap();
    assert!(!location.contains("prompt=") && !location.contains("max_age="));
    for bad in ["-1", "5m", "1e3", "034560000", "99999999999", ""] {
        let r = start(&format!("&max_age={bad}"));
        assert_eq!(r.status, 400, "{bad:?}");
        assert!(
            r.body.contains("<code>max_age_invalid</code>"),
            "{}",
            r.body
        );
        assert!(set_cookies(&r).iter().all(|c| c.contains("Max-Age=0")));
    }
}

#[test]
fn a_step_up_callback_refuses_a_login_older_than_it_asked_for() {
    let world = world();
    let user = |auth_time: Option<u64>| {
        let mut claims = serde_json::json!({
            "sub": "u1", "email": "alice@example.com", "email_verified": true,
        });
        if let Some(at) = auth_time {
            claims["auth_time"] = at.into();
        }
        claims
    };
    for (auth_time, reason) in [
        (Some(NOW - 3600), "auth_time_too_old"),
        (Some(NOW - 300 - 61), "auth_time_too_old"),
        (None, "auth_time_missing"),
    ] {
        let r = sign_in(&world, "&max_age=300", user(auth_time));
        assert_eq!(r.status, 400, "{auth_time:?}");
        assert!(
            r.body.contains(&format!("<code>{reason}</code>")),
            "{auth_time:?}: {}",
            r.body
        );
        assert!(
            set_cookies(&r).iter().all(|c| !c.starts_with("__Host-sg=")),
            "no session"
        );
    }
    assert!(world.memory().keys().is_empty(), "nothing was written");
    // Within max_age, and its leeway for the clocks: signed in.
    let r = sign_in(&world, "&max_age=300", user(Some(NOW - 300 - 60)));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(signed_in_record(&world, &r).auth_time, Some(NOW - 360));
    // The same old login, without a max_age asked, is fine.
    let r = sign_in(&world, "", user(Some(NOW - 3600)));
    assert_eq!(r.status, 303, "{}", r.body);
}

#[test]
fn without_a_provider_the_endpoints_are_not_there() {
    let world = World::new();
    let r = reply(world.handle(get(&url("/.sessiongate/oidc/start"), None)));
    assert_eq!(r.status, 404);
}
