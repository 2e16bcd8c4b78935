use super::*;
use sessiongate_core::gate::is_stripped_inbound;

#[test]
fn every_spelling_of_ours_and_method_and_path_overrides_are_stripped() {
    for name in [
        "sessiongate-assertion",
        "Sessiongate-Assertion",
        "SESSIONGATE-LOGIN",
        "x-sessiongate-user",
        "X-SessionGate-User",
        "x-sessiongate-anything",
        "X-HTTP-Method-Override",
        "x-http-method",
        "x-method-override",
        "X-Original-URL",
        "x-rewrite-url",
        "X-Override-Url",
    ] {
        assert!(is_stripped_inbound(name), "{name}");
    }
    for name in [
        "cookie",
        "x-sessiongatex",
        "sessiongate",
        "x-forwarded-for",
        "authorization",
    ] {
        assert!(!is_stripped_inbound(name), "{name}");
    }
}

#[test]
fn path_overrides_never_reach_the_origin_on_public_or_protected_paths() {
    let world = World::new();
    let names = [
        "x-original-url",
        "X-Rewrite-URL",
        "x-override-url",
        "accept",
    ];
    let login = url("/login");
    let public = Inbound {
        header_names: &names,
        ..get(&login, None)
    };
    let fwd = forward(world.handle(public));
    assert_eq!(
        fwd.remove,
        ["x-original-url", "X-Rewrite-URL", "x-override-url"]
    );
    let (token, _) = world.session("alice", 60);
    let c = cookie(&token);
    let dashboard = url("/dashboard");
    let protected = Inbound {
        header_names: &names,
        ..get(&dashboard, Some(&c))
    };
    let fwd = forward(world.handle(protected));
    assert_eq!(
        fwd.remove,
        ["x-original-url", "X-Rewrite-URL", "x-override-url"]
    );
}
