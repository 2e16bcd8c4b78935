//! Applications (DESIGN §16): three apps on two registrable domains, one
//! sign-in at `AUTH_HOST`, a session per app through a one-time code, and
//! nothing of one app good at another.

use super::signing::{signed_assertion, P256};
use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

const ACCOUNTS: &str = "https://accounts.example.com";
const WIKI: &str = "https://wiki.example.com";
const DOCS: &str = "https://docs.example-tools.net";
const TOOLS: &str = "https://tools.example-tools.net";

const APPS: &str = r#"[
    {"name": "accounts", "hosts": ["accounts.example.com"], "origin": "https://login.internal"},
    {"name": "wiki", "hosts": ["wiki.example.com", "docs.example-tools.net"],
     "origin": "https://wiki.internal",
     "policy": [{"name": "editors", "paths": ["/edit/*"], "allow": [{"groups": ["editors"]}]}],
     "bearer_audience": "https://wiki.example.com/api"},
    {"name": "tools", "hosts": ["tools.example-tools.net"], "origin": "https://tools.internal",
     "policy": [{"name": "staff", "paths": ["/edit/*"], "allow": [{"users": ["alice"]}]},
                {"name": "fresh", "paths": ["/danger"], "allow": [{"any_user": true}], "max_auth_age": "5m"}]}
]"#;

fn apps_world(extra: &[(&str, &str)]) -> World {
    World::with(apps_config(extra, false))
}

fn apps_config(extra: &[(&str, &str)], ledger: bool) -> Config {
    let keys = format!("k1:{P256}");
    let mut vars = vec![
        ("APPS", APPS),
        ("AUTH_HOST", "accounts.example.com"),
        ("ORIGIN_URL", ""),
        ("AUDIENCE", ""),
        ("PUBLIC_PATHS", ""),
        ("ASSERTION_SIGNING_KEYS", keys.as_str()),
        ("BEARER_ISSUER", "https://id.example.com"),
    ];
    vars.extend_from_slice(extra);
    match ledger {
        true => config_with_ledger(&vars),
        false => config_with(&vars),
    }
}

/// A browser: one cookie jar per host, as the hosts are separate sites.
#[derive(Default)]
struct Browser {
    jars: RefCell<HashMap<String, Vec<(String, String)>>>,
}

impl Browser {
    fn cookie_header(&self, origin: &str) -> String {
        let jars = self.jars.borrow();
        let jar = jars.get(origin).map(Vec::as_slice).unwrap_or_default();
        jar.iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps the `Set-Cookie`s of a response from `origin`.
    fn keep(&self, origin: &str, reply: &Reply) {
        let mut jars = self.jars.borrow_mut();
        let jar = jars.entry(origin.to_owned()).or_default();
        for set in set_cookies(reply) {
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            jar.retain(|(n, _)| n != name);
            if !attributes.contains("Max-Age=0") {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn cookie(&self, origin: &str, name: &str) -> Option<String> {
        let jars = self.jars.borrow();
        jars.get(origin)?
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// A navigation to `url`, its cookies sent and kept.
    fn open(&self, world: &World, url: &str) -> Decision {
        let origin = origin_of(url);
        let cookies = self.cookie_header(&origin);
        let decision = world.handle(navigation(url, &cookies));
        if let Action::Reply(reply) = &decision.action {
            self.keep(&origin, reply);
        }
        decision
    }

    /// Follows 303s from `url` until a forward (or another answer).
    fn follow(&self, world: &World, url: &str) -> (Decision, Vec<String>) {
        let mut visited = vec![url.to_owned()];
        let mut decision = self.open(world, url);
        while let Action::Reply(reply) = &decision.action {
            let (303, Some(location)) = (reply.status, reply.header("location")) else {
                break;
            };
            let next = resolve(visited.last().unwrap(), location);
            assert!(visited.len() < 10, "a redirect loop: {visited:?}");
            visited.push(next.clone());
            decision = self.open(world, &next);
        }
        (decision, visited)
    }

    /// Signs in at `AUTH_HOST`'s login page (the accounts app's origin
    /// answers with a handoff for `uid`), then follows where it sends.
    fn sign_in(&self, world: &World, uid: &str, groups: &[&str], return_to: &str) -> Decision {
        let login = format!("{ACCOUNTS}/login?return_to={}", encode(return_to));
        let fwd = forward(self.open(world, &login));
        let handoff = jwt::sign(
            &HmacKey::new(HANDOFF_KEY.as_bytes()),
            &serde_json::json!({"sub": uid, "groups": groups, "exp": world.clock.now() + 60}),
        );
        let (completion, log) = world.after(
            &fwd,
            Directives {
                login: Some(&handoff),
                logout: None,
            },
        );
        assert_eq!(log.event, Some("login"), "{log:?}");
        let Completion::Pass(edits) = completion else {
            panic!("the origin's response passes")
        };
        let set = Reply {
            status: 303,
            headers: edits
                .set_cookies
                .iter()
                .map(|c| ("set-cookie", c.clone()))
                .collect(),
            body: String::new(),
        };
        self.keep(ACCOUNTS, &set);
        self.follow(world, &format!("{ACCOUNTS}{return_to}")).0
    }
}

/// A `Location` as the browser reads it, from the page at `base`.
fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("//") {
        format!("https:{location}")
    } else if location.starts_with('/') {
        format!("{}{location}", origin_of(base))
    } else {
        location.to_owned()
    }
}

fn origin_of(url: &str) -> String {
    let after = url.find("://").unwrap() + 3;
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    url[..end].to_owned()
}

fn encode(s: &str) -> String {
    sessiongate_core::routes::percent_encode(s)
}

/// The claims of a forward's assertion, as its signing input has them.
fn claims(world: &World, fwd: &Forwarded) -> serde_json::Value {
    let jwt = signed_assertion(world, fwd);
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Opens `url` with no session: to AUTH_HOST, then the login (there is no
/// sign-in), and signs in there as `uid`; returns the forward of `url`.
fn sign_in_from(
    world: &World,
    browser: &Browser,
    url: &str,
    uid: &str,
    groups: &[&str],
) -> Forwarded {
    let (decision, visited) = browser.follow(world, url);
    let at_login = visited.last().unwrap();
    assert!(
        at_login.starts_with(&format!("{ACCOUNTS}/login?return_to=")),
        "{visited:?}"
    );
    let _ = decision;
    let return_to =
        sessiongate_core::routes::percent_decode(at_login.split_once("return_to=").unwrap().1)
            .unwrap();
    forward(browser.sign_in(world, uid, groups, &return_to))
}

#[test]
fn one_sign_in_opens_every_app_each_with_its_own_session_and_audience() {
    let world = apps_world(&[]);
    let browser = Browser::default();
    let fwd = sign_in_from(&world, &browser, &format!("{WIKI}/page?x=1"), "alice", &[]);
    assert_eq!(fwd.url, "https://wiki.internal/page?x=1");
    assert_eq!(claims(&world, &fwd)["aud"], "wiki");
    let wiki_session = browser
        .cookie(WIKI, "__Host-sg")
        .expect("wiki's own cookie");

    // Another registrable domain: two redirects, no login.
    let (decision, visited) = browser.follow(&world, &format!("{TOOLS}/start"));
    let fwd = forward(decision);
    assert_eq!(fwd.url, "https://tools.internal/start");
    assert_eq!(claims(&world, &fwd)["aud"], "tools");
    assert_eq!(
        visited.len(),
        4,
        "tools, AUTH_HOST, the code, the page: {visited:?}"
    );
    assert!(visited[1].starts_with(&format!("{ACCOUNTS}/.sessiongate/sso?")));
    assert!(visited[2].starts_with(&format!("{TOOLS}/.sessiongate/sso/code?code=")));
    let tools_session = browser.cookie(TOOLS, "__Host-sg").unwrap();
    assert_ne!(wiki_session, tools_session);

    // The app at AUTH_HOST sees the sign-in as its own.
    let fwd = forward(browser.open(&world, &format!("{ACCOUNTS}/profile")));
    assert_eq!(claims(&world, &fwd)["aud"], "accounts");
}

#[test]
fn a_session_is_good_at_its_own_app_only() {
    let world = apps_world(&[]);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
    let wiki = cookie(&browser.cookie(WIKI, "__Host-sg").unwrap());
    let signin = cookie(&browser.cookie(ACCOUNTS, "__Host-sg").unwrap());
    // (Wiki's other host is wiki too: the cookie would be good there, had
    // the browser sent it.)
    for (url, presented) in [
        (format!("{TOOLS}/x"), &wiki),
        (format!("{ACCOUNTS}/x"), &wiki),
        (format!("{WIKI}/x"), &signin),
    ] {
        let decision = world.handle(get(&url, Some(presented)));
        let r = reply(decision);
        assert_eq!(
            (r.status, reason(&r)),
            (401, "wrong_app".to_owned()),
            "{url}"
        );
    }
}

#[test]
fn in_report_mode_another_apps_session_is_forwarded_without_an_identity() {
    let world = apps_world(&[("MODE", "report")]);
    let browser = Browser::default();
    // Report mode sends no browser round AUTH_HOST: sign in there.
    browser.sign_in(&world, "alice", &[], "/");
    let signin = cookie(&browser.cookie(ACCOUNTS, "__Host-sg").unwrap());
    let fwd = forward(world.handle(get(&format!("{TOOLS}/x"), Some(&signin))));
    assert_eq!(fwd.url, "https://tools.internal/x");
    let verdict = fwd
        .headers
        .iter()
        .find(|(name, _)| *name == "sessiongate-verdict")
        .map(|(_, v)| v.as_str());
    assert_eq!(verdict, Some("deny; reason=wrong_app"));
    assert!(fwd.sign.is_none(), "no assertion to sign");
}

#[test]
fn an_apps_session_is_offered_device_binding_as_the_sign_in_is() {
    let world = apps_world(&[("DEVICE_BOUND", "offer")]);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
    // Round AUTH_HOST by hand, to read the code exchange's answer.
    let mut url = format!("{TOOLS}/page");
    let exchanged = loop {
        let r = reply(browser.open(&world, &url));
        assert_eq!(r.status, 303, "{url}");
        if url.contains("/.sessiongate/sso/code?") {
            break r;
        }
        url = resolve(&url, r.header("location").unwrap());
    };
    assert!(
        exchanged.header("secure-session-registration").is_some(),
        "{exchanged:?}"
    );
    assert!(browser.cookie(TOOLS, "__Host-sg").is_some());
}

#[test]
fn a_kept_copy_of_an_apps_record_is_good_at_that_app_only() {
    let world = World::with(apps_config(&[], true));
    assert!(world.config.record_cache_s > 0);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
    let wiki = cookie(&browser.cookie(WIKI, "__Host-sg").unwrap());
    for _ in 0..2 {
        forward(world.handle(get(&format!("{WIKI}/x"), Some(&wiki))));
    }
    assert!(
        !world.record_cache.is_empty(),
        "the wiki session's record is kept"
    );
    let r = reply(world.handle(get(&format!("{TOOLS}/x"), Some(&wiki))));
    assert_eq!((r.status, reason(&r)), (401, "wrong_app".to_owned()));
}

#[test]
fn a_code_is_used_once_at_its_app_by_its_browser_within_a_minute() {
    let world = apps_world(&[]);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
    // Tools sends the browser round; keep the code instead of using it.
    let r = reply(browser.open(&world, &format!("{TOOLS}/x")));
    let sso = resolve(TOOLS, r.header("location").unwrap());
    let r = reply(browser.open(&world, &sso));
    let code_url = resolve(&sso, r.header("location").unwrap());
    let code = code_url.split_once("code=").unwrap().1.to_owned();
    let refused = |url: &str, cookies: &str| {
        let r = reply(world.handle(navigation(url, cookies)));
        assert!(set_cookies(&r).iter().all(|c| !c.starts_with("__Host-sg=")));
        (r.status, reason(&r))
    };
    let nonce = format!(
        "__Host-sg-sso={}",
        browser.cookie(TOOLS, "__Host-sg-sso").unwrap()
    );
    // Another app, another browser (no nonce cookie), a made-up code.
    let at_wiki = format!("{WIKI}/.sessiongate/sso/code?code={code}");
    assert_eq!(refused(&at_wiki, &nonce), (400, "code_wrong_app".into()));
    assert_eq!(refused(&code_url, ""), (400, "code_other_browser".into()));
    let made_up = format!("{TOOLS}/.sessiongate/sso/code?code={}", "A".repeat(43));
    assert_eq!(refused(&made_up, &nonce), (400, "code_unknown".into()));
    // Past a minute.
    world.clock.advance(61);
    assert_eq!(refused(&code_url, &nonce), (400, "code_expired".into()));

    // A fresh code works once, and is deleted.
    let codes = || {
        world
            .memory()
            .keys()
            .iter()
            .filter(|k| k.starts_with("c:"))
            .count()
    };
    let r = reply(browser.open(&world, &sso));
    let code_url = resolve(&sso, r.header("location").unwrap());
    assert_eq!(codes(), 2, "the expired one waits for its TTL");
    let used = reply(browser.open(&world, &code_url));
    assert_eq!(codes(), 1);
    assert_eq!(used.status, 303);
    assert_eq!(used.header("location"), Some("/x"));
    assert_eq!(refused(&code_url, &nonce), (400, "code_unknown".into()));
}

#[test]
fn a_return_path_naming_another_host_gets_no_code() {
    let world = apps_world(&[]);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
    let binding = "B".repeat(43);
    for target in [
        "//evil.example.net/",
        "//wiki.example.com.evil.net/",
        "https://wiki.example.com/",
        "//wiki.example.com:8443/",
        "/relative",
    ] {
        let url = format!(
            "{ACCOUNTS}/.sessiongate/sso?return_to={}&binding={binding}",
            encode(target)
        );
        let r = reply(browser.open(&world, &url));
        assert_eq!(
            (r.status, reason(&r)),
            (400, "sso_bad_return_to".into()),
            "{target}"
        );
    }
}

#[test]
fn unknown_hosts_reach_no_origin() {
    let world = apps_world(&[]);
    let before = world.counts();
    let r = reply(world.handle(get("https://other.example.com/x", None)));
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, r#"{"error":"unknown_host"}"#)
    );
    // The key set and the health check answer on every host.
    let r = reply(world.handle(get(
        "https://other.example.com/.sessiongate/jwks.json",
        None,
    )));
    assert_eq!(r.status, 200);
    assert_eq!(world.counts(), before, "no KV for any of it");
}

#[test]
fn each_apps_policy_decides_the_same_path_its_own_way() {
    let world = apps_world(&[]);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
    // Wiki: editors only; tools: alice only.
    let r = reply(browser.open(&world, &format!("{WIKI}/edit/x")));
    assert_eq!(r.status, 403);
    let (decision, _) = browser.follow(&world, &format!("{TOOLS}/edit/x"));
    assert_eq!(forward(decision).url, "https://tools.internal/edit/x");
}

#[test]
fn a_step_up_goes_round_auth_host_for_a_fresh_login() {
    let world = apps_world(&[]);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{TOOLS}/"), "alice", &[]);
    world.clock.advance(600);
    let r = reply(browser.open(&world, &format!("{TOOLS}/danger")));
    let location = resolve(TOOLS, r.header("location").unwrap());
    assert!(
        location.starts_with(&format!("{ACCOUNTS}/.sessiongate/sso?")),
        "{location}"
    );
    assert!(location.ends_with("&max_age=300"), "{location}");
    let r = reply(browser.open(&world, &location));
    let login = r.header("location").unwrap();
    assert!(login.starts_with("/login?return_to="), "{login}");
    assert!(login.ends_with("&max_age=300"), "{login}");
}

#[test]
fn logout_ends_the_sign_in_everywhere_or_one_app_when_asked() {
    let logout = |world: &World, browser: &Browser, origin: &str, scope: &str| {
        let u = format!("{origin}/.sessiongate/logout{scope}");
        let c = browser.cookie_header(origin);
        let r = reply(world.handle(Inbound {
            method: "POST",
            ..get(&u, Some(&c))
        }));
        assert_eq!(r.status, 204);
    };
    let status = |world: &World, browser: &Browser, origin: &str| {
        let u = format!("{origin}/x");
        let c = browser.cookie_header(origin);
        match world.handle(get(&u, Some(&c))).action {
            Action::Forward(_) => 200,
            Action::Reply(r) => r.status,
        }
    };
    for (scope, at, after) in [
        ("", WIKI, [401, 401, 401]),
        ("?scope=app", WIKI, [401, 200, 200]),
        ("?scope=all", TOOLS, [401, 401, 401]),
    ] {
        let world = apps_world(&[]);
        let browser = Browser::default();
        sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
        browser.follow(&world, &format!("{TOOLS}/"));
        logout(&world, &browser, at, scope);
        let found = [WIKI, TOOLS, ACCOUNTS].map(|o| status(&world, &browser, o));
        let expected = match at {
            TOOLS => [after[1], after[0], after[2]],
            _ => after,
        };
        assert_eq!(found, expected, "logout{scope} at {at}");
        // After an app's logout, the app comes back without a password.
        if scope == "?scope=app" {
            let (decision, visited) = browser.follow(&world, &format!("{WIKI}/again"));
            assert_eq!(forward(decision).url, "https://wiki.internal/again");
            assert!(visited.iter().all(|v| !v.contains("/login")), "{visited:?}");
        }
    }
}

#[test]
fn an_apps_origin_logging_out_current_ends_that_apps_session_alone() {
    let status = |world: &World, browser: &Browser, origin: &str| {
        let u = format!("{origin}/x");
        let c = browser.cookie_header(origin);
        match world.handle(get(&u, Some(&c))).action {
            Action::Forward(_) => 200,
            Action::Reply(r) => r.status,
        }
    };
    for (origin, expected) in [(WIKI, [401, 200, 200]), (ACCOUNTS, [401, 401, 401])] {
        let world = apps_world(&[]);
        let browser = Browser::default();
        sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
        browser.follow(&world, &format!("{TOOLS}/"));
        let fwd = forward(browser.open(&world, &format!("{origin}/bye")));
        let (_, log) = world.after(
            &fwd,
            Directives {
                login: None,
                logout: Some("current"),
            },
        );
        assert_eq!(log.event, Some("logout"));
        // At an app, `current` is the app's session; at AUTH_HOST, the sign-in.
        let found = [WIKI, TOOLS, ACCOUNTS].map(|o| status(&world, &browser, o));
        assert_eq!(found, expected, "Sessiongate-Logout: current from {origin}");
    }
}

#[test]
fn the_admin_api_ends_every_apps_session() {
    let world = apps_world(&[]);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
    browser.follow(&world, &format!("{TOOLS}/"));
    let u = format!("{WIKI}/.sessiongate/admin/users/alice/sessions");
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let r = reply(world.handle(Inbound {
        method: "DELETE",
        authorization: Some(&bearer),
        ..get(&u, None)
    }));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["revoked"], 3, "the sign-in and two apps' sessions");
    for origin in [WIKI, TOOLS, ACCOUNTS] {
        let u = format!("{origin}/x");
        let c = browser.cookie_header(origin);
        assert_eq!(
            reply(world.handle(get(&u, Some(&c)))).status,
            401,
            "{origin}"
        );
    }
}

#[test]
fn the_session_limit_counts_sign_ins_not_apps() {
    let world = apps_world(&[("MAX_SESSIONS_PER_USER", "1")]);
    let first = Browser::default();
    sign_in_from(&world, &first, &format!("{WIKI}/"), "alice", &[]);
    first.follow(&world, &format!("{TOOLS}/"));
    let u = format!("{WIKI}/.sessiongate/sessions");
    let c = first.cookie_header(WIKI);
    let r = reply(world.handle(get(&u, Some(&c))));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["sessions"].as_array().unwrap().len(), 3);
    // A second sign-in ends the first, and the apps' sessions it started.
    let second = Browser::default();
    sign_in_from(&world, &second, &format!("{WIKI}/"), "alice", &[]);
    assert_eq!(
        reply(world.handle(get(
            &format!("{TOOLS}/x"),
            Some(&first.cookie_header(TOOLS))
        )))
        .status,
        401
    );
    let r = reply(world.handle(get(&u, Some(&second.cookie_header(WIKI)))));
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let app = sessions.iter().find(|s| s["app"] == "wiki").unwrap();
    let signin = sessions.iter().find(|s| s.get("app").is_none()).unwrap();
    assert_eq!(app["signin"], signin["sid"]);
}

#[test]
fn the_log_and_data_point_name_the_app() {
    let world = apps_world(&[]);
    let r = world.handle(get(&format!("{DOCS}/x"), None));
    assert_eq!(r.log.app.as_deref(), Some("wiki"));
    assert!(r.log.line(1).starts_with(r#"{"app":"wiki","#));
    let point = serde_json::to_value(r.log.data_point(1)).unwrap();
    assert_eq!(point["blobs"][5], "wiki");
}

#[test]
fn bearer_tokens_must_name_the_apps_audience() {
    let world = apps_world(&[]);
    let wiki = &world.config.apps.named("wiki").unwrap().bearer;
    assert_eq!(
        wiki.as_ref().map(|b| b.audience.as_str()),
        Some("https://wiki.example.com/api")
    );
    assert!(world.config.apps.named("tools").unwrap().bearer.is_none());
}

#[test]
fn the_sessions_page_lists_each_sign_in_with_its_apps_under_it() {
    let world = apps_world(&[]);
    let browser = Browser::default();
    sign_in_from(&world, &browser, &format!("{WIKI}/"), "alice", &[]);
    browser.follow(&world, &format!("{TOOLS}/"));
    let page = reply(browser.open(&world, &format!("{WIKI}/.sessiongate/sessions")));
    let rows: Vec<&str> = page
        .body
        .lines()
        .filter(|l| l.starts_with("<tr><td>"))
        .collect();
    assert_eq!(rows.len(), 3, "{}", page.body);
    assert!(!rows[0].contains('↳'), "the sign-in first: {}", rows[0]);
    let apps: Vec<bool> = rows[1..]
        .iter()
        .map(|r| r.contains("↳ wiki") || r.contains("↳ tools"))
        .collect();
    assert_eq!(apps, [true, true]);
    assert!(rows
        .iter()
        .any(|r| r.contains("↳ wiki <strong>(this device)</strong>")));
}
