use super::*;

fn alices(world: &World) -> Vec<String> {
    world
        .memory()
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("u:alice:"))
        .collect()
}

#[test]
fn logging_in_past_the_limit_ends_the_oldest_session() {
    let world = World::with(config_with(&[("MAX_SESSIONS_PER_USER", "2")]));
    let (_, oldest) = world.session("alice", 300);
    let (_, newer) = world.session("alice", 60);
    world.session("bob", 600);
    world.store.reset();
    let (completion, log) = world.log_in("alice", None);
    assert!(matches!(completion, Completion::Pass(_)));
    assert_eq!(log.event, Some("login"));
    let left = alices(&world);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.iter().any(|k| k.ends_with(&oldest.hash().to_string())));
    assert!(left.iter().any(|k| k.ends_with(&newer.hash().to_string())));
    assert!(world
        .memory()
        .value(&session::record_key(&oldest.hash()))
        .is_none());
    assert_eq!(
        world.counts(),
        Counts {
            lists: 1,
            deletes: 2,
            writes: 2,
            ..Counts::default()
        }
    );
    assert!(world
        .memory()
        .keys()
        .iter()
        .any(|k| k.starts_with("u:bob:")));
}

#[test]
fn within_the_limit_or_unlimited_nothing_ends() {
    let world = World::with(config_with(&[("MAX_SESSIONS_PER_USER", "3")]));
    world.session("alice", 300);
    world.session("alice", 60);
    world.log_in("alice", None);
    assert_eq!(alices(&world).len(), 3);

    let world = World::new();
    for age in [300, 200, 100] {
        world.session("alice", age);
    }
    world.store.reset();
    world.log_in("alice", None);
    assert_eq!(alices(&world).len(), 4);
    assert_eq!(world.counts().lists, 0, "no listing without a limit");
}
