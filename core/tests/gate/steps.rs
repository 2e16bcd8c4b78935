//! The step protocol itself: what the driver is asked to do, in what order,
//! and what happens when its answers are not what the gate asked for.

use super::*;
use sessiongate_core::gate::{CookieHeader, Op, Outcome};

fn start(world: &World, req: Inbound<'_>) -> (Exchange, Step) {
    world.gate().start(&req, world.clock.now())
}

#[test]
fn an_authenticated_request_is_one_read_a_forward_and_an_untouched_pass() {
    let world = World::new();
    let (token, id) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let (mut exchange, step) = start(&world, get(&u, Some(&c)));
    assert_eq!(
        step,
        Step::Store(vec![Op::Get {
            key: session::record_key(&id.hash())
        }])
    );
    let step = exchange.resume(
        world.gate(),
        Input::Store(perform(
            &world.store,
            &[Op::Get {
                key: session::record_key(&id.hash()),
            }],
        )),
    );
    assert!(matches!(step, Step::Forward(_)), "{step:?}");
    let head = OriginHead {
        status: 201,
        ..OriginHead::default()
    };
    let Step::Finish(Answer::Pass(edits), log) =
        exchange.resume(world.gate(), Input::Origin(Ok(head)))
    else {
        panic!()
    };
    assert!(edits.is_empty(), "nothing to edit: {edits:?}");
    assert_eq!((log.decision, log.status), ("forward", 201));
    assert!(exchange.is_done());
}

#[test]
fn inbound_headers_of_ours_are_removed_by_the_names_the_request_used() {
    let world = World::new();
    let names = [
        "Accept",
        "X-Sessiongate-User",
        "sessiongate-assertion",
        "X-HTTP-Method-Override",
        "x-forwarded-for",
    ];
    let u = url("/static/app.css");
    let req = Inbound {
        header_names: &names,
        ..get(&u, None)
    };
    let fwd = forward(world.handle(req));
    assert_eq!(
        fwd.remove,
        [
            "X-Sessiongate-User",
            "sessiongate-assertion",
            "X-HTTP-Method-Override"
        ]
    );
    assert_eq!(fwd.cookie, CookieHeader::Unchanged);
}

#[test]
fn logging_out_everywhere_lists_once_then_deletes_everything_in_one_step() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    world.session("alice", 60);
    world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/.sessiongate/logout?scope=all"));
    let req = Inbound {
        method: "POST",
        origin: Some(SITE),
        ..get(&u, Some(&c))
    };
    let (mut exchange, step) = start(&world, req);
    let mut shapes = Vec::new();
    let mut step = step;
    while let Step::Store(ops) = step {
        shapes.push(
            ops.iter()
                .map(|op| match op {
                    Op::Get { .. } => 'g',
                    Op::Put { .. } => 'p',
                    Op::Delete { .. } => 'd',
                    Op::List { .. } => 'l',
                    _ => 'x',
                })
                .collect::<String>(),
        );
        step = exchange.resume(world.gate(), Input::Store(perform(&world.store, &ops)));
    }
    assert_eq!(shapes, ["g", "l", "dddddd"]);
    assert!(matches!(step, Step::Finish(Answer::Reply(ref r), _) if r.status == 204));
    assert!(world.memory().keys().is_empty());
}

#[test]
fn listings_follow_cursors_up_to_ten_pages() {
    let config = config_with(&[]);
    let world = World::with_store(config, MemoryStore::with_page_size(1));
    for _ in 0..10 {
        world.session("bob", 60);
    }
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let u = url("/.sessiongate/admin/users/bob/sessions");
    let admin = || Inbound {
        authorization: Some(&bearer),
        ..get(&u, None)
    };
    let r = reply(world.handle(admin()));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["sessions"].as_array().map(Vec::len), Some(10));
    assert_eq!(world.counts().lists, 10);
    world.session("bob", 60);
    let decision = world.handle(admin());
    assert_eq!(decision.log.reason, Some("store_unavailable"));
    assert_eq!(reply(decision).status, 503, "more than ten pages");
}

#[test]
fn a_failed_index_write_takes_the_record_back_and_answers_503() {
    let world = World::new();
    let u = url("/login");
    let req = Inbound {
        method: "POST",
        ..get(&u, None)
    };
    let fwd = forward(world.handle(req));
    let mut exchange = fwd.exchange.borrow_mut().take().unwrap();
    let handoff = jwt::sign(
        &HmacKey::new(HANDOFF_KEY.as_bytes()),
        &serde_json::json!({"sub": "alice", "exp": NOW + 60}),
    );
    let head = OriginHead {
        status: 200,
        login: Some(handoff),
        logout: None,
    };
    let Step::Store(ops) = exchange.resume(world.gate(), Input::Origin(Ok(head))) else {
        panic!()
    };
    let [Op::Put {
        key: record_key, ..
    }] = ops.as_slice()
    else {
        panic!("{ops:?}")
    };
    let record_key = record_key.clone();
    let Step::Store(ops) = exchange.resume(world.gate(), Input::Store(vec![Outcome::Done])) else {
        panic!()
    };
    assert!(matches!(&ops[..], [Op::Put { key, .. }] if key.starts_with("u:alice:")));
    let failed = Input::Store(vec![Outcome::Failed("KV said no".into())]);
    let Step::Store(ops) = exchange.resume(world.gate(), failed) else {
        panic!()
    };
    assert_eq!(
        ops,
        [Op::Delete { key: record_key }],
        "the record goes again"
    );
    let Step::Finish(Answer::Reply(r), log) =
        exchange.resume(world.gate(), Input::Store(vec![Outcome::Done]))
    else {
        panic!()
    };
    assert_eq!(r.status, 503);
    assert!(
        set_cookies(&r)[0].contains("Max-Age=0"),
        "no session cookie"
    );
    assert_eq!(log.detail.as_deref(), Some("session store: KV said no"));
}

#[test]
fn an_answer_the_exchange_did_not_ask_for_is_a_500_never_a_forward() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let (mut exchange, _) = start(&world, get(&u, Some(&c)));
    let step = exchange.resume(world.gate(), Input::Origin(Ok(OriginHead::default())));
    let Step::Finish(Answer::Reply(r), log) = step else {
        panic!("{step:?}")
    };
    assert_eq!((r.status, log.reason), (500, Some("internal")));
    assert!(exchange.is_done());
    let step = exchange.resume(world.gate(), Input::Store(vec![]));
    assert!(matches!(step, Step::Finish(Answer::Reply(ref r), _) if r.status == 500));
}

#[test]
fn a_driver_failure_ends_the_exchange_with_a_500_naming_it() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let (mut exchange, _) = start(&world, get(&u, Some(&c)));
    let Step::Finish(Answer::Reply(r), log) = exchange.abandon("Response: bad header".into())
    else {
        panic!()
    };
    assert_eq!(r.status, 500);
    assert_eq!(log.detail.as_deref(), Some("Response: bad header"));
}

#[test]
fn steps_cross_to_the_driver_as_json_it_can_act_on() {
    let get = Step::Store(vec![Op::Get { key: "s:h".into() }]);
    let wire: serde_json::Value = serde_json::from_str(&get.to_json(4, 0, false, &[])).unwrap();
    assert_eq!(
        wire,
        serde_json::json!({"id": 4, "kv": [{"op": "get", "key": "s:h"}]})
    );
    let log = Log {
        decision: "forward",
        status: 200,
        ..Log::default()
    };
    let pass = Step::Finish(Answer::Pass(Edits::default()), log);
    let wire: serde_json::Value = serde_json::from_str(&pass.to_json(0, 12, false, &[])).unwrap();
    assert_eq!(wire["pass"], serde_json::Value::Null, "untouched");
    let line: serde_json::Value = serde_json::from_str(wire["log"].as_str().unwrap()).unwrap();
    assert_eq!(
        line,
        serde_json::json!({"decision": "forward", "status": 200, "ms": 12})
    );
    assert!(
        wire.get("metric").is_none(),
        "no data point without METRICS"
    );
}

#[test]
fn a_metered_final_step_carries_a_data_point_that_names_no_one() {
    let world = World::new();
    let (token, id) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let mut exchange = fwd.exchange.borrow_mut().take().unwrap();
    let head = OriginHead {
        status: 200,
        ..OriginHead::default()
    };
    let step = exchange.resume(world.gate(), Input::Origin(Ok(head)));
    let wire: serde_json::Value = serde_json::from_str(&step.to_json(0, 7, true, &[])).unwrap();
    assert_eq!(
        wire["metric"],
        serde_json::json!({
            "blobs": ["forward", "", "protected", "enforce", ""],
            "doubles": [200.0, 7.0],
            "indexes": ["protected"],
        })
    );
    let text = wire["metric"].to_string();
    assert!(!text.contains("alice") && !text.contains(&id.hash().sid()));
    let u = url("/static/x%zz");
    let Action::Reply(_) = world.handle(get(&u, None)).action else {
        panic!()
    };
    let (_, step) = world.gate().start(&get(&u, None), NOW);
    let wire: serde_json::Value = serde_json::from_str(&step.to_json(0, 0, true, &[])).unwrap();
    assert_eq!(
        wire["metric"]["blobs"],
        serde_json::json!(["reject", "bad_escape", "invalid", "enforce", ""])
    );
}
