//! Machine clients (DESIGN §15): access tokens checked at the edge, the
//! issuer's documents and the signature's check answered as the driver
//! would, and no session read or written.

use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sessiongate_core::assertion::Kind;
use sessiongate_core::gate::{CookieHeader, Op, Outcome, USER_HEADER, VERDICT_HEADER};
use sessiongate_core::oidc::metadata::ProviderCache;

const ISSUER: &str = "https://id.example.com";
const API: &str = "https://api.example.com";
const POLICY: &str = r#"[
    {"name": "deploy", "paths": ["/api/deploy"], "allow": [{"clients": ["ci-bot"], "methods": ["POST"]}]},
    {"name": "reports", "paths": ["/api/reports/*"], "allow": [{"any_user": true}, {"scopes": ["reports:read"]}]},
    {"name": "fresh", "paths": ["/api/fresh"], "allow": [{"clients": ["ci-bot"]}], "max_auth_age": "5m"}
]"#;

fn world(extra: &[(&str, &str)]) -> World {
    let base = [
        ("BEARER_AUDIENCE", API),
        ("BEARER_ISSUER", ISSUER),
        ("POLICY", POLICY),
    ];
    World::with(config_with(&[&base[..], extra].concat()))
}

fn claims() -> serde_json::Value {
    serde_json::json!({
        "iss": ISSUER, "aud": API, "sub": "ci-bot", "client_id": "ci-bot",
        "scope": "deploy reports:read", "iat": NOW - 30, "exp": NOW + 570, "jti": "t-1",
    })
}

/// A token with `claims` changed (null removes), its header `typ` and
/// `kid` as given; the signature is whatever the stand-in driver says.
fn token_with(typ: &str, kid: &str, changes: serde_json::Value) -> String {
    let mut claims = claims();
    for (k, v) in changes.as_object().unwrap() {
        match v {
            serde_json::Value::Null => claims.as_object_mut().unwrap().remove(k),
            v => claims.as_object_mut().unwrap().insert(k.clone(), v.clone()),
        };
    }
    let header = serde_json::json!({ "alg": "RS256", "typ": typ, "kid": kid });
    let enc = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.c2lnbmF0dXJl", enc(&header), enc(&claims))
}

fn token() -> String {
    token_with("at+jwt", "k1", serde_json::json!({}))
}

/// The issuer as the driver reaches it (up or down, the keys it
/// lists, WebCrypto's verdict on every signature), and the isolate's
/// copies of its documents.
struct Issuer {
    up: bool,
    kids: RefCell<Vec<&'static str>>,
    valid: bool,
    fetched: RefCell<Vec<String>>,
    copies: ProviderCache,
}

impl Issuer {
    fn new() -> Self {
        Self {
            up: true,
            kids: RefCell::new(vec!["k1"]),
            valid: true,
            fetched: RefCell::new(Vec::new()),
            copies: ProviderCache::default(),
        }
    }

    fn jwks_fetches(&self) -> usize {
        let fetched = self.fetched.borrow();
        fetched.iter().filter(|u| u.ends_with("/jwks")).count()
    }

    fn answer(&self, world: &World, op: &Op) -> Outcome {
        match op {
            Op::Fetch { url, .. } if !self.up => {
                self.fetched.borrow_mut().push(url.clone());
                Outcome::Failed("connection refused".into())
            }
            Op::Fetch { url, .. } => {
                self.fetched.borrow_mut().push(url.clone());
                let body = if url.ends_with("/openid-configuration") {
                    serde_json::json!({
                        "issuer": ISSUER,
                        "authorization_endpoint": format!("{ISSUER}/authorize"),
                        "token_endpoint": format!("{ISSUER}/token"),
                        "jwks_uri": format!("{ISSUER}/jwks"),
                    })
                } else {
                    let keys: Vec<_> = self
                        .kids
                        .borrow()
                        .iter()
                        .map(|kid| serde_json::json!({ "kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB" }))
                        .collect();
                    serde_json::json!({ "keys": keys })
                };
                Outcome::Response {
                    status: 200,
                    body: body.to_string(),
                }
            }
            Op::Verify { .. } if self.valid => Outcome::Value(Some("valid".into())),
            Op::Verify { .. } => Outcome::Value(None),
            other => perform(&world.store, std::slice::from_ref(other)).remove(0),
        }
    }
}

/// Drives `req` up to the origin or the edge's answer.
fn handle(world: &World, issuer: &Issuer, req: Inbound<'_>) -> (Step, Log) {
    let gate = Gate {
        provider_cache: Some(&issuer.copies),
        ..world.gate()
    };
    let (mut exchange, mut step) = gate.start(&req, world.clock.now());
    loop {
        step = match step {
            Step::Store(ops) => {
                let outcomes = ops.iter().map(|op| issuer.answer(world, op)).collect();
                exchange.resume(gate, Input::Store(outcomes))
            }
            Step::Finish(answer, log) => return (Step::Finish(answer, log.clone()), log),
            forward => return (forward, Log::default()),
        }
    }
}

fn request<'a>(method: &'a str, u: &'a str, authorization: &'a str) -> Inbound<'a> {
    Inbound {
        method,
        authorization: Some(authorization),
        ..get(u, None)
    }
}

fn forwarded(step: Step) -> Forward {
    match step {
        Step::Forward(forward) => forward,
        other => panic!("not forwarded: {other:?}"),
    }
}

fn replied(step: Step) -> Reply {
    match step {
        Step::Finish(Answer::Reply(reply), _) => reply,
        other => panic!("no reply: {other:?}"),
    }
}

#[test]
fn a_named_client_reaches_the_origin_with_an_assertion_and_no_session() {
    let world = world(&[]);
    let issuer = Issuer::new();
    let u = url("/api/deploy");
    let bearer = format!("Bearer {}", token());
    let (step, _) = handle(&world, &issuer, request("POST", &u, &bearer));
    let forward = forwarded(step);
    let header = |name: &str| {
        forward
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header(USER_HEADER).as_deref(), Some("ci-bot"));
    let expected = Expected {
        audience: "app",
        method: "POST",
        path_and_query: "/api/deploy",
        now: NOW,
        leeway: 0,
    };
    let key = HmacKey::new(ASSERTION_KEY.as_bytes());
    let claims =
        AssertionClaims::verify(&key, &header(assertion::HEADER).unwrap(), &expected).unwrap();
    assert_eq!(claims.kind, Kind::Bearer);
    assert_eq!(claims.client_id.as_deref(), Some("ci-bot"));
    assert_eq!(claims.scope.as_deref(), Some("deploy reports:read"));
    assert_eq!(
        (claims.sub.as_str(), claims.auth_time),
        ("ci-bot", NOW - 30)
    );
    assert_eq!(claims.sid.len(), 16);
    assert!(
        forward.remove.iter().any(|h| h == "authorization"),
        "the token stays at the edge"
    );
    let counts = world.counts();
    assert_eq!(
        (counts.reads, counts.writes, counts.deletes, counts.lists),
        (0, 0, 0, 0),
        "no session record is read or written"
    );
    assert_eq!(
        *issuer.fetched.borrow(),
        [
            format!("{ISSUER}/.well-known/openid-configuration"),
            format!("{ISSUER}/jwks")
        ]
    );
}

#[test]
fn the_token_decides_over_a_session_cookie_which_is_stripped() {
    let world = world(&[]);
    let issuer = Issuer::new();
    let (session, _) = world.session("alice", 60);
    let c = cookie(&session);
    let u = url("/api/deploy");
    let bearer = format!("Bearer {}", token());
    let req = Inbound {
        cookie: Some(&c),
        ..request("POST", &u, &bearer)
    };
    let forward = forwarded(handle(&world, &issuer, req).0);
    assert!(forward
        .headers
        .iter()
        .any(|(n, v)| *n == USER_HEADER && v == "ci-bot"));
    assert_eq!(forward.cookie, CookieHeader::Remove);
    // A bad token with a good session: refused, the session unused.
    let expired = format!(
        "Bearer {}",
        token_with("at+jwt", "k1", serde_json::json!({ "exp": NOW - 120 }))
    );
    let req = Inbound {
        cookie: Some(&c),
        ..request("POST", &u, &expired)
    };
    assert_eq!(replied(handle(&world, &issuer, req).0).status, 401);
    assert_eq!(world.counts().reads, 0);
}

#[test]
fn a_bad_token_is_401_invalid_token_even_for_a_browser_and_the_log_says_why() {
    let world = world(&[]);
    let issuer = Issuer::new();
    let u = url("/api/deploy");
    let cases = [
        (
            token_with("JWT", "k1", serde_json::json!({})),
            "token_not_access_token",
        ),
        (
            token_with("at+jwt", "k1", serde_json::json!({ "aud": "other" })),
            "token_wrong_audience",
        ),
        (
            token_with(
                "at+jwt",
                "k1",
                serde_json::json!({ "iss": "https://evil.example" }),
            ),
            "token_wrong_issuer",
        ),
        (
            token_with("at+jwt", "k1", serde_json::json!({ "exp": NOW - 61 })),
            "token_expired",
        ),
        (
            token_with("at+jwt", "k1", serde_json::json!({ "nbf": NOW + 120 })),
            "token_not_yet_valid",
        ),
        (
            token_with(
                "at+jwt",
                "k1",
                serde_json::json!({ "iat": NOW - 10, "exp": NOW + 3600 }),
            ),
            "token_lifetime_too_long",
        ),
        (
            token_with("at+jwt", "k1", serde_json::json!({ "client_id": null })),
            "token_no_client_id",
        ),
        ("not.a.jwt".to_owned(), "token_malformed"),
        (
            format!("{}, Bearer {}", token(), token()),
            "token_malformed",
        ),
        (String::new(), "token_malformed"),
    ];
    for (token, why) in cases {
        let bearer = format!("Bearer {token}");
        let req = Inbound {
            accept: Some("text/html"),
            ..request("GET", &u, &bearer)
        };
        let (step, log) = handle(&world, &issuer, req);
        let r = replied(step);
        assert_eq!(
            (r.status, r.body.as_str()),
            (
                401,
                r#"{"error":"unauthenticated","reason":"invalid_token"}"#
            ),
            "{why}"
        );
        assert_eq!(
            r.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
        assert_eq!((log.decision, log.reason), ("reject", Some(why)));
        if !token.is_empty() {
            assert!(!log.line(0).contains(&token), "no token in the log");
        }
    }
    assert!(
        issuer.fetched.borrow().is_empty(),
        "refused before any fetch"
    );
    let forged = Issuer {
        valid: false,
        ..Issuer::new()
    };
    let bearer = format!("Bearer {}", token());
    let (step, log) = handle(&world, &forged, request("POST", &u, &bearer));
    assert_eq!(replied(step).status, 401);
    assert_eq!(log.reason, Some("token_bad_signature"));
}

#[test]
fn an_unknown_kid_refetches_the_keys_at_most_once_a_minute() {
    let world = world(&[]);
    let issuer = Issuer::new();
    let u = url("/api/deploy");
    let rotated = format!(
        "Bearer {}",
        token_with("at+jwt", "rotated", serde_json::json!({}))
    );
    let refused = |expected_fetches: usize| {
        let (step, log) = handle(&world, &issuer, request("POST", &u, &rotated));
        assert_eq!(replied(step).status, 401);
        assert_eq!(log.reason, Some("token_unknown_kid"));
        assert_eq!(issuer.jwks_fetches(), expected_fetches);
    };
    // Fetched for this very token: not again.
    refused(1);
    // The isolate's copy lacks the kid: fetched once more, then not
    // again within the minute, however many tokens name it.
    refused(2);
    refused(2);
    refused(2);
    world.clock.advance(60);
    refused(3);
    // The issuer rotates the key in: the next refetch finds it.
    issuer.kids.borrow_mut().push("rotated");
    world.clock.advance(60);
    let (step, _) = handle(&world, &issuer, request("POST", &u, &rotated));
    assert!(matches!(step, Step::Forward(_)));
    assert_eq!(issuer.jwks_fetches(), 4);
}

#[test]
fn only_rules_naming_the_client_or_its_scopes_admit_it() {
    let world = world(&[]);
    let issuer = Issuer::new();
    let bearer = format!("Bearer {}", token());
    let other = format!(
        "Bearer {}",
        token_with(
            "at+jwt",
            "k1",
            serde_json::json!({ "client_id": "intruder", "scope": "deploy" })
        )
    );
    let cases = [
        ("POST", "/api/deploy", &bearer, 200, "deploy"),
        ("GET", "/api/deploy", &bearer, 403, "deploy"),
        ("POST", "/api/deploy", &other, 403, "deploy"),
        ("GET", "/api/reports/q3", &bearer, 200, "reports"),
        ("GET", "/api/reports/q3", &other, 403, "reports"),
        // No rule: closed to machine clients, though POLICY_DEFAULT is allow.
        ("GET", "/dashboard", &bearer, 403, "default"),
    ];
    for (method, path, authorization, status, rule) in cases {
        let u = url(path);
        let (step, log) = handle(&world, &issuer, request(method, &u, authorization));
        let got = match step {
            Step::Forward(_) => 200,
            step => {
                let r = replied(step);
                assert_eq!(
                    r.body,
                    format!(r#"{{"error":"forbidden","rule":"{rule}"}}"#)
                );
                assert_eq!(
                    r.header("www-authenticate"),
                    Some(r#"Bearer error="insufficient_scope""#)
                );
                assert_eq!(log.rule.as_deref(), Some(rule));
                r.status
            }
        };
        assert_eq!(got, status, "{method} {path}");
    }
}

#[test]
fn a_token_older_than_the_rules_max_auth_age_is_refused() {
    let world = world(&[]);
    let issuer = Issuer::new();
    let u = url("/api/fresh");
    let old = format!(
        "Bearer {}",
        token_with(
            "at+jwt",
            "k1",
            serde_json::json!({ "iat": NOW - 400, "exp": NOW + 200 })
        )
    );
    let (step, log) = handle(&world, &issuer, request("GET", &u, &old));
    assert_eq!(replied(step).status, 401);
    assert_eq!(log.reason, Some("token_too_old"));
    let bearer = format!("Bearer {}", token());
    let (step, _) = handle(&world, &issuer, request("GET", &u, &bearer));
    assert!(matches!(step, Step::Forward(_)));
}

#[test]
fn bad_tokens_count_against_the_sender_as_bad_cookies_do() {
    let world = world(&[("BAD_TOKEN_LIMIT", "2/1m")]);
    let issuer = Issuer {
        valid: false,
        ..Issuer::new()
    };
    let u = url("/api/deploy");
    let expired = format!(
        "Bearer {}",
        token_with("at+jwt", "k1", serde_json::json!({ "exp": NOW - 120 }))
    );
    let forged = format!("Bearer {}", token());
    let from = |authorization| Inbound {
        client: Some("203.0.113.9"),
        ..request("POST", &u, authorization)
    };
    assert_eq!(
        replied(handle(&world, &issuer, from(&expired)).0).status,
        401
    );
    assert_eq!(
        replied(handle(&world, &issuer, from(&forged)).0).status,
        401
    );
    let (step, log) = handle(&world, &issuer, from(&forged));
    let r = replied(step);
    assert_eq!((r.status, log.reason), (429, Some("throttled")));
    assert!(r.header("retry-after").is_some());
    let elsewhere = Inbound {
        client: Some("198.51.100.7"),
        ..request("POST", &u, &forged)
    };
    assert_eq!(replied(handle(&world, &issuer, elsewhere).0).status, 401);
}

#[test]
fn without_the_issuers_keys_nothing_passes() {
    let world = world(&[]);
    let down = Issuer {
        up: false,
        ..Issuer::new()
    };
    let u = url("/api/deploy");
    let bearer = format!("Bearer {}", token());
    let (step, log) = handle(&world, &down, request("POST", &u, &bearer));
    let r = replied(step);
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, r#"{"error":"token_issuer_unavailable"}"#)
    );
    assert_eq!(log.decision, "error");
}

#[test]
fn without_bearer_audience_the_header_is_left_to_the_session_as_before() {
    let world = World::with(config_with(&[("POLICY", POLICY)]));
    let issuer = Issuer::new();
    let u = url("/api/reports/q3");
    let bearer = format!("Bearer {}", token());
    let r = replied(handle(&world, &issuer, request("GET", &u, &bearer)).0);
    assert_eq!((r.status, reason(&r).as_str()), (401, "missing"));
    let (session, _) = world.session("alice", 60);
    let c = cookie(&session);
    let req = Inbound {
        cookie: Some(&c),
        ..request("GET", &u, &bearer)
    };
    let forward = forwarded(handle(&world, &issuer, req).0);
    assert!(!forward.remove.iter().any(|h| h == "authorization"));
    assert!(issuer.fetched.borrow().is_empty());
}

#[test]
fn report_mode_forwards_what_it_would_refuse_with_the_verdict() {
    let world = world(&[("MODE", "report")]);
    let issuer = Issuer::new();
    let u = url("/dashboard");
    let expired = format!(
        "Bearer {}",
        token_with("at+jwt", "k1", serde_json::json!({ "exp": NOW - 120 }))
    );
    let forward = forwarded(handle(&world, &issuer, request("GET", &u, &expired)).0);
    assert_eq!(
        forward.headers,
        [(VERDICT_HEADER, "deny; reason=token_expired".to_owned())]
    );
    let bearer = format!("Bearer {}", token());
    let forward = forwarded(handle(&world, &issuer, request("GET", &u, &bearer)).0);
    assert!(forward
        .headers
        .iter()
        .any(|(n, v)| *n == VERDICT_HEADER && v == "deny; reason=forbidden; rule=default"));
    assert!(forward.headers.iter().any(|(n, _)| *n == USER_HEADER));
}

#[test]
fn an_issuer_that_is_down_is_asked_once_per_30_s_and_each_503_counts_against_the_sender() {
    let world = world(&[("BAD_TOKEN_LIMIT", "5/1m")]);
    let down = Issuer {
        up: false,
        ..Issuer::new()
    };
    let u = url("/api/reports/q3");
    let forged = format!("Bearer {}", token());
    let from = |client| Inbound {
        client: Some(client),
        ..request("GET", &u, &forged)
    };
    let statuses: Vec<u16> = (0..30)
        .map(|_| replied(handle(&world, &down, from("203.0.113.9")).0).status)
        .collect();
    assert_eq!(statuses[..5], [503; 5]);
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    assert_eq!(down.fetched.borrow().len(), 1, "one fetch, then remembered");
    let (step, log) = handle(&world, &down, from("198.51.100.7"));
    assert_eq!(replied(step).status, 503);
    assert_eq!(log.reason, Some("provider_unavailable"));
    assert!(log.detail.unwrap().contains("within the last 30 s"));
    assert_eq!(down.fetched.borrow().len(), 1);
    world.clock.advance(30);
    let (step, _) = handle(&world, &down, from("198.51.100.8"));
    assert_eq!(replied(step).status, 503);
    assert_eq!(down.fetched.borrow().len(), 2, "asked again after 30 s");
}
