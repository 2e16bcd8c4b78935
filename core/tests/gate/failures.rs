use super::*;

#[test]
fn an_unreachable_store_answers_503_and_forwards_nothing() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    world.fail(Fail::Everything);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let decision = world.handle(get(&u, Some(&c)));
    assert_eq!(decision.log.reason, Some("store_unavailable"));
    let r = reply(decision);
    assert_eq!(r.status, 503);
    assert_eq!(r.body, r#"{"error":"session_store_unavailable"}"#);
}

#[test]
fn an_unreadable_record_answers_500_and_is_kept() {
    let world = World::new();
    let (token, id) = world.session("alice", 60);
    let key = session::record_key(&id.hash());
    world
        .memory()
        .put(&key, r#"{"v":9,"uid":"a","iat":1,"abs_exp":2}"#, None, 60)
        .unwrap();
    let (c, u) = (cookie(&token), url("/dashboard"));
    let r = reply(world.handle(get(&u, Some(&c))));
    assert_eq!(r.status, 500);
    assert!(world.memory().value(&key).is_some());
}
