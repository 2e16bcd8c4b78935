use super::*;

fn post<'a>(u: &'a str, c: &'a str) -> Inbound<'a> {
    Inbound {
        method: "POST",
        ..get(u, Some(c))
    }
}

#[test]
fn cross_site_unsafe_requests_are_refused_before_any_kv_read() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/api/items"));
    let refused = [
        Inbound {
            sec_fetch_site: Some("cross-site"),
            ..post(&u, &c)
        },
        Inbound {
            sec_fetch_site: Some("same-site"),
            ..post(&u, &c)
        },
        Inbound {
            origin: Some("https://evil.example"),
            ..post(&u, &c)
        },
        Inbound {
            origin: Some("https://sibling.example.com"),
            ..post(&u, &c)
        },
        Inbound {
            origin: Some("null"),
            ..post(&u, &c)
        },
        Inbound {
            method: "DELETE",
            origin: Some("http://app.example.com"),
            ..post(&u, &c)
        },
        Inbound {
            method: "PUT",
            sec_fetch_site: Some("cross-site"),
            origin: Some(SITE),
            ..post(&u, &c)
        },
    ];
    for req in refused {
        let r = reply(world.handle(req));
        assert_eq!(
            (r.status, reason(&r).as_str()),
            (403, "cross_site"),
            "{req:?}"
        );
    }
    assert_eq!(world.counts().total(), 0);
}

#[test]
fn same_origin_and_headerless_unsafe_requests_pass() {
    let world = World::new();
    let (token, _) = world.session("alice", 60);
    let (c, u) = (cookie(&token), url("/api/items"));
    for req in [
        Inbound {
            sec_fetch_site: Some("same-origin"),
            ..post(&u, &c)
        },
        Inbound {
            sec_fetch_site: Some("none"),
            ..post(&u, &c)
        },
        Inbound {
            origin: Some(SITE),
            ..post(&u, &c)
        },
        post(&u, &c),
    ] {
        forward(world.handle(req));
    }
    let cross_site_get = Inbound {
        sec_fetch_site: Some("cross-site"),
        ..get(&u, Some(&c))
    };
    forward(world.handle(cross_site_get));
}
