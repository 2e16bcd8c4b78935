use super::*;

#[test]
fn a_path_that_reads_as_a_host_is_never_sent_as_return_to() {
    let world = World::new();
    for path in ["//evil.example/x", "///evil.example/x"] {
        let u = url(path);
        let nav = Inbound {
            accept: Some("text/html"),
            ..get(&u, None)
        };
        let r = reply(world.handle(nav));
        assert_eq!(
            (r.status, r.header("location")),
            (303, Some("/login")),
            "{path}"
        );
    }
    let u = url("/orders?page=2");
    let nav = Inbound {
        accept: Some("text/html"),
        ..get(&u, None)
    };
    assert_eq!(
        reply(world.handle(nav)).header("location"),
        Some("/login?return_to=/orders%3Fpage%3D2")
    );
}
