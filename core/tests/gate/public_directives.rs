use super::*;

fn on_public_page(world: &World, token: &str, logout: &str) -> (Completion, Log) {
    let c = cookie(token);
    let u = url("/login");
    let fwd = forward(world.handle(get(&u, Some(&c))));
    world.after(
        &fwd,
        Directives {
            login: None,
            logout: Some(logout),
        },
    )
}

#[test]
fn a_logout_directive_ends_the_session_the_cookie_names() {
    let world = World::new();
    let (mine, id) = world.session("alice", 60);
    world.session("alice", 60);
    let (completion, log) = on_public_page(&world, &mine, "current");
    let Completion::Pass(edits) = completion else {
        panic!("{completion:?}")
    };
    assert!(edits.set_cookies[0].contains("Max-Age=0"));
    assert_eq!(log.event, Some("logout"));
    assert!(world
        .memory()
        .value(&session::record_key(&id.hash()))
        .is_none());
    assert_eq!(world.memory().keys().len(), 2, "the other session stays");
}

#[test]
fn logout_all_from_a_public_page_ends_every_session_of_that_user() {
    let world = World::new();
    let (mine, _) = world.session("alice", 60);
    world.session("alice", 60);
    world.session("bob", 60);
    on_public_page(&world, &mine, "all");
    assert!(
        world.memory().keys().iter().all(|k| !k.contains("alice")),
        "{:?}",
        world.memory().keys()
    );
    assert_eq!(world.memory().keys().len(), 2, "bob keeps his session");
}

#[test]
fn a_forged_cookie_costs_no_read_and_only_clears() {
    let world = World::new();
    let (_, id) = world.session("alice", 60);
    let forged = ring(&[("k1", "not-the-key-not-the-key-not-the-key")]).mint(&id, NOW);
    world.store.reset();
    let (completion, _) = on_public_page(&world, &forged, "current");
    assert!(
        matches!(completion, Completion::Pass(ref e) if e.set_cookies[0].contains("Max-Age=0"))
    );
    assert_eq!(world.counts().total(), 0);
    assert_eq!(world.memory().keys().len(), 2);
}
