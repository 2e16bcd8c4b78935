use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sessiongate_core::gate::{Op, Outcome};

const BOUND: &str = "__Host-sg-bound";
const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0";

/// A browser's device key, as a DBSC client holds it.
struct Device(SigningKey);

impl Device {
    fn new(seed: u8) -> Self {
        Self(SigningKey::from_slice(&[seed; 32]).unwrap())
    }

    fn jwk(&self) -> Value {
        let point = self.0.verifying_key().to_encoded_point(false);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
            "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
        })
    }

    /// A proof over `challenge`; registration proofs carry the key.
    fn proof(&self, challenge: &str, registration: bool) -> String {
        let mut header = json!({ "alg": "ES256", "typ": "dbsc+jwt" });
        if registration {
            header["jwk"] = self.jwk();
        }
        self.sign(&header, &json!({ "jti": challenge }))
    }

    fn sign(&self, header: &Value, payload: &Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature: Signature = self.0.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

fn post<'a>(u: &'a str, c: &'a str, proof: Option<&'a str>) -> Inbound<'a> {
    Inbound {
        method: "POST",
        device_proof: proof,
        ..get(u, Some(c))
    }
}

/// The challenge of a `Secure-Session-Challenge` or a registration offer.
fn challenge_in(header: &str) -> String {
    header.split("challenge=\"").last().unwrap()[..]
        .trim_start_matches('"')
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

/// A fresh challenge for the session of cookie `c`: no KV operation.
fn challenge(world: &World, c: &str) -> String {
    let u = url("/.sessiongate/dbsc/refresh");
    let before = world.counts();
    let r = reply(world.handle(post(&u, c, None)));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        world.counts(),
        before,
        "issuing a challenge costs no KV operation"
    );
    challenge_in(r.header("secure-session-challenge").unwrap())
}

fn register(world: &World, c: &str, proof: &str) -> Reply {
    let u = url("/.sessiongate/dbsc/register");
    reply(world.handle(post(&u, c, Some(proof))))
}

fn refresh(world: &World, c: &str, proof: &str) -> Reply {
    let u = url("/.sessiongate/dbsc/refresh");
    reply(world.handle(post(&u, c, Some(proof))))
}

/// The `Cookie` header carrying the session and the bound cookie a
/// registration or refresh set.
fn with_bound(c: &str, r: &Reply) -> String {
    let bound = set_cookies(r)
        .into_iter()
        .find(|s| s.starts_with(BOUND))
        .unwrap_or_else(|| panic!("no bound cookie in {r:?}"));
    format!("{c}; {}", bound.split(';').next().unwrap())
}

/// A session for alice bound to `device`: its cookie, and the
/// `Cookie` header with its bound cookie too.
fn bound_session(world: &World, device: &Device) -> (String, String, SessionId) {
    let (token, id) = world.session("alice", 10);
    let c = cookie(&token);
    let r = register(world, &c, &device.proof(&challenge(world, &c), true));
    assert_eq!(r.status, 200, "{}", r.body);
    let both = with_bound(&c, &r);
    (c, both, id)
}

fn stored(world: &World, id: &SessionId) -> Record {
    let json = world
        .memory()
        .get(&session::record_key(&id.hash()))
        .unwrap()
        .unwrap();
    Record::from_json(&json).unwrap()
}

#[test]
fn a_login_offers_registration_and_the_browser_binds_its_key() {
    let world = World::new();
    let (completion, _) = world.log_in(
        "alice",
        Some("Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"),
    );
    let Completion::Pass(edits) = completion else {
        panic!("{completion:?}")
    };
    let offer = &edits
        .headers
        .iter()
        .find(|(n, _)| *n == "secure-session-registration")
        .unwrap()
        .1;
    let token = token_in(&edits.set_cookies[0]).to_owned();
    let c = cookie(&token);
    let device = Device::new(1);
    let before = world.counts();
    let (u, proof) = (
        url("/.sessiongate/dbsc/register"),
        device.proof(&challenge_in(offer), true),
    );
    let registration = Inbound {
        user_agent: Some(CHROME),
        ..post(&u, &c, Some(&proof))
    };
    let r = reply(world.handle(registration));
    assert_eq!(r.status, 200, "{}", r.body);
    let used = world.counts();
    assert_eq!(
        (used.reads - before.reads, used.writes - before.writes),
        (1, 2),
        "the record is read, then it and its index entry written"
    );
    let instructions: Value = serde_json::from_str(&r.body).unwrap();
    let id: Token = world.config.session_keys.verify(&token, NOW).unwrap();
    assert_eq!(instructions["session_identifier"], id.id().hash().sid());
    assert_eq!(instructions["refresh_url"], "/.sessiongate/dbsc/refresh");
    assert_eq!(instructions["scope"]["include_site"], false);
    assert_eq!(instructions["credentials"][0]["name"], BOUND);
    let set = set_cookies(&r)[0];
    assert!(
        set.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600"),
        "{set}"
    );
    let record = stored(&world, id.id());
    assert_eq!(
        serde_json::to_value(record.device_key).unwrap(),
        device.jwk()
    );
    // The user's list says so, and names the device again.
    let both = with_bound(&c, &r);
    let sessions = reply(world.handle(get(&url("/.sessiongate/sessions"), Some(&both))));
    let body: Value = serde_json::from_str(&sessions.body).unwrap();
    assert_eq!(body["sessions"][0]["device_bound"], true);
    assert_eq!(body["sessions"][0]["device"], "Chrome on Linux");
}

#[test]
fn a_bound_session_needs_its_bound_cookie_on_every_request() {
    let world = World::new();
    let device = Device::new(1);
    let (c, both, _) = bound_session(&world, &device);
    let u = url("/dashboard");
    let fwd = forward(world.handle(get(&u, Some(&both))));
    assert_eq!(
        fwd.cookie,
        sessiongate_core::gate::CookieHeader::Remove,
        "neither cookie reaches the origin"
    );
    let claims = dashboard_assertion(&fwd);
    assert!(claims.device_bound);
    let session = reply(world.handle(get(&url("/.sessiongate/session"), Some(&both))));
    assert!(
        session.body.contains("\"device_bound\":true"),
        "{}",
        session.body
    );

    // The session cookie alone, once the registration's grace is over:
    // refused, but not cleared, before the origin.
    world.clock.advance(sessiongate_core::dbsc::BINDING_GRACE);
    let before = world.counts();
    let r = reply(world.handle(get(&u, Some(&c))));
    assert_eq!((r.status, reason(&r).as_str()), (401, "unbound"));
    assert!(
        set_cookies(&r).is_empty(),
        "the session is kept for its own browser"
    );
    assert_eq!(world.counts().reads - before.reads, 1);
    let navigation = Inbound {
        accept: Some("text/html"),
        ..get(&u, Some(&c))
    };
    let r = reply(world.handle(navigation));
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/login?return_to=/dashboard"))
    );

    // Another session's bound cookie, or an expired one, is no better.
    let (_, other, _) = bound_session(&world, &Device::new(2));
    let foreign = format!("{c}; {}", other.split("; ").last().unwrap());
    let r = reply(world.handle(get(&u, Some(&foreign))));
    assert_eq!(reason(&r), "unbound");
    world.clock.advance(600 + 5);
    let r = reply(world.handle(get(&u, Some(&both))));
    assert_eq!(reason(&r), "unbound");
}

#[test]
fn requests_sent_while_the_browser_registered_are_let_in_for_a_few_seconds() {
    let world = World::new();
    let (c, _, _) = bound_session(&world, &Device::new(1));
    let u = url("/dashboard");
    // Without any bound cookie: the page after the login, say.
    forward(world.handle(get(&u, Some(&c))));
    // A wrong one is no such request.
    let wrong = format!("{c}; __Host-sg-bound=k1.1.AAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        reason(&reply(world.handle(get(&u, Some(&wrong))))),
        "unbound"
    );
    world
        .clock
        .advance(sessiongate_core::dbsc::BINDING_GRACE - 1);
    forward(world.handle(get(&u, Some(&c))));
    world.clock.advance(1);
    assert_eq!(reason(&reply(world.handle(get(&u, Some(&c))))), "unbound");
}

/// With `RECORD_CACHE` on (DESIGN §14): a registration here drops the
/// isolate's copy of the record, so the bound cookie is needed at once;
/// one at another isolate is seen once the copy is past its lifetime;
/// and the DBSC endpoints read the record itself, never a copy.
#[test]
fn with_record_copies_a_binding_holds_here_at_once_and_from_elsewhere_within_record_cache() {
    let world = World::with(config_with(&[("RECORD_CACHE", "60")]));
    let u = url("/dashboard");
    let (token, _) = world.session("alice", 10);
    let c = cookie(&token);
    forward(world.handle(get(&u, Some(&c))));
    let proof = Device::new(1).proof(&challenge(&world, &c), true);
    let before = world.counts().reads;
    assert_eq!(register(&world, &c, &proof).status, 200);
    assert_eq!(world.counts().reads - before, 1, "the record, not the copy");
    world.clock.advance(sessiongate_core::dbsc::BINDING_GRACE);
    assert_eq!(reason(&reply(world.handle(get(&u, Some(&c))))), "unbound");

    // Another isolate binds bob's session: KV has the key, the copy not.
    let (token, id) = world.session("bob", 10);
    let c = cookie(&token);
    forward(world.handle(get(&u, Some(&c))));
    let key = session::record_key(&id.hash());
    let mut record: Value = serde_json::from_str(&world.memory().value(&key).unwrap()).unwrap();
    let device = Device::new(2);
    record["device_key"] = device.jwk();
    record["device_bound_at"] = json!(world.clock.now() - 60);
    world
        .memory()
        .put(&key, &record.to_string(), None, 3600)
        .unwrap();
    world.clock.advance(59);
    forward(world.handle(get(&u, Some(&c))));
    world.clock.advance(1);
    assert_eq!(reason(&reply(world.handle(get(&u, Some(&c))))), "unbound");
    let proof = device.proof(&challenge(&world, &c), false);
    let before = world.counts().reads;
    assert_eq!(refresh(&world, &c, &proof).status, 200);
    assert_eq!(world.counts().reads - before, 1, "the record, not the copy");
}

#[test]
fn a_refresh_proves_the_key_for_a_new_bound_cookie_without_a_write() {
    let world = World::new();
    let device = Device::new(1);
    let (c, _, _) = bound_session(&world, &device);
    world.clock.advance(700);
    let proof = device.proof(&challenge(&world, &c), false);
    let before = world.counts();
    let r = refresh(&world, &c, &proof);
    assert_eq!(r.status, 200, "{}", r.body);
    let used = world.counts();
    assert_eq!(
        (used.reads - before.reads, used.writes - before.writes),
        (1, 0)
    );
    let renewed = with_bound(&c, &r);
    forward(world.handle(get(&url("/dashboard"), Some(&renewed))));
    // The same proof again: its challenge is spent.
    let r = refresh(&world, &c, &proof);
    assert_eq!((r.status, reason(&r).as_str()), (403, "challenge_reused"));
}

#[test]
fn proofs_are_refused_unless_signed_by_the_registered_key_over_a_live_challenge() {
    let world = World::new();
    let device = Device::new(1);
    let (c, _, _) = bound_session(&world, &device);
    let (other_token, _) = world.session("bob", 10);
    let other_challenge = challenge(&world, &cookie(&other_token));
    let fresh = challenge(&world, &c);
    let jwk_secret = device.jwk().to_string();
    let hs256 = {
        let header =
            URL_SAFE_NO_PAD.encode(json!({ "alg": "HS256", "typ": "dbsc+jwt" }).to_string());
        let payload = URL_SAFE_NO_PAD.encode(json!({ "jti": fresh }).to_string());
        let signed = format!("{header}.{payload}");
        let mac = HmacKey::new(jwk_secret.as_bytes()).sign(&[signed.as_bytes()]);
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac))
    };
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "dbsc+jwt" }).to_string()),
        URL_SAFE_NO_PAD.encode(json!({ "jti": fresh }).to_string())
    );
    let wrong_typ = device.sign(
        &json!({ "alg": "ES256", "typ": "JWT" }),
        &json!({ "jti": fresh }),
    );
    let cases = [
        (Device::new(2).proof(&fresh, false), "proof_bad_signature"),
        (Device::new(2).proof(&fresh, true), "proof_bad_signature"),
        (device.proof(&other_challenge, false), "challenge_invalid"),
        (
            device.proof("k1.1700000000.AAAAAAAAAAAAAAAAAAAAAA", false),
            "challenge_invalid",
        ),
        (hs256, "proof_alg_unsupported"),
        (none, "proof_alg_unsupported"),
        (wrong_typ, "proof_typ_unsupported"),
        ("not a jwt".to_owned(), "proof_malformed"),
    ];
    for (proof, expected) in cases {
        let r = refresh(&world, &c, &proof);
        assert_eq!(
            (r.status, reason(&r)),
            (403, expected.to_owned()),
            "{proof}"
        );
        assert!(set_cookies(&r).is_empty());
    }
    // A challenge answered after its minute.
    world.clock.advance(60);
    let r = refresh(&world, &c, &device.proof(&fresh, false));
    assert_eq!(reason(&r), "challenge_expired");
}

#[test]
fn a_session_registers_once_and_only_within_its_window() {
    let world = World::new();
    let device = Device::new(1);
    let (c, _, id) = bound_session(&world, &device);
    let r = register(
        &world,
        &c,
        &Device::new(2).proof(&challenge(&world, &c), true),
    );
    assert_eq!((r.status, reason(&r).as_str()), (403, "already_registered"));
    assert_eq!(
        serde_json::to_value(stored(&world, &id).device_key).unwrap(),
        device.jwk()
    );

    let (late, _) = world.session("alice", 120);
    let c = cookie(&late);
    let r = register(&world, &c, &device.proof(&challenge(&world, &c), true));
    assert_eq!(reason(&r), "registration_window_closed");
    let r = register(&world, &c, "");
    assert_eq!(r.status, 403);
    let (fresh, _) = world.session("alice", 0);
    let r = reply(world.handle(post(
        &url("/.sessiongate/dbsc/register"),
        &cookie(&fresh),
        None,
    )));
    assert_eq!(reason(&r), "proof_missing");
}

#[test]
fn a_refresh_after_logout_or_for_another_session_ends_the_dbsc_session() {
    let world = World::new();
    let device = Device::new(1);
    let (c, _, id) = bound_session(&world, &device);
    let proof = device.proof(&challenge(&world, &c), false);
    let u = url("/.sessiongate/dbsc/refresh");
    let elsewhere = Inbound {
        device_session: Some("\"AAAAAAAAAAAAAAAA\""),
        ..post(&u, &c, Some(&proof))
    };
    let r = reply(world.handle(elsewhere));
    assert_eq!((r.status, r.body.as_str()), (200, "{\"continue\":false}"));

    let u = url("/.sessiongate/logout");
    let r = reply(world.handle(post(&u, &c, None)));
    assert_eq!(r.status, 204);
    assert!(set_cookies(&r)
        .iter()
        .any(|s| s.starts_with("__Host-sg-bound=;")));
    let r = refresh(&world, &c, &device.proof(&challenge(&world, &c), false));
    assert_eq!((r.status, r.body.as_str()), (200, "{\"continue\":false}"));
    assert_eq!(
        set_cookies(&r),
        ["__Host-sg-bound=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"]
    );
    assert!(world
        .memory()
        .get(&session::record_key(&id.hash()))
        .unwrap()
        .is_none());
    // Without any session cookie at all, likewise.
    let r = reply(world.handle(post(&url("/.sessiongate/dbsc/refresh"), "", None)));
    assert_eq!(r.body, "{\"continue\":false}");
}

#[test]
fn require_refuses_sessions_that_did_not_bind_a_key_in_time() {
    let world = World::with(config_with(&[("DEVICE_BOUND", "require")]));
    let u = url("/dashboard");
    let (young, _) = world.session("alice", 10);
    forward(world.handle(get(&u, Some(&cookie(&young)))));
    let (old, _) = world.session("alice", 120);
    let r = reply(world.handle(get(&u, Some(&cookie(&old)))));
    assert_eq!((r.status, reason(&r).as_str()), (401, "unregistered"));
    assert_eq!(
        set_cookies(&r).len(),
        1,
        "such a session can never bind: its cookie goes"
    );
    let (_, both, _) = bound_session(&world, &Device::new(1));
    forward(world.handle(get(&u, Some(&both))));
}

#[test]
fn offer_leaves_sessions_that_never_register_as_they_were() {
    let world = World::new();
    let (token, _) = world.session("alice", 3600);
    let fwd = forward(world.handle(get(&url("/dashboard"), Some(&cookie(&token)))));
    let claims = dashboard_assertion(&fwd);
    assert!(!claims.device_bound);
}

#[test]
fn off_offers_nothing_and_has_no_endpoints() {
    let world = World::with(config_with(&[("DEVICE_BOUND", "off")]));
    let (completion, _) = world.log_in("alice", None);
    let Completion::Pass(edits) = completion else {
        panic!("{completion:?}")
    };
    assert!(edits
        .headers
        .iter()
        .all(|(n, _)| *n != "secure-session-registration"));
    let (token, _) = world.session("alice", 10);
    let r = register(&world, &cookie(&token), "x");
    assert_eq!(r.status, 404);
}

#[test]
fn turning_binding_off_locks_no_bound_session_out() {
    let world = World::with(config_with(&[("DEVICE_BOUND", "off")]));
    let (token, id) = world.session("alice", 600);
    // Bound while binding was on, an hour ago.
    let mut record = stored(&world, &id);
    record.device_key = Some(serde_json::from_value(Device::new(1).jwk()).unwrap());
    record.device_bound_at = Some(NOW - 3600);
    let key = session::record_key(&id.hash());
    world
        .memory()
        .put(&key, &record.to_json(), None, 3600)
        .unwrap();
    forward(world.handle(get(&url("/dashboard"), Some(&cookie(&token)))));
}

#[test]
fn report_mode_forwards_an_unbound_request_with_its_verdict() {
    let world = World::with(config_with(&[("MODE", "report")]));
    let (c, _, _) = bound_session(&world, &Device::new(1));
    world.clock.advance(sessiongate_core::dbsc::BINDING_GRACE);
    let fwd = forward(world.handle(get(&url("/dashboard"), Some(&c))));
    let verdict = fwd
        .headers
        .iter()
        .find(|(n, _)| *n == sessiongate_core::gate::VERDICT_HEADER)
        .unwrap();
    assert_eq!(verdict.1, "deny; reason=unbound");
    assert!(fwd.headers.iter().all(|(n, _)| *n != assertion::HEADER));
}

#[test]
fn bad_settings_are_named() {
    for (var, value) in [
        ("DEVICE_BOUND", "on"),
        ("DEVICE_BOUND_REFRESH", "5s"),
        ("DEVICE_BOUND_REFRESH", "2d"),
    ] {
        let vars: HashMap<&str, String> = HashMap::from([
            ("ORIGIN_URL", "https://origin.internal".to_owned()),
            ("AUDIENCE", "app".to_owned()),
            ("SESSION_KEYS", format!("k1:{SESSION_KEY}")),
            ("ASSERTION_KEY", ASSERTION_KEY.to_owned()),
            ("HANDOFF_KEY", HANDOFF_KEY.to_owned()),
            (var, value.to_owned()),
        ]);
        let errors = Config::from_lookup(|k| vars.get(k).cloned()).unwrap_err();
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].var, var);
    }
}

/// Drives a request as `World::handle` does, but answers each `Verify`
/// with `verdict` (the driver's WebCrypto); the reply and the `Verify`
/// operations asked for.
fn handle_verifying(
    world: &World,
    req: Inbound<'_>,
    verdict: Outcome,
) -> (Reply, Vec<(String, Value, String, String)>) {
    let mut verified = Vec::new();
    let (mut exchange, mut step) = world.gate().start(&req, world.clock.now());
    loop {
        step = match step {
            Step::Store(ops) => {
                let outcomes = ops
                    .iter()
                    .map(|op| match op {
                        Op::Verify {
                            alg,
                            jwk,
                            data,
                            signature,
                        } => {
                            let jwk = serde_json::from_str(jwk).unwrap();
                            verified.push((alg.clone(), jwk, data.clone(), signature.clone()));
                            verdict.clone()
                        }
                        other => perform(&world.store, std::slice::from_ref(other)).remove(0),
                    })
                    .collect();
                exchange.resume(world.gate(), Input::Store(outcomes))
            }
            Step::Finish(Answer::Reply(reply), _) => return (reply, verified),
            other => panic!("a proof neither forwards nor passes: {other:?}"),
        }
    }
}

#[test]
fn the_signature_is_one_verify_step_for_the_driver_and_anything_but_valid_refuses() {
    let world = World::new();
    let device = Device::new(1);
    let (token, id) = world.session("alice", 10);
    let c = cookie(&token);
    let u = url("/.sessiongate/dbsc/register");
    let proof = device.proof(&challenge(&world, &c), true);
    let (signed, signature) = proof.rsplit_once('.').unwrap();
    for (verdict, expected) in [
        (Outcome::Value(None), "proof_bad_signature"),
        (
            Outcome::Value(Some("key_invalid".to_owned())),
            "proof_key_invalid",
        ),
        (
            Outcome::Failed("WebCrypto threw".to_owned()),
            "proof_bad_signature",
        ),
    ] {
        let before = world.counts();
        let (r, verified) = handle_verifying(&world, post(&u, &c, Some(&proof)), verdict);
        assert_eq!((r.status, reason(&r)), (403, expected.to_owned()));
        let expected_op = (
            "ES256".to_owned(),
            device.jwk(),
            signed.to_owned(),
            signature.to_owned(),
        );
        assert_eq!(
            verified,
            [expected_op],
            "one Verify, of the proof's signed part with its key"
        );
        assert_eq!(world.counts().writes, before.writes, "nothing written");
        assert!(stored(&world, &id).device_key.is_none());
    }
    // No refusal spent the challenge: the same proof, verified, binds.
    let valid = Outcome::Value(Some("valid".to_owned()));
    let (r, _) = handle_verifying(&world, post(&u, &c, Some(&proof)), valid);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(stored(&world, &id).device_key.is_some());
}
