use super::*;

#[test]
fn log_lines_carry_decision_reason_and_sid_but_no_secret() {
    let world = World::new();
    let (token, id) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/dashboard"));
    let fwd = forward(world.handle(get(&u, Some(&c))));
    let (_, log) = world.after(&fwd, Directives::default());
    let line = log.line(3);
    let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(parsed["decision"], "forward");
    assert_eq!(parsed["sid"], id.hash().sid());
    assert_eq!(
        (parsed["status"].as_u64(), parsed["ms"].as_u64()),
        (Some(200), Some(3)),
        "the origin's status"
    );
    assert!(!line.contains(&token) && !line.contains(&id.to_string()));
    assert!(fwd.headers.iter().all(|(_, v)| !line.contains(v.as_str())));
}
