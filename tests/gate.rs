//! The pipeline's decisions, natively: every test drives the sans-IO gate
//! the way `src/edge/driver.js` does, performing each store step against an
//! in-memory store with a fixed clock, and counts the KV operations it asks
//! for.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use sessiongate::assertion::{self, AssertionClaims, Expected};
use sessiongate::config::Config;
use sessiongate::gate::{
    Answer, Edits, Exchange, Forward, Gate, Inbound, Input, Log, OriginHead, Reply, Step,
};
use sessiongate::jwt;
use sessiongate::key::HmacKey;
use sessiongate::ledger::LedgerCache;
use sessiongate::record_cache::RecordCache;
use sessiongate::session::{self, Identity, Record};
use sessiongate::spent::Spent;
use sessiongate::store::{
    drive, perform, CountingStore, Counts, Fail, FailingStore, MemoryStore, SessionStore,
};
use sessiongate::throttle::Throttle;
use sessiongate::token::{KeyRing, Kid, SessionId, Token};

const NOW: u64 = 1_700_000_000;
const SITE: &str = "https://app.example.com";
const SESSION_KEY: &str = "session-key-session-key-session-key-1";
const OLD_SESSION_KEY: &str = "session-key-session-key-session-key-0";
const ASSERTION_KEY: &str = "assertion-key-assertion-key-assertion";
const HANDOFF_KEY: &str = "handoff-key-handoff-key-handoff-key-xx";
const ADMIN_TOKEN: &str = "admin-token-admin-token-admin-token-xx";

fn config_with(overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("ORIGIN_URL", "https://origin.internal".to_owned()),
        ("AUDIENCE", "app".to_owned()),
        ("PUBLIC_PATHS", "/login,/static/*".to_owned()),
        ("IDLE_TIMEOUT", "30m".to_owned()),
        ("ABSOLUTE_TIMEOUT", "12h".to_owned()),
        (
            "SESSION_KEYS",
            format!("k1:{SESSION_KEY},k0:{OLD_SESSION_KEY}"),
        ),
        ("ASSERTION_KEY", ASSERTION_KEY.to_owned()),
        ("HANDOFF_KEY", HANDOFF_KEY.to_owned()),
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
    ]);
    for (k, v) in overrides {
        vars.insert(k, (*v).to_owned());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test config is valid")
}

type Store = CountingStore<FailingStore<MemoryStore>>;

/// A clock that moves only when told to.
#[derive(Default)]
struct Clock(Cell<u64>);

impl Clock {
    fn now(&self) -> u64 {
        self.0.get()
    }

    fn advance(&self, seconds: u64) {
        self.0.set(self.0.get() + seconds);
    }
}

/// What the gate decided before any origin was asked.
#[derive(Debug)]
struct Decision {
    action: Action,
    log: Log,
}

#[derive(Debug)]
enum Action {
    Reply(Reply),
    Forward(Box<Forwarded>),
}

/// A forward, with its exchange waiting for the origin's answer.
#[derive(Debug)]
struct Forwarded {
    forward: Forward,
    exchange: RefCell<Option<Exchange>>,
}

impl std::ops::Deref for Forwarded {
    type Target = Forward;

    fn deref(&self) -> &Forward {
        &self.forward
    }
}

/// The origin's directives, as the test's origin answers them.
#[derive(Debug, Clone, Copy, Default)]
struct Directives<'a> {
    login: Option<&'a str>,
    logout: Option<&'a str>,
}

/// What became of the origin's response.
#[derive(Debug, PartialEq, Eq)]
enum Completion {
    Pass(Edits),
    Replace(Reply),
}

struct World {
    config: Config,
    store: Store,
    clock: Clock,
    throttle: Option<Throttle>,
    /// This isolate's copy of users' revocation states.
    ledger_cache: LedgerCache,
    /// This isolate's copies of session records.
    record_cache: RecordCache,
    spent: Spent,
}

impl World {
    fn new() -> Self {
        Self::with(config_with(&[]))
    }

    fn with(config: Config) -> Self {
        Self::with_store(config, MemoryStore::default())
    }

    fn with_store(config: Config, memory: MemoryStore) -> Self {
        let throttle = config.bad_token_limit.map(Throttle::new);
        Self {
            config,
            store: CountingStore::new(FailingStore::new(memory, Fail::Nothing)),
            clock: Clock(Cell::new(NOW)),
            throttle,
            ledger_cache: LedgerCache::default(),
            record_cache: RecordCache::default(),
            spent: Spent::default(),
        }
    }

    fn gate(&self) -> Gate<'_> {
        Gate {
            config: &self.config,
            throttle: self.throttle.as_ref(),
            ledger_cache: Some(&self.ledger_cache),
            record_cache: Some(&self.record_cache),
            spent: &self.spent,
            provider_cache: None,
        }
    }

    fn handle(&self, req: Inbound<'_>) -> Decision {
        let (mut exchange, step) = self.gate().start(&req, self.clock.now());
        match drive(&self.store, self.gate(), &mut exchange, step) {
            Step::Finish(Answer::Reply(reply), log) => Decision {
                action: Action::Reply(reply),
                log,
            },
            Step::Forward(forward) => Decision {
                action: Action::Forward(Box::new(Forwarded {
                    forward,
                    exchange: RefCell::new(Some(exchange)),
                })),
                log: Log::default(),
            },
            other => panic!("before the origin: {other:?}"),
        }
    }

    /// Hands the forwarded exchange the origin's 200 with `directives`.
    fn after(&self, forwarded: &Forwarded, directives: Directives<'_>) -> (Completion, Log) {
        let mut exchange = forwarded.exchange.borrow_mut().take().expect("one answer");
        let head = OriginHead {
            status: 200,
            login: directives.login.map(str::to_owned),
            logout: directives.logout.map(str::to_owned),
        };
        let step = exchange.resume(self.gate(), Input::Origin(Ok(head)));
        match drive(&self.store, self.gate(), &mut exchange, step) {
            Step::Finish(Answer::Pass(edits), log) => (Completion::Pass(edits), log),
            Step::Finish(Answer::Reply(reply), log) => (Completion::Replace(reply), log),
            other => panic!("after the origin: {other:?}"),
        }
    }

    fn memory(&self) -> &MemoryStore {
        self.store.inner().inner()
    }

    fn fail(&self, fail: Fail) {
        self.store.inner().set(fail);
    }

    /// A stored session for `uid`, started `age` seconds ago; returns its
    /// token (stamped now) and id.
    fn session(&self, uid: &str, age: u64) -> (String, SessionId) {
        let identity = Identity {
            claims: [("role".to_owned(), "admin".to_owned())].into(),
            ..Identity::new(uid, self.clock.now() - age)
        };
        self.session_of(identity, age)
    }

    /// A stored session for `identity`, started `age` seconds ago.
    fn session_of(&self, identity: Identity, age: u64) -> (String, SessionId) {
        let uid = identity.uid.clone();
        let id = SessionId::generate().unwrap();
        let now = self.clock.now();
        let record = self.config.policy.start(identity, now - age);
        let ttl = self.config.policy.ttl(&record, now);
        let hash = id.hash();
        self.memory()
            .put(&session::record_key(&hash), &record.to_json(), None, ttl)
            .unwrap();
        self.memory()
            .put(
                &session::index_key(&uid, &hash),
                "",
                Some(&record.index_metadata(None)),
                ttl,
            )
            .unwrap();
        (self.config.session_keys.mint(&id, now), id)
    }

    fn counts(&self) -> Counts {
        self.store.counts()
    }

    /// A POST to the public login page whose response hands `uid` in.
    fn log_in(&self, uid: &str, user_agent: Option<&str>) -> (Completion, Log) {
        let u = url("/login");
        let req = Inbound {
            method: "POST",
            user_agent,
            ..get(&u, None)
        };
        let fwd = forward(self.handle(req));
        let handoff = jwt::sign(
            &HmacKey::new(HANDOFF_KEY.as_bytes()),
            &serde_json::json!({"sub": uid, "exp": NOW + 60}),
        );
        self.after(
            &fwd,
            Directives {
                login: Some(&handoff),
                logout: None,
            },
        )
    }
}

fn get<'a>(path: &'a str, cookie: Option<&'a str>) -> Inbound<'a> {
    Inbound {
        method: "GET",
        url: path,
        cookie,
        accept: Some("application/json"),
        ..Inbound::default()
    }
}

/// A browser opening `u` with the cookie header `c`.
fn navigation<'a>(u: &'a str, c: &'a str) -> Inbound<'a> {
    Inbound {
        accept: Some("text/html,application/xhtml+xml"),
        ..get(u, Some(c))
    }
}

fn url(path: &str) -> String {
    format!("{SITE}{path}")
}

fn cookie(token: &str) -> String {
    format!("__Host-sg={token}")
}

fn reply(decision: Decision) -> Reply {
    match decision.action {
        Action::Reply(r) => r,
        Action::Forward(f) => panic!("expected a reply, got a forward to {}", f.url),
    }
}

fn forward(decision: Decision) -> Forwarded {
    match decision.action {
        Action::Forward(f) => *f,
        Action::Reply(r) => panic!("expected a forward, got {} {}", r.status, r.body),
    }
}

fn reason(reply: &Reply) -> String {
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    body["reason"].as_str().unwrap_or_default().to_owned()
}

fn set_cookies(reply: &Reply) -> Vec<&str> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| *n == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect()
}

fn token_in(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-sg=")
}

/// The verified assertion of a forwarded `GET /dashboard`.
fn dashboard_assertion(fwd: &Forwarded) -> AssertionClaims {
    let (_, assertion) = fwd
        .headers
        .iter()
        .find(|(n, _)| *n == assertion::HEADER)
        .unwrap();
    let expected = Expected {
        audience: "app",
        method: "GET",
        path_and_query: "/dashboard",
        now: NOW,
        leeway: 0,
    };
    AssertionClaims::verify(
        &HmacKey::new(ASSERTION_KEY.as_bytes()),
        assertion,
        &expected,
    )
    .unwrap()
}

fn ring(keys: &[(&str, &str)]) -> KeyRing {
    KeyRing::new(
        keys.iter()
            .map(|(k, s)| (Kid::parse(k).unwrap(), HmacKey::new(s.as_bytes())))
            .collect(),
    )
    .unwrap()
}

mod authenticated_requests {
    use super::*;

    #[test]
    fn cost_exactly_one_read_and_no_write() {
        let world = World::new();
        let (token, _) = world.session("alice", 60);
        let c = cookie(&token);
        let u = url("/dashboard");
        let fwd = forward(world.handle(get(&u, Some(&c))));
        assert_eq!(
            world.counts(),
            Counts {
                reads: 1,
                ..Counts::default()
            }
        );
        let (completion, _) = world.after(&fwd, Directives::default());
        assert_eq!(
            completion,
            Completion::Pass(Edits::default()),
            "no re-stamp within a quarter of the idle window"
        );
        assert_eq!(world.counts().total(), 1);
    }

    #[test]
    fn are_forwarded_with_an_assertion_bound_to_method_and_path() {
        let world = World::new();
        let (token, id) = world.session("alice", 60);
        let c = format!("a=1; {}; b=2", cookie(&token));
        let u = url("/api/items?page=2");
        let req = Inbound {
            method: "DELETE",
            sec_fetch_site: Some("same-origin"),
            ..get(&u, Some(&c))
        };
        let fwd = forward(world.handle(req));
        assert_eq!(fwd.url, "https://origin.internal/api/items?page=2");
        assert_eq!(
            fwd.cookie,
            sessiongate::gate::CookieHeader::Replace("a=1; b=2".to_owned())
        );
        let header = |name: &str| {
            fwd.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(header("x-sessiongate-user"), "alice");
        let expected = Expected {
            audience: "app",
            method: "DELETE",
            path_and_query: "/api/items?page=2",
            now: NOW,
            leeway: 0,
        };
        let claims = AssertionClaims::verify(
            &HmacKey::new(ASSERTION_KEY.as_bytes()),
            &header(assertion::HEADER),
            &expected,
        )
        .unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.sid, id.hash().sid());
        assert_eq!(claims.iat, NOW);
        assert_eq!(claims.exp, NOW + 60);
        assert_eq!(claims.auth_time, NOW - 60, "when the session began");
        assert_eq!(claims.claims.get("role").map(String::as_str), Some("admin"));
    }

    #[test]
    fn are_restamped_after_a_quarter_of_the_idle_window_keeping_the_id() {
        let world = World::new();
        let (token, id) = world.session("alice", 3600);
        world.clock.advance(450);
        let c = cookie(&token);
        let u = url("/dashboard");
        let fwd = forward(world.handle(get(&u, Some(&c))));
        let (completion, _) = world.after(&fwd, Directives::default());
        let Completion::Pass(Edits {
            set_cookies: cookies,
            ..
        }) = completion
        else {
            panic!("{completion:?}")
        };
        assert_eq!(cookies.len(), 1);
        let restamped: Token = token_in(&cookies[0]).parse().unwrap();
        assert_eq!(restamped.id(), &id);
        assert_eq!(restamped.stamp(), NOW + 450);
        // Max-Age runs to the absolute deadline: 12 h from login.
        assert!(
            cookies[0].ends_with(&format!("Max-Age={}", 43_200 - 3600 - 450)),
            "{}",
            cookies[0]
        );
        assert_eq!(
            world.counts(),
            Counts {
                reads: 1,
                ..Counts::default()
            },
            "re-stamping writes nothing"
        );
    }

    #[test]
    fn under_a_retired_key_are_restamped_under_the_current_one() {
        let world = World::new();
        let (_, id) = world.session("alice", 60);
        let old = ring(&[("k0", OLD_SESSION_KEY)]).mint(&id, NOW);
        let c = cookie(&old);
        let u = url("/dashboard");
        let fwd = forward(world.handle(get(&u, Some(&c))));
        let (
            Completion::Pass(Edits {
                set_cookies: cookies,
                ..
            }),
            _,
        ) = world.after(&fwd, Directives::default())
        else {
            panic!()
        };
        let restamped: Token = token_in(&cookies[0]).parse().unwrap();
        assert_eq!(restamped.kid().as_str(), "k1");
        assert_eq!(restamped.id(), &id);
    }
}

mod rejected_requests {
    use super::*;

    #[test]
    fn without_a_cookie_get_401_missing_or_a_redirect_to_login() {
        let world = World::new();
        let u = url("/dashboard?tab=1");
        let r = reply(world.handle(get(&u, None)));
        assert_eq!(r.status, 401);
        assert_eq!(reason(&r), "missing");
        assert_eq!(r.header("www-authenticate"), Some("Session"));
        assert!(set_cookies(&r).is_empty());
        let nav = Inbound {
            accept: Some("text/html,*/*"),
            ..get(&u, None)
        };
        let r = reply(world.handle(nav));
        assert_eq!(r.status, 303);
        assert_eq!(
            r.header("location"),
            Some("/login?return_to=/dashboard%3Ftab%3D1")
        );
        let head = Inbound {
            method: "HEAD",
            accept: Some("text/html"),
            ..get(&u, None)
        };
        assert_eq!(
            reply(world.handle(head)).status,
            303,
            "HEAD navigates like GET"
        );
        let post = Inbound {
            method: "POST",
            accept: Some("text/html"),
            ..get(&u, None)
        };
        assert_eq!(
            reply(world.handle(post)).status,
            401,
            "only GET and HEAD are navigations"
        );
        assert_eq!(world.counts().total(), 0);
    }

    #[test]
    fn with_forged_malformed_or_idle_expired_tokens_cost_no_kv_operation() {
        let world = World::new();
        let (token, id) = world.session("alice", 60);
        let forged = ring(&[("k1", "not-the-key-not-the-key-not-the-key")]).mint(&id, NOW);
        let stale = world.config.session_keys.mint(&id, NOW - 1800);
        let future = world.config.session_keys.mint(&id, NOW + 61);
        let cases = [
            (forged, "invalid"),
            (token[..token.len() - 1].to_owned(), "invalid"),
            ("garbage\u{1}\u{7f}ÿ".to_owned(), "invalid"),
            ("x".repeat(10_000), "invalid"),
            (future, "invalid"),
            (stale, "expired"),
        ];
        let u = url("/dashboard");
        for (token, expected) in cases {
            let c = cookie(&token);
            let r = reply(world.handle(get(&u, Some(&c))));
            assert_eq!(
                (r.status, reason(&r).as_str()),
                (401, expected),
                "{}",
                &token[..token.len().min(40)]
            );
            assert!(
                set_cookies(&r)[0].contains("Max-Age=0"),
                "a failed cookie is cleared"
            );
        }
        assert_eq!(world.counts().total(), 0);
    }

    #[test]
    fn with_two_session_cookies_are_invalid() {
        let world = World::new();
        let (a, _) = world.session("alice", 60);
        let (b, _) = world.session("bob", 60);
        let c = format!("{}; {}", cookie(&a), cookie(&b));
        let u = url("/dashboard");
        let r = reply(world.handle(get(&u, Some(&c))));
        assert_eq!(reason(&r), "invalid");
        let same_twice = format!("{}, {}", cookie(&a), cookie(&a));
        assert_eq!(
            reason(&reply(world.handle(get(&u, Some(&same_twice))))),
            "invalid"
        );
        assert_eq!(world.counts().total(), 0);
    }

    #[test]
    fn whose_record_is_gone_are_revoked_after_one_read() {
        let world = World::new();
        let token = world
            .config
            .session_keys
            .mint(&SessionId::generate().unwrap(), NOW);
        let (c, u) = (cookie(&token), url("/dashboard"));
        let r = reply(world.handle(get(&u, Some(&c))));
        assert_eq!(reason(&r), "revoked");
        assert_eq!(
            world.counts(),
            Counts {
                reads: 1,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn past_the_absolute_deadline_are_expired_and_the_record_deleted() {
        let world = World::new();
        let (_, id) = world.session("alice", 43_200);
        let token = world.config.session_keys.mint(&id, NOW);
        let (c, u) = (cookie(&token), url("/dashboard"));
        let r = reply(world.handle(get(&u, Some(&c))));
        assert_eq!(reason(&r), "expired");
        assert!(
            world.memory().keys().is_empty(),
            "record and index entry deleted: {:?}",
            world.memory().keys()
        );
    }

    #[test]
    fn idle_expiry_starts_exactly_at_the_idle_deadline() {
        let world = World::new();
        let (token, _) = world.session("alice", 60);
        let (c, u) = (cookie(&token), url("/dashboard"));
        world.clock.advance(1799);
        forward(world.handle(get(&u, Some(&c))));
        world.clock.advance(1);
        assert_eq!(reason(&reply(world.handle(get(&u, Some(&c))))), "expired");
    }
}

mod csrf {
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
}

mod paths {
    use super::*;

    #[test]
    fn public_paths_are_forwarded_without_assertion_or_kv_read() {
        let world = World::new();
        let (token, _) = world.session("alice", 60);
        let c = format!("{}; theme=dark", cookie(&token));
        let u = url("/static/app.css");
        let fwd = forward(world.handle(get(&u, Some(&c))));
        assert!(fwd.headers.is_empty());
        assert_eq!(
            fwd.cookie,
            sessiongate::gate::CookieHeader::Replace("theme=dark".to_owned())
        );
        assert_eq!(world.counts().total(), 0);
    }

    #[test]
    fn tricks_are_refused_or_stay_protected() {
        let world = World::new();
        for (path, status) in [
            ("/static/%2e%2e/admin", 400),
            ("/static/..%2fadmin", 400),
            ("/static/..;/admin", 400),
            ("/static/%252e%252e/admin", 400),
            ("/static%5c..%5cadmin", 400),
            ("//static/app.css", 401),
            ("/STATIC/app.css", 401),
            ("/static", 401),
        ] {
            let u = url(path);
            assert_eq!(reply(world.handle(get(&u, None))).status, status, "{path}");
        }
    }

    #[test]
    fn the_origin_receives_the_normalised_path() {
        let world = World::new();
        let u = url("/static/%61pp.css?v=%2F");
        assert_eq!(
            forward(world.handle(get(&u, None))).url,
            "https://origin.internal/static/app.css?v=%2F"
        );
    }

    #[test]
    fn unsafe_return_to_is_dropped_on_the_way_to_the_login_page() {
        let world = World::new();
        let u = url("/login?return_to=%2F%2Fevil.example&x=1");
        assert_eq!(
            forward(world.handle(get(&u, None))).url,
            "https://origin.internal/login?x=1"
        );
        let u = url("/login?return_to=%2Fdashboard");
        assert_eq!(
            forward(world.handle(get(&u, None))).url,
            "https://origin.internal/login?return_to=%2Fdashboard"
        );
    }
}

mod login {
    use super::*;

    fn handoff(claims: serde_json::Value) -> String {
        jwt::sign(&HmacKey::new(HANDOFF_KEY.as_bytes()), &claims)
    }

    fn login_as(world: &World, cookie_header: Option<&str>, token: &str) -> (Completion, Log) {
        let u = url("/login");
        let req = Inbound {
            method: "POST",
            ..get(&u, cookie_header)
        };
        let fwd = forward(world.handle(req));
        world.after(
            &fwd,
            Directives {
                login: Some(token),
                logout: None,
            },
        )
    }

    #[test]
    fn starts_a_session_with_one_cookie_a_record_and_an_index_entry() {
        let world = World::new();
        let token = handoff(
            serde_json::json!({"sub": "alice", "exp": NOW + 60, "claims": {"tenant": "t1"}}),
        );
        let (completion, log) = login_as(&world, None, &token);
        let Completion::Pass(Edits {
            set_cookies: cookies,
            headers,
            directives: true,
        }) = completion
        else {
            panic!("{completion:?}")
        };
        let no_store = ("cache-control", "no-store".to_owned());
        assert_eq!(
            headers[0], no_store,
            "a response carrying a new session is never cached"
        );
        let (name, offer) = &headers[1];
        assert_eq!(*name, "secure-session-registration");
        assert!(
            offer.starts_with("(ES256);path=\"/.sessiongate/dbsc/register\";challenge=\"k1."),
            "{offer}"
        );
        assert_eq!(headers.len(), 2);
        assert_eq!(cookies.len(), 1);
        assert!(
            cookies[0].ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=43200"),
            "{}",
            cookies[0]
        );
        let session: Token = token_in(&cookies[0]).parse().unwrap();
        let hash = session.id().hash();
        let record =
            Record::from_json(&world.memory().value(&session::record_key(&hash)).unwrap()).unwrap();
        assert_eq!(
            (record.uid.as_str(), record.iat, record.abs_exp),
            ("alice", NOW, NOW + 43_200)
        );
        assert_eq!(record.claims.get("tenant").map(String::as_str), Some("t1"));
        assert_eq!(
            world.memory().ttl(&session::record_key(&hash)),
            Some(43_200)
        );
        assert_eq!(
            world.memory().ttl(&session::index_key("alice", &hash)),
            Some(43_200)
        );
        assert_eq!(log.event, Some("login"));
        assert_eq!(log.sid, Some(hash.sid()));
        assert_eq!(
            world.counts(),
            Counts {
                writes: 2,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn a_handoffs_email_groups_and_auth_time_reach_the_record_the_assertion_and_the_session() {
        let world = World::new();
        let token = handoff(serde_json::json!({
            "sub": "alice", "exp": NOW + 60, "email": "alice@example.com",
            "groups": ["admins", "staff"], "auth_time": NOW - 600,
        }));
        let (Completion::Pass(edits), _) = login_as(&world, None, &token) else {
            panic!()
        };
        let session: Token = token_in(&edits.set_cookies[0]).parse().unwrap();
        let stored = world
            .memory()
            .value(&session::record_key(&session.id().hash()))
            .unwrap();
        let record = Record::from_json(&stored).unwrap();
        assert_eq!(record.email.as_deref(), Some("alice@example.com"));
        assert_eq!(record.groups, ["admins", "staff"]);
        assert_eq!(
            (record.auth_time, record.iat),
            (Some(NOW - 600), NOW),
            "authenticated before the session began"
        );

        let c = cookie(token_in(&edits.set_cookies[0]));
        let claims = dashboard_assertion(&forward(world.handle(get(&url("/dashboard"), Some(&c)))));
        assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
        assert_eq!(claims.groups, ["admins", "staff"]);
        assert_eq!(claims.auth_time, NOW - 600);

        let u = url("/.sessiongate/session");
        let body: serde_json::Value =
            serde_json::from_str(&reply(world.handle(get(&u, Some(&c)))).body).unwrap();
        assert_eq!(body["email"], "alice@example.com");
        assert_eq!(body["groups"], serde_json::json!(["admins", "staff"]));
        assert_eq!(body["auth_time"], NOW - 600);
        assert_eq!(body["iat"], NOW);
    }

    #[test]
    fn a_record_written_before_identity_still_authenticates() {
        let world = World::new();
        let id = SessionId::generate().unwrap();
        let hash = id.hash();
        // A record exactly as the previous version wrote it.
        let old = format!(
            r#"{{"v":1,"uid":"alice","iat":{},"abs_exp":{},"claims":{{"role":"admin"}}}}"#,
            NOW - 300,
            NOW + 3600
        );
        world
            .memory()
            .put(&session::record_key(&hash), &old, None, 3600)
            .unwrap();
        let c = cookie(&world.config.session_keys.mint(&id, NOW));
        let claims = dashboard_assertion(&forward(world.handle(get(&url("/dashboard"), Some(&c)))));
        assert_eq!(claims.auth_time, NOW - 300, "its iat");
        assert_eq!((claims.email, claims.groups), (None, Vec::new()));
        assert_eq!(
            world.memory().value(&session::record_key(&hash)),
            Some(old),
            "read, not rewritten"
        );
    }

    #[test]
    fn ends_the_session_the_request_came_with() {
        let world = World::new();
        let (old, old_id) = world.session("mallory", 60);
        let c = cookie(&old);
        let (
            Completion::Pass(Edits {
                set_cookies: cookies,
                ..
            }),
            _,
        ) = login_as(
            &world,
            Some(&c),
            &handoff(serde_json::json!({"sub": "alice", "exp": NOW + 60})),
        )
        else {
            panic!()
        };
        let new: Token = token_in(&cookies[0]).parse().unwrap();
        assert_ne!(new.id(), &old_id);
        let keys = world.memory().keys();
        assert!(
            !keys.iter().any(|k| k.contains(&old_id.hash().to_string())),
            "old session gone: {keys:?}"
        );
        assert_eq!(
            keys.len(),
            2,
            "only the new record and its index entry: {keys:?}"
        );
    }

    #[test]
    fn a_bad_handoff_is_logged_and_ignored() {
        let world = World::new();
        let other_key = jwt::sign(
            &HmacKey::new(ASSERTION_KEY.as_bytes()),
            &serde_json::json!({"sub": "a", "exp": NOW + 60}),
        );
        let cases = [
            (handoff(serde_json::json!({"exp": NOW + 60})), "missing_sub"),
            (
                handoff(serde_json::json!({"sub": "a", "exp": NOW + 121})),
                "exp_too_far_ahead",
            ),
            (
                handoff(serde_json::json!({"sub": "a", "exp": NOW - 1})),
                "expired",
            ),
            (other_key, "jwt_bad_signature"),
            ("not a jwt".to_owned(), "jwt_malformed"),
            (
                handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "email": "a"})),
                "bad_email",
            ),
            (
                handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "groups": [""]})),
                "bad_groups",
            ),
            (
                handoff(serde_json::json!({
                    "sub": "a", "exp": NOW + 60,
                    "groups": (0..65).map(|i| i.to_string()).collect::<Vec<_>>(),
                })),
                "too_many_groups",
            ),
            (
                handoff(
                    serde_json::json!({"sub": "a", "exp": NOW + 60, "groups": ["g".repeat(2100)]}),
                ),
                "groups_too_large",
            ),
            (
                handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "auth_time": NOW + 1})),
                "auth_time_in_future",
            ),
            (
                handoff(serde_json::json!({"sub": "a", "exp": NOW + 60, "auth_time": "now"})),
                "bad_auth_time",
            ),
        ];
        for (token, detail) in cases {
            let (completion, log) = login_as(&world, None, &token);
            let untouched_but_the_header = Edits {
                directives: true,
                ..Edits::default()
            };
            assert_eq!(
                completion,
                Completion::Pass(untouched_but_the_header),
                "{detail}"
            );
            assert_eq!(log.event, Some("login_rejected"));
            assert_eq!(log.detail.as_deref(), Some(detail));
        }
        assert!(world.memory().keys().is_empty());
        assert_eq!(world.counts().total(), 0);
    }

    #[test]
    fn a_store_failure_answers_503_and_sets_no_session() {
        let world = World::new();
        world.fail(Fail::Writes);
        let (completion, log) = login_as(
            &world,
            None,
            &handoff(serde_json::json!({"sub": "a", "exp": NOW + 60})),
        );
        let Completion::Replace(r) = completion else {
            panic!("{completion:?}")
        };
        assert_eq!(r.status, 503);
        assert!(set_cookies(&r)[0].contains("Max-Age=0"));
        assert_eq!(log.reason, Some("store_unavailable"));
    }
}

mod logout {
    use super::*;

    fn logout<'a>(u: &'a str, c: &'a str, accept: &'a str) -> Inbound<'a> {
        Inbound {
            method: "POST",
            accept: Some(accept),
            origin: Some(SITE),
            ..get(u, Some(c))
        }
    }

    #[test]
    fn ends_the_current_session_and_clears_the_cookie() {
        let world = World::new();
        let (token, _) = world.session("alice", 60);
        let (other, _) = world.session("alice", 60);
        let c = cookie(&token);
        let u = url("/.sessiongate/logout");
        let r = reply(world.handle(logout(&u, &c, "text/html")));
        assert_eq!((r.status, r.header("location")), (303, Some("/")));
        assert!(set_cookies(&r)[0].contains("Max-Age=0"));
        assert_eq!(r.header("clear-site-data"), Some("\"cache\""));
        assert_eq!(
            world.memory().keys().len(),
            2,
            "alice's other session stays"
        );
        let d = cookie(&other);
        let dashboard = url("/dashboard");
        forward(world.handle(get(&dashboard, Some(&d))));
        assert_eq!(
            reason(&reply(world.handle(get(&dashboard, Some(&c))))),
            "revoked"
        );
    }

    #[test]
    fn with_scope_all_ends_every_session_of_the_user_and_no_one_elses() {
        let world = World::new();
        let (token, _) = world.session("alice", 60);
        world.session("alice", 60);
        let (bob, _) = world.session("alice:b", 60);
        let c = cookie(&token);
        let u = url("/.sessiongate/logout?scope=all");
        let r = reply(world.handle(logout(&u, &c, "application/json")));
        assert_eq!(r.status, 204);
        let keys = world.memory().keys();
        assert_eq!(
            keys.len(),
            2,
            "only the user whose id starts alike keeps a session: {keys:?}"
        );
        assert!(keys
            .iter()
            .all(|k| k.starts_with("s:") || k.starts_with("u:alice:b:")));
        let (b, d) = (cookie(&bob), url("/dashboard"));
        forward(world.handle(get(&d, Some(&b))));
    }

    #[test]
    fn without_a_session_still_clears_the_cookie_and_must_be_a_post() {
        let world = World::new();
        let u = url("/.sessiongate/logout");
        let r = reply(world.handle(logout(&u, "", "application/json")));
        assert_eq!(r.status, 204);
        let cleared: Vec<_> = set_cookies(&r)
            .iter()
            .map(|c| c.split('=').next().unwrap().to_owned())
            .collect();
        assert_eq!(cleared, ["__Host-sg", "__Host-sg-bound"]);
        let r = reply(world.handle(get(&u, None)));
        assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
        let cross = Inbound {
            origin: Some("https://evil.example"),
            ..logout(&u, "", "text/html")
        };
        assert_eq!(reply(world.handle(cross)).status, 403);
    }

    #[test]
    fn the_origin_can_end_the_current_session_or_all_of_them() {
        let world = World::new();
        let (token, _) = world.session("alice", 60);
        world.session("alice", 60);
        let (c, u) = (cookie(&token), url("/account/close"));
        let fwd = forward(world.handle(get(&u, Some(&c))));
        let (
            Completion::Pass(Edits {
                set_cookies: cookies,
                headers,
                directives: true,
            }),
            log,
        ) = world.after(
            &fwd,
            Directives {
                login: None,
                logout: Some("current"),
            },
        )
        else {
            panic!()
        };
        assert!(cookies[0].contains("Max-Age=0"));
        assert!(headers.contains(&("clear-site-data", "\"cache\"".to_owned())));
        assert_eq!(log.event, Some("logout"));
        assert_eq!(world.memory().keys().len(), 2);

        let (token, _) = world.session("alice", 60);
        let c = cookie(&token);
        let fwd = forward(world.handle(get(&u, Some(&c))));
        let (_, log) = world.after(
            &fwd,
            Directives {
                login: None,
                logout: Some("all"),
            },
        );
        assert_eq!(log.event, Some("logout_all"));
        assert!(world.memory().keys().is_empty());
    }
}

mod endpoints {
    use super::*;

    #[test]
    fn session_describes_the_current_session() {
        let world = World::new();
        let (token, _) = world.session("alice", 60);
        let (c, u) = (cookie(&token), url("/.sessiongate/session"));
        let r = reply(world.handle(get(&u, Some(&c))));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["uid"], "alice");
        assert_eq!(body["claims"]["role"], "admin");
        assert_eq!(body["email"], serde_json::Value::Null);
        assert_eq!(body["groups"], serde_json::json!([]));
        assert_eq!(body["auth_time"], NOW - 60);
        assert_eq!(body["iat"], NOW - 60);
        assert_eq!(body["abs_exp"], NOW - 60 + 43_200);
        assert_eq!(body["idle_exp"], NOW + 1800);
        assert_eq!(reply(world.handle(get(&u, None))).status, 401);
    }

    #[test]
    fn a_user_lists_and_ends_their_own_sessions_only() {
        let world = World::new();
        let (mine, mine_id) = world.session("alice", 60);
        let (_, other_id) = world.session("alice", 120);
        let (_, bobs_id) = world.session("bob", 60);
        let c = cookie(&mine);
        let list = url("/.sessiongate/sessions");
        world.store.reset();
        let r = reply(world.handle(get(&list, Some(&c))));
        assert_eq!(
            world.counts(),
            Counts {
                reads: 1,
                lists: 1,
                ..Counts::default()
            }
        );
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let sessions = body["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2);
        let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["sid"], mine_id.hash().sid());

        let delete = |sid: String| {
            let u = url(&format!("/.sessiongate/sessions/{sid}"));
            reply(world.handle(Inbound {
                method: "DELETE",
                sec_fetch_site: Some("same-origin"),
                ..get(&u, Some(&c))
            }))
        };
        assert_eq!(
            delete(bobs_id.hash().sid()).status,
            404,
            "another user's session is not theirs to end"
        );
        let r = delete(other_id.hash().sid());
        assert_eq!(r.status, 204);
        assert!(set_cookies(&r).is_empty(), "the current session stays");
        assert!(world
            .memory()
            .value(&session::record_key(&other_id.hash()))
            .is_none());
        let r = delete(mine_id.hash().sid());
        assert!(
            set_cookies(&r)[0].contains("Max-Age=0"),
            "ending the current one clears its cookie"
        );
        assert!(world
            .memory()
            .value(&session::record_key(&bobs_id.hash()))
            .is_some());
    }

    #[test]
    fn ending_one_of_ones_sessions_is_refused_cross_site() {
        let world = World::new();
        let (mine, _) = world.session("alice", 60);
        let (_, other_id) = world.session("alice", 60);
        let (c, u) = (
            cookie(&mine),
            url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid())),
        );
        let cross = Inbound {
            method: "DELETE",
            origin: Some("https://evil.example"),
            ..get(&u, Some(&c))
        };
        assert_eq!(reply(world.handle(cross)).status, 403);
        assert!(world
            .memory()
            .value(&session::record_key(&other_id.hash()))
            .is_some());
    }

    #[test]
    fn health_reports_whether_kv_answers() {
        let world = World::new();
        let u = url("/.sessiongate/health");
        assert_eq!(reply(world.handle(get(&u, None))).status, 200);
        world.fail(Fail::Reads);
        assert_eq!(reply(world.handle(get(&u, None))).status, 503);
    }

    #[test]
    fn unknown_reserved_paths_are_404_and_never_forwarded() {
        let world = World::new();
        for path in [
            "/.sessiongate",
            "/.sessiongate/",
            "/.sessiongate/nope",
            "/.sessiongate/admin/users",
        ] {
            let u = url(path);
            assert_eq!(reply(world.handle(get(&u, None))).status, 404, "{path}");
        }
    }
}

mod admin {
    use super::*;

    fn admin<'a>(method: &'a str, u: &'a str, authorization: Option<&'a str>) -> Inbound<'a> {
        Inbound {
            method,
            authorization,
            ..get(u, None)
        }
    }

    #[test]
    fn needs_the_bearer_token() {
        let world = World::new();
        let u = url("/.sessiongate/admin/users/alice/sessions");
        let r = reply(world.handle(admin("GET", &u, None)));
        assert_eq!(
            (r.status, r.header("www-authenticate")),
            (401, Some("Bearer"))
        );
        let wrong = format!("Bearer {ADMIN_TOKEN}x");
        assert_eq!(
            reply(world.handle(admin("GET", &u, Some(&wrong)))).status,
            403
        );
        assert_eq!(
            reply(world.handle(admin("GET", &u, Some(ADMIN_TOKEN)))).status,
            401,
            "the scheme is required"
        );
        let in_query = url(&format!(
            "/.sessiongate/admin/users/alice/sessions?token={ADMIN_TOKEN}"
        ));
        assert_eq!(
            reply(world.handle(admin("GET", &in_query, None))).status,
            401
        );
        assert_eq!(world.counts().total(), 0);
    }

    #[test]
    fn lists_and_revokes_a_users_sessions() {
        let world = World::new();
        let (_, a) = world.session("alice@example.com", 60);
        world.session("alice@example.com", 120);
        world.session("bob", 60);
        let bearer = format!("bearer {ADMIN_TOKEN}");
        let u = url("/.sessiongate/admin/users/alice%40example.com/sessions");
        let r = reply(world.handle(admin("GET", &u, Some(&bearer))));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let sessions = body["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2);
        assert!(sessions
            .iter()
            .any(|s| s["sid"] == a.hash().sid() && s["iat"] == NOW - 60));
        assert_eq!(
            world.counts(),
            Counts {
                lists: 1,
                ..Counts::default()
            },
            "listing reads no record"
        );

        let r = reply(world.handle(admin("DELETE", &u, Some(&bearer))));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["revoked"], 2);
        assert_eq!(world.memory().keys().len(), 2, "bob keeps his session");
    }

    #[test]
    fn is_off_without_an_admin_token() {
        let mut config = config_with(&[]);
        config.admin_token = None;
        let world = World::with(config);
        let u = url("/.sessiongate/admin/users/alice/sessions");
        let auth = format!("Bearer {ADMIN_TOKEN}");
        assert_eq!(
            reply(world.handle(admin("GET", &u, Some(&auth)))).status,
            404
        );
    }
}

mod failures {
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
}

mod headers {
    use sessiongate::gate::is_stripped_inbound;

    #[test]
    fn every_spelling_of_ours_and_method_overrides_are_stripped() {
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
}

mod logging {
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
}

mod throttling {
    use super::*;

    fn from<'a>(u: &'a str, c: &'a str, client: &'a str) -> Inbound<'a> {
        Inbound {
            client: Some(client),
            ..get(u, Some(c))
        }
    }

    #[test]
    fn a_client_past_the_limit_gets_429_before_any_token_check_or_kv_read() {
        let world = World::with(config_with(&[("BAD_TOKEN_LIMIT", "3/1m")]));
        let (good, _) = world.session("alice", 60);
        let u = url("/dashboard");
        let bad = cookie("sg1.k1.garbage");
        for _ in 0..3 {
            assert_eq!(
                reply(world.handle(from(&u, &bad, "203.0.113.7"))).status,
                401
            );
        }
        world.store.reset();
        let c = cookie(&good);
        let r = reply(world.handle(from(&u, &c, "203.0.113.7")));
        assert_eq!((r.status, r.header("retry-after")), (429, Some("60")));
        assert_eq!(
            world.counts().total(),
            0,
            "no KV read for a throttled client"
        );
        forward(world.handle(from(&u, &c, "198.51.100.1")));
        world.clock.advance(60);
        forward(world.handle(from(&u, &c, "203.0.113.7")));
    }

    #[test]
    fn only_invalid_tokens_count() {
        let world = World::with(config_with(&[("BAD_TOKEN_LIMIT", "1/1m")]));
        let (_, id) = world.session("alice", 60);
        let stale = cookie(&world.config.session_keys.mint(&id, NOW - 3600));
        let u = url("/dashboard");
        for _ in 0..3 {
            assert_eq!(
                reason(&reply(world.handle(from(&u, &stale, "203.0.113.7")))),
                "expired"
            );
            assert_eq!(
                reply(world.handle(Inbound {
                    client: Some("203.0.113.7"),
                    ..get(&u, None)
                }))
                .status,
                401
            );
        }
    }

    #[test]
    fn wrong_admin_tokens_count_too() {
        let world = World::with(config_with(&[("BAD_TOKEN_LIMIT", "2/1m")]));
        let u = url("/.sessiongate/admin/users/alice/sessions");
        let wrong = "Bearer wrong-token-wrong-token-wrong-token";
        let right = format!("Bearer {ADMIN_TOKEN}");
        let admin = |auth| Inbound {
            authorization: Some(auth),
            client: Some("203.0.113.7"),
            ..get(&u, None)
        };
        assert_eq!(reply(world.handle(admin(wrong))).status, 403);
        assert_eq!(reply(world.handle(admin(wrong))).status, 403);
        assert_eq!(reply(world.handle(admin(&right))).status, 429);
    }

    #[test]
    fn off_means_never() {
        let world = World::with(config_with(&[("BAD_TOKEN_LIMIT", "off")]));
        let u = url("/dashboard");
        let bad = cookie("sg1.k1.garbage");
        for _ in 0..100 {
            assert_eq!(
                reply(world.handle(from(&u, &bad, "203.0.113.7"))).status,
                401
            );
        }
    }
}

/// The step protocol itself: what the driver is asked to do, in what order,
/// and what happens when its answers are not what the gate asked for.
mod steps {
    use super::*;
    use sessiongate::gate::{CookieHeader, Op, Outcome};

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
        let Step::Store(ops) = exchange.resume(world.gate(), Input::Store(vec![Outcome::Done]))
        else {
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
        let wire: serde_json::Value =
            serde_json::from_str(&pass.to_json(0, 12, false, &[])).unwrap();
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
}

mod public_directives {
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
}

mod return_to {
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
}

/// `MODE=report`: every refusal of a protected request, forwarded instead
/// with its verdict and no identity; the edge's hygiene unchanged.
mod report_mode {
    use super::*;
    use sessiongate::gate::VERDICT_HEADER;

    fn report() -> World {
        World::with(config_with(&[
            ("MODE", "report"),
            ("BAD_TOKEN_LIMIT", "1/1m"),
        ]))
    }

    #[test]
    fn each_refusal_is_forwarded_with_its_verdict_and_no_identity() {
        let world = report();
        let (token, id) = world.session("alice", 60);
        let forged = ring(&[("k1", "not-the-key-not-the-key-not-the-key")]).mint(&id, NOW);
        let stale = world.config.session_keys.mint(&id, NOW - 1800);
        let unknown = world
            .config
            .session_keys
            .mint(&SessionId::generate().unwrap(), NOW);
        let u = url("/dashboard");
        let (c_forged, c_stale, c_unknown, c_good) = (
            cookie(&forged),
            cookie(&stale),
            cookie(&unknown),
            cookie(&token),
        );
        let cases: Vec<(Inbound<'_>, &str)> = vec![
            (get(&u, None), "missing"),
            (get(&u, Some(&c_stale)), "expired"),
            (get(&u, Some(&c_unknown)), "revoked"),
            (
                Inbound {
                    method: "POST",
                    origin: Some("https://evil.example"),
                    ..get(&u, Some(&c_good))
                },
                "cross_site",
            ),
            (
                Inbound {
                    client: Some("203.0.113.7"),
                    ..get(&u, Some(&c_forged))
                },
                "invalid",
            ),
            (
                Inbound {
                    client: Some("203.0.113.7"),
                    ..get(&u, Some(&c_good))
                },
                "throttled",
            ),
        ];
        for (req, reason) in cases {
            let fwd = forward(world.handle(req));
            assert_eq!(
                fwd.headers,
                [(VERDICT_HEADER, format!("deny; reason={reason}"))],
                "no assertion, no user header"
            );
            let (completion, log) = world.after(&fwd, Directives::default());
            assert_eq!(completion, Completion::Pass(Edits::default()), "{reason}");
            assert_eq!(
                (log.decision, log.reason, log.mode, log.status),
                ("reject", Some(reason), Some("report"), 200)
            );
        }
    }

    #[test]
    fn a_store_failure_is_forwarded_as_a_verdict_too() {
        let world = report();
        let (token, _) = world.session("alice", 60);
        world.fail(Fail::Everything);
        let (c, u) = (cookie(&token), url("/dashboard"));
        let fwd = forward(world.handle(get(&u, Some(&c))));
        assert_eq!(
            fwd.headers,
            [(VERDICT_HEADER, "deny; reason=store_unavailable".to_owned())]
        );
    }

    #[test]
    fn an_authenticated_request_carries_its_identity_and_allow() {
        let world = report();
        let (token, _) = world.session("alice", 60);
        let (c, u) = (cookie(&token), url("/dashboard"));
        let fwd = forward(world.handle(get(&u, Some(&c))));
        let names: Vec<&str> = fwd.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [assertion::HEADER, "x-sessiongate-user", VERDICT_HEADER]
        );
        assert_eq!(fwd.headers[2].1, "allow");
    }

    #[test]
    fn malformed_paths_and_the_edges_own_endpoints_are_refused_as_ever() {
        let world = report();
        let u = url("/static/..%2fadmin");
        assert_eq!(reply(world.handle(get(&u, None))).status, 400);
        let u = url("/.sessiongate/session");
        assert_eq!(reply(world.handle(get(&u, None))).status, 401);
        let u = url("/.sessiongate/logout");
        let cross = Inbound {
            method: "POST",
            origin: Some("https://evil.example"),
            ..get(&u, None)
        };
        assert_eq!(reply(world.handle(cross)).status, 403);
    }

    #[test]
    fn enforce_mode_refuses_the_same_requests() {
        let world = World::new();
        let u = url("/dashboard");
        let r = reply(world.handle(get(&u, None)));
        assert_eq!(r.status, 401);
        assert!(r.header(VERDICT_HEADER).is_none());
    }
}

mod session_limit {
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
}

mod sessions_page {
    use super::*;

    #[test]
    fn lists_sessions_with_their_devices_and_forms() {
        let world = World::new();
        let (mine, mine_id) = world.session("alice", 60);
        let (_, other_id) = world.session("alice", 3600);
        let c = cookie(&mine);
        let u = url("/.sessiongate/sessions");
        let r = reply(world.handle(navigation(&u, &c)));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(r
            .header("content-security-policy")
            .is_some_and(|csp| csp.contains("frame-ancestors 'none'")));
        let html = &r.body;
        assert!(html.contains("(this device)"));
        assert!(html.contains(&format!(
            "action=\"/.sessiongate/sessions/{}\"",
            other_id.hash().sid()
        )));
        assert!(
            !html.contains(&format!("/.sessiongate/sessions/{}", mine_id.hash().sid())),
            "no End button for this device"
        );
        assert!(html.contains("action=\"/.sessiongate/logout?scope=all\""));
        let json = reply(world.handle(get(&u, Some(&c))));
        assert_eq!(json.header("content-type"), Some("application/json"));
    }

    #[test]
    fn a_form_post_ends_another_session_and_comes_back_to_the_page() {
        let world = World::new();
        let (mine, _) = world.session("alice", 60);
        let (_, other_id) = world.session("alice", 600);
        let c = cookie(&mine);
        let u = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
        let form = Inbound {
            method: "POST",
            origin: Some(SITE),
            accept: Some("text/html"),
            ..get(&u, Some(&c))
        };
        let r = reply(world.handle(form));
        assert_eq!(
            (r.status, r.header("location")),
            (303, Some("/.sessiongate/sessions"))
        );
        assert!(world
            .memory()
            .value(&session::record_key(&other_id.hash()))
            .is_none());
        let cross = Inbound {
            method: "POST",
            origin: Some("https://evil.example"),
            ..get(&u, Some(&c))
        };
        assert_eq!(reply(world.handle(cross)).status, 403);
    }

    #[test]
    fn the_device_a_login_came_from_is_kept_in_the_index_not_the_agent() {
        let world = World::new();
        let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
        world.log_in("alice", Some(ua));
        let (_, listed) = world
            .memory()
            .list("u:alice:", None)
            .unwrap()
            .0
            .into_iter()
            .map(|l| (l.name, l.metadata.unwrap()))
            .next()
            .unwrap();
        let meta: serde_json::Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(meta["device"], "Firefox on Linux");
        assert!(!listed.contains("Gecko"));
    }
}

mod reauthentication {
    use super::*;

    #[test]
    fn ending_other_sessions_needs_a_recent_login() {
        let world = World::with(config_with(&[("REAUTH_AFTER", "15m")]));
        let (old_login, _) = world.session("alice", 16 * 60);
        let (_, other_id) = world.session("alice", 60);
        let c = cookie(&old_login);
        let u = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
        let api = Inbound {
            method: "DELETE",
            sec_fetch_site: Some("same-origin"),
            ..get(&u, Some(&c))
        };
        let r = reply(world.handle(api));
        assert_eq!(
            (r.status, reason(&r).as_str()),
            (403, "reauthentication_required")
        );
        let form = Inbound {
            method: "POST",
            sec_fetch_site: Some("same-origin"),
            accept: Some("text/html"),
            ..get(&u, Some(&c))
        };
        let r = reply(world.handle(form));
        assert_eq!(
            (r.status, r.header("location")),
            (
                303,
                Some("/login?return_to=/.sessiongate/sessions&max_age=900")
            )
        );
        let all = url("/.sessiongate/logout?scope=all");
        let r = reply(world.handle(Inbound {
            method: "POST",
            sec_fetch_site: Some("same-origin"),
            ..get(&all, Some(&c))
        }));
        assert_eq!(
            r.status, 403,
            "logging out everywhere ends other sessions too"
        );
        assert!(world
            .memory()
            .value(&session::record_key(&other_id.hash()))
            .is_some());
        let own = url("/.sessiongate/logout");
        let r = reply(world.handle(Inbound {
            method: "POST",
            sec_fetch_site: Some("same-origin"),
            ..get(&own, Some(&c))
        }));
        assert_eq!(r.status, 204, "ending one's own session never needs it");
    }

    #[test]
    fn the_login_that_counts_is_when_the_user_authenticated_not_when_the_session_began() {
        let world = World::with(config_with(&[("REAUTH_AFTER", "15m")]));
        let (_, other_id) = world.session("alice", 60);
        // A session begun a minute ago from a single sign-on login of an hour ago.
        let handoff = jwt::sign(
            &HmacKey::new(HANDOFF_KEY.as_bytes()),
            &serde_json::json!({"sub": "alice", "exp": NOW + 60, "auth_time": NOW - 3600}),
        );
        let u = url("/login");
        let fwd = forward(world.handle(Inbound {
            method: "POST",
            ..get(&u, None)
        }));
        let (Completion::Pass(edits), _) = world.after(
            &fwd,
            Directives {
                login: Some(&handoff),
                logout: None,
            },
        ) else {
            panic!()
        };
        let c = cookie(token_in(&edits.set_cookies[0]));
        let u = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
        let r = reply(world.handle(Inbound {
            method: "DELETE",
            sec_fetch_site: Some("same-origin"),
            ..get(&u, Some(&c))
        }));
        assert_eq!(
            (r.status, reason(&r).as_str()),
            (403, "reauthentication_required")
        );
    }

    #[test]
    fn a_recent_login_or_off_ends_them_at_once() {
        for (vars, age) in [(vec![], 60), (vec![("REAUTH_AFTER", "off")], 11 * 3600)] {
            let world = World::with(config_with(&vars));
            let (mine, _) = world.session("alice", age);
            let (_, other_id) = world.session("alice", 60);
            let c = cookie(&mine);
            let u = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
            let r = reply(world.handle(Inbound {
                method: "DELETE",
                sec_fetch_site: Some("same-origin"),
                ..get(&u, Some(&c))
            }));
            assert_eq!(r.status, 204);
        }
    }
}

/// The revocation ledger (issue 10), natively: the store keeps the ledger
/// and the location's Cache API as maps, and `Fail::Ledger` cuts it off.
mod ledger {
    use super::*;
    use sessiongate::ledger::{cache_key, Cached};

    fn world() -> World {
        let mut config = config_with(&[("REVOCATION_STALENESS", "10")]);
        config.ledger = true;
        World::with(config)
    }

    fn status(world: &World, token: &str) -> (u16, String) {
        let (c, u) = (cookie(token), url("/dashboard"));
        match world.handle(get(&u, Some(&c))).action {
            Action::Forward(_) => (200, String::new()),
            Action::Reply(r) => (r.status, reason(&r)),
        }
    }

    #[test]
    fn a_first_request_reads_the_ledger_once_then_the_isolate_copy_serves() {
        let world = world();
        let (token, _) = world.session("alice", 60);
        world.store.reset();
        assert_eq!(status(&world, &token).0, 200);
        let first = world.counts();
        assert_eq!(
            (first.reads, first.ledger, first.cache),
            (1, 1, 1),
            "{first:?}"
        );
        world.store.reset();
        world.clock.advance(4);
        assert_eq!(status(&world, &token).0, 200);
        assert_eq!(
            (world.counts().ledger, world.counts().cache),
            (0, 0),
            "fresh in memory"
        );
    }

    #[test]
    fn a_session_ended_elsewhere_is_refused_once_the_copy_is_stale() {
        let world = world();
        let (token, id) = world.session("alice", 60);
        assert_eq!(status(&world, &token).0, 200);
        // Another location ends it: the ledger has it, this location's KV not yet.
        world
            .memory()
            .ledger_write(
                "alice",
                sessiongate::store::LedgerChange::Revoke {
                    hash: id.hash().to_string(),
                },
            )
            .unwrap();
        world.clock.advance(4);
        assert_eq!(status(&world, &token).0, 200, "within half the bound");
        world.clock.advance(6);
        assert_eq!(
            status(&world, &token),
            (401, "revoked".to_owned()),
            "a copy at the bound is never used"
        );
    }

    #[test]
    fn past_half_the_bound_the_answer_asks_for_a_refresh_in_the_background() {
        let world = world();
        let (token, _) = world.session("alice", 60);
        status(&world, &token);
        world.clock.advance(5);
        let (c, u) = (cookie(&token), url("/dashboard"));
        let fwd = forward(world.handle(get(&u, Some(&c))));
        let mut exchange = fwd.exchange.borrow_mut().take().unwrap();
        let head = OriginHead {
            status: 200,
            ..OriginHead::default()
        };
        assert!(matches!(
            exchange.resume(world.gate(), Input::Origin(Ok(head))),
            Step::Finish(Answer::Pass(_), _)
        ));
        let background = exchange.take_background();
        assert_eq!(
            background,
            [sessiongate::gate::Op::LedgerRead {
                uid: "alice".into()
            }]
        );
        let outcomes = perform(&world.store, &background);
        let writes = world.gate().absorb(&background, outcomes, NOW + 5);
        assert!(
            matches!(&writes[..], [sessiongate::gate::Op::CacheWrite { key, .. }] if *key == cache_key("alice"))
        );
    }

    #[test]
    fn another_isolates_copy_in_the_cache_api_is_used_while_fresh() {
        let world = world();
        let (token, _) = world.session("alice", 60);
        let cached = Cached {
            state: Default::default(),
            fetched_at: NOW - 3,
        };
        world
            .memory()
            .cache_write(
                &cache_key("alice"),
                &serde_json::to_string(&cached).unwrap(),
                10,
            )
            .unwrap();
        world.store.reset();
        assert_eq!(status(&world, &token).0, 200);
        assert_eq!((world.counts().cache, world.counts().ledger), (1, 0));
    }

    #[test]
    fn an_unreachable_ledger_fails_closed_when_no_copy_is_fresh() {
        let world = world();
        let (token, _) = world.session("alice", 60);
        world.fail(Fail::Ledger);
        let (c, u) = (cookie(&token), url("/dashboard"));
        let decision = world.handle(get(&u, Some(&c)));
        assert_eq!(decision.log.reason, Some("ledger_unavailable"));
        let r = reply(decision);
        assert_eq!(r.status, 503);
        assert_eq!(r.body, r#"{"error":"revocation_ledger_unavailable"}"#);
    }

    #[test]
    fn every_way_a_session_ends_writes_the_ledger_before_answering() {
        let world = world();
        let (token, id) = world.session("alice", 60);
        let (other, other_id) = world.session("alice", 60);
        let c = cookie(&token);
        let u = url("/.sessiongate/logout");
        let r = reply(world.handle(Inbound {
            method: "POST",
            sec_fetch_site: Some("same-origin"),
            ..get(&u, Some(&c))
        }));
        assert_eq!(r.status, 204);
        assert!(world
            .memory()
            .ledger("alice")
            .revoked
            .contains(&id.hash().to_string()));

        let c = cookie(&other);
        let all = url("/.sessiongate/logout?scope=all");
        world.handle(Inbound {
            method: "POST",
            sec_fetch_site: Some("same-origin"),
            ..get(&all, Some(&c))
        });
        let state = world.memory().ledger("alice");
        assert_eq!(state.revoked_before, Some(NOW));
        assert!(
            state.revoked.contains(&other_id.hash().to_string()),
            "a session of this very second is named too"
        );

        world.fail(Fail::Ledger);
        let (third, _) = world.session("alice", 0);
        let c = cookie(&third);
        let r = reply(world.handle(Inbound {
            method: "POST",
            sec_fetch_site: Some("same-origin"),
            ..get(&u, Some(&c))
        }));
        assert_eq!(r.status, 503, "no success before the ledger has it");
    }
}

/// The isolate's copies of session records (issue 19, DESIGN §14): a
/// record read once serves the session's later requests without a read,
/// the revocation check runs on every one, and every write or ending at
/// this isolate drops the copy at once.
mod record_cache {
    use super::*;
    use sessiongate::ledger::Cached;
    use sessiongate::store::SessionStore;

    /// Without the ledger, keeping records for a minute (its ceiling).
    fn world() -> World {
        World::with(config_with(&[("RECORD_CACHE", "60")]))
    }

    /// A request for the dashboard: its status and reason, and the KV
    /// reads it cost.
    fn dashboard(world: &World, token: &str) -> (u16, String, usize) {
        let (c, u) = (cookie(token), url("/dashboard"));
        let before = world.counts().reads;
        let (status, why) = match world.handle(get(&u, Some(&c))).action {
            Action::Forward(_) => (200, String::new()),
            Action::Reply(r) => (r.status, reason(&r)),
        };
        (status, why, world.counts().reads - before)
    }

    fn served(world: &World, token: &str) -> usize {
        let (status, why, reads) = dashboard(world, token);
        assert_eq!((status, why.as_str()), (200, ""));
        reads
    }

    fn revoked(world: &World, token: &str) {
        let (status, why, reads) = dashboard(world, token);
        assert_eq!(
            (status, why.as_str(), reads),
            (401, "revoked", 1),
            "read again, and gone"
        );
    }

    fn unbacked(world: &World, id: &SessionId) {
        world
            .memory()
            .delete(&session::record_key(&id.hash()))
            .unwrap();
    }

    #[test]
    fn a_record_read_once_serves_later_requests_without_a_read() {
        let world = world();
        let (token, _) = world.session("alice", 60);
        assert_eq!(served(&world, &token), 1, "a miss reads KV");
        assert_eq!(served(&world, &token), 0, "a hit does not");
        world.clock.advance(59);
        assert_eq!(served(&world, &token), 0);
        // The edge's own endpoints take the copy too, and see the same record.
        let c = cookie(&token);
        let r = reply(world.handle(get(&url("/.sessiongate/session"), Some(&c))));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            (body["uid"].as_str(), body["claims"]["role"].as_str()),
            (Some("alice"), Some("admin"))
        );
        assert_eq!(world.counts().reads, 1);
        world.clock.advance(1);
        assert_eq!(
            served(&world, &token),
            1,
            "a copy at its lifetime is read again"
        );
        assert_eq!(world.record_cache.len(), 1);
    }

    #[test]
    fn off_every_request_reads_kv() {
        for world in [
            World::new(),
            World::with(config_with(&[("RECORD_CACHE", "0")])),
            World::with(
                config_with(&[("RECORD_CACHE", "off")])
                    .bind_ledger(true)
                    .unwrap(),
            ),
        ] {
            assert_eq!(world.config.record_cache_s(), 0);
            let (token, id) = world.session("alice", 60);
            assert_eq!(served(&world, &token), 1);
            assert_eq!(served(&world, &token), 1);
            unbacked(&world, &id);
            revoked(&world, &token);
            assert!(world.record_cache.is_empty());
        }
    }

    #[test]
    fn with_the_ledger_records_are_kept_for_revocation_staleness_by_default() {
        let config = config_with(&[("REVOCATION_STALENESS", "10")])
            .bind_ledger(true)
            .unwrap();
        let world = World::with(config);
        assert_eq!(world.config.record_cache_s(), 10);
        let (token, _) = world.session("alice", 60);
        assert_eq!(served(&world, &token), 1);
        world.clock.advance(9);
        assert_eq!(served(&world, &token), 0);
        world.clock.advance(1);
        assert_eq!(served(&world, &token), 1);
    }

    #[test]
    fn a_record_deleted_behind_the_edges_back_serves_until_the_bound_and_not_past_it() {
        let world = world();
        let (token, id) = world.session("alice", 60);
        served(&world, &token);
        unbacked(&world, &id);
        world.clock.advance(59);
        assert_eq!(served(&world, &token), 0, "the copy does not know");
        world.clock.advance(1);
        revoked(&world, &token);
    }

    #[test]
    fn no_copy_outlives_the_records_absolute_deadline() {
        let world = world();
        // Begun 12 h less 30 s ago: 30 s left.
        let (token, id) = world.session("alice", 43_200 - 30);
        served(&world, &token);
        world.clock.advance(29);
        assert_eq!(served(&world, &token), 0);
        world.clock.advance(1);
        let (status, why, reads) = dashboard(&world, &token);
        assert_eq!((status, why.as_str(), reads), (401, "expired", 1));
        assert!(world
            .memory()
            .value(&session::record_key(&id.hash()))
            .is_none());
    }

    #[test]
    fn the_revocation_check_runs_on_a_copy() {
        let mut config = config_with(&[("REVOCATION_STALENESS", "10")]);
        config.ledger = true;
        let world = World::with(config);
        let (token, id) = world.session("alice", 60);
        served(&world, &token);
        // The isolate learns of a revocation made elsewhere.
        let state = sessiongate::ledger::LedgerState::default().with_revoked(id.hash().to_string());
        world.ledger_cache.put(
            "alice",
            Cached {
                state,
                fetched_at: NOW,
            },
        );
        let (status, why, reads) = dashboard(&world, &token);
        assert_eq!((status, why.as_str(), reads), (401, "revoked", 0));
    }

    #[test]
    fn every_ending_at_this_isolate_drops_the_copy_at_once() {
        let world = world();
        let fresh = |uid: &str| {
            let (token, id) = world.session(uid, 60);
            served(&world, &token);
            assert_eq!(served(&world, &token), 0, "cached");
            (token, id)
        };
        let post = |path: &str, token: &str| {
            let (c, u) = (cookie(token), url(path));
            reply(world.handle(Inbound {
                method: "POST",
                origin: Some(SITE),
                ..get(&u, Some(&c))
            }))
        };

        // Logout, and logout everywhere (a session only this isolate's copy knew).
        let (token, _) = fresh("alice");
        assert_eq!(post("/.sessiongate/logout", &token).status, 204);
        revoked(&world, &token);
        let (mine, _) = fresh("alice");
        let (other, _) = fresh("alice");
        assert_eq!(post("/.sessiongate/logout?scope=all", &mine).status, 204);
        revoked(&world, &other);

        // The origin's directives, current and all.
        for scope in ["current", "all"] {
            let (token, _) = fresh("bob");
            let (c, u) = (cookie(&token), url("/account"));
            let fwd = forward(world.handle(get(&u, Some(&c))));
            world.after(
                &fwd,
                Directives {
                    login: None,
                    logout: Some(scope),
                },
            );
            revoked(&world, &token);
        }

        // One of one's sessions ended from the list.
        let (mine, _) = fresh("carol");
        let (other, other_id) = fresh("carol");
        let ended = url(&format!("/.sessiongate/sessions/{}", other_id.hash().sid()));
        let c = cookie(&mine);
        let r = reply(world.handle(Inbound {
            method: "DELETE",
            sec_fetch_site: Some("same-origin"),
            ..get(&ended, Some(&c))
        }));
        assert_eq!(r.status, 204);
        revoked(&world, &other);

        // The admin API.
        let (token, _) = fresh("dan");
        let u = url("/.sessiongate/admin/users/dan/sessions");
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        let r = reply(world.handle(Inbound {
            method: "DELETE",
            authorization: Some(&bearer),
            ..get(&u, None)
        }));
        assert_eq!(r.status, 200);
        revoked(&world, &token);

        // A login replacing the session the browser came with.
        let (token, _) = fresh("erin");
        let (c, u) = (cookie(&token), url("/login"));
        let fwd = forward(world.handle(Inbound {
            method: "POST",
            ..get(&u, Some(&c))
        }));
        let handoff = jwt::sign(
            &HmacKey::new(HANDOFF_KEY.as_bytes()),
            &serde_json::json!({"sub": "erin", "exp": NOW + 60}),
        );
        world.after(
            &fwd,
            Directives {
                login: Some(&handoff),
                logout: None,
            },
        );
        revoked(&world, &token);
    }

    #[test]
    fn the_session_limit_drops_the_copy_of_the_session_it_ends() {
        let world = World::with(config_with(&[
            ("RECORD_CACHE", "60"),
            ("MAX_SESSIONS_PER_USER", "1"),
        ]));
        let (oldest, _) = world.session("alice", 300);
        served(&world, &oldest);
        world.log_in("alice", None);
        revoked(&world, &oldest);
    }

    #[test]
    fn a_read_answered_after_a_logout_here_is_not_kept() {
        let world = world();
        let (token, _) = world.session("alice", 60);
        let (c, u) = (cookie(&token), url("/dashboard"));
        // A request reads the record; the read is answered before the
        // logout deletes it, but reaches the gate after the logout is done.
        let (mut slow, step) = world.gate().start(&get(&u, Some(&c)), NOW);
        let Step::Store(ops) = step else {
            panic!("{step:?}")
        };
        let outcomes = perform(&world.store, &ops);
        let out = url("/.sessiongate/logout");
        let r = reply(world.handle(Inbound {
            method: "POST",
            origin: Some(SITE),
            ..get(&out, Some(&c))
        }));
        assert_eq!(r.status, 204);
        let step = slow.resume(world.gate(), Input::Store(outcomes));
        assert!(
            matches!(step, Step::Forward(_)),
            "served, as a read before the delete is"
        );
        assert!(world.record_cache.is_empty(), "but not kept");
        revoked(&world, &token);
    }

    #[test]
    fn health_says_how_long_a_record_is_kept() {
        for (world, secs) in [(World::new(), 0), (world(), 60)] {
            let u = url("/.sessiongate/health");
            let r = reply(world.handle(get(&u, None)));
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(body["record_cache_s"], secs);
        }
    }
}

mod device_binding {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use serde_json::{json, Value};
    use sessiongate::gate::{Op, Outcome};

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
            sessiongate::gate::CookieHeader::Remove,
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
        world.clock.advance(sessiongate::dbsc::BINDING_GRACE);
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
        world.clock.advance(sessiongate::dbsc::BINDING_GRACE - 1);
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
        world.clock.advance(sessiongate::dbsc::BINDING_GRACE);
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
        world.clock.advance(sessiongate::dbsc::BINDING_GRACE);
        let fwd = forward(world.handle(get(&url("/dashboard"), Some(&c))));
        let verdict = fwd
            .headers
            .iter()
            .find(|(n, _)| *n == sessiongate::gate::VERDICT_HEADER)
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
}

mod oidc {
    use super::*;
    use sessiongate::gate::{Op, Outcome};
    use sessiongate::oidc::form_encode;

    const ISSUER: &str = "https://id.example.com";

    fn world() -> World {
        World::with(config_with(&[
            ("OIDC_ISSUER", ISSUER),
            ("OIDC_CLIENT_ID", "app"),
            ("OIDC_CLIENT_SECRET", "s3cret"),
            ("OIDC_ALLOWED_DOMAINS", "example.com"),
        ]))
    }

    /// This location's Cache API holding the discovery document, fetched `age` seconds ago.
    fn cache_discovery(world: &World, age: u64) {
        let url = format!("{ISSUER}/.well-known/openid-configuration");
        let body = serde_json::json!({
            "issuer": ISSUER,
            "authorization_endpoint": "https://id.example.com/authorize",
            "token_endpoint": "https://id.example.com/token",
            "jwks_uri": "https://id.example.com/jwks",
        })
        .to_string();
        let entry = serde_json::json!({ "at": NOW - age, "body": body }).to_string();
        let key = format!("https://oidc.sessiongate.invalid/{}", form_encode(&url));
        world.memory().cache_write(&key, &entry, 3600).unwrap();
    }

    fn start(world: &World) -> Reply {
        let u = url("/.sessiongate/oidc/start?return_to=%2Fdashboard");
        reply(world.handle(Inbound {
            accept: Some("text/html"),
            ..get(&u, None)
        }))
    }

    #[test]
    fn a_login_redirect_goes_to_the_edge_start_which_goes_to_the_provider() {
        let world = world();
        let r = reply(world.handle(Inbound {
            accept: Some("text/html"),
            ..get(&url("/dashboard"), None)
        }));
        assert_eq!(
            r.header("location"),
            Some("/.sessiongate/oidc/start?return_to=/dashboard")
        );
        cache_discovery(&world, 60);
        let r = start(&world);
        assert_eq!(r.status, 303, "{}", r.body);
        let location = r.header("location").unwrap();
        assert!(
            location.starts_with("https://id.example.com/authorize?response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example.com%2F.sessiongate%2Foidc%2Fcallback&scope=openid%20email%20profile&state="),
            "{location}"
        );
        assert!(location.ends_with("&code_challenge_method=S256"));
        let state = set_cookies(&r)[0];
        assert!(state.starts_with("__Host-sg-oidc="), "{state}");
        assert!(state.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600"));
    }

    #[test]
    fn a_copy_of_the_discovery_document_past_an_hour_is_not_used() {
        let world = world();
        cache_discovery(&world, 3600);
        // The provider is asked instead; the native driver has no network,
        // so the sign-in fails closed with a page that says why.
        let r = start(&world);
        assert_eq!(r.status, 502);
        assert!(
            r.body.contains("<code>provider_unavailable</code>"),
            "{}",
            r.body
        );
        assert!(
            set_cookies(&r).iter().all(|c| c.contains("Max-Age=0")),
            "no state is set"
        );
    }

    #[test]
    fn a_callback_without_its_state_cookie_is_refused_before_any_io() {
        let world = world();
        let u = url("/.sessiongate/oidc/callback?code=c&state=s");
        let before = world.counts();
        let r = reply(world.handle(get(&u, None)));
        assert_eq!(
            (r.status, reason(&r).as_str()),
            (400, "state_cookie_missing")
        );
        assert_eq!(world.counts(), before);
        let backchannel = url("/.sessiongate/oidc/backchannel-logout");
        assert_eq!(reply(world.handle(get(&backchannel, None))).status, 405);
    }

    /// This location's Cache API holding the provider's keys: one RSA key,
    /// `k1` (never used: the driver below finds every signature good).
    fn cache_jwks(world: &World) {
        let body = serde_json::json!({
            "keys": [{ "kty": "RSA", "kid": "k1", "use": "sig", "n": "AQAB", "e": "AQAB" }],
        })
        .to_string();
        let entry = serde_json::json!({ "at": NOW, "body": body }).to_string();
        let key = format!(
            "https://oidc.sessiongate.invalid/{}",
            form_encode("https://id.example.com/jwks")
        );
        world.memory().cache_write(&key, &entry, 3600).unwrap();
    }

    /// A parameter of the provider URL a start sent the browser to.
    fn param(location: &str, name: &str) -> String {
        let query = location.split_once('?').unwrap().1;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_owned()
    }

    /// An ID token as the provider would sign it (the signature is not
    /// looked at: WebCrypto is the driver's, faked below).
    fn id_token(claims: serde_json::Value) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let header = serde_json::json!({ "alg": "RS256", "kid": "k1" });
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    /// A sign-in at the edge, as the JS driver would run it: the start
    /// (with `query`), then the callback, the provider answering the code
    /// with the ID token `claims` (plus `iss`, `aud`, `exp`, `iat`, `nonce`)
    /// and WebCrypto finding its signature good. The callback's answer.
    fn sign_in(world: &World, query: &str, claims: serde_json::Value) -> Reply {
        cache_discovery(world, 60);
        cache_jwks(world);
        let u = url(&format!(
            "/.sessiongate/oidc/start?return_to=%2Fadmin{query}"
        ));
        let started = reply(world.handle(Inbound {
            accept: Some("text/html"),
            ..get(&u, None)
        }));
        assert_eq!(started.status, 303, "{}", started.body);
        let location = started.header("location").unwrap();
        let mut claims = claims;
        claims.as_object_mut().unwrap().extend(
            serde_json::json!({
                "iss": ISSUER, "aud": "app", "exp": NOW + 300, "iat": NOW,
                "nonce": param(location, "nonce"),
            })
            .as_object()
            .unwrap()
            .clone(),
        );
        let token = id_token(claims);
        let state_cookie = set_cookies(&started)[0].split(';').next().unwrap();
        let u = url(&format!(
            "/.sessiongate/oidc/callback?code=c&state={}",
            param(location, "state")
        ));
        let req = Inbound {
            accept: Some("text/html"),
            ..get(&u, Some(state_cookie))
        };
        let (mut exchange, mut step) = world.gate().start(&req, world.clock.now());
        loop {
            step = match step {
                Step::Store(ops) => {
                    let outcomes = ops
                        .iter()
                        .map(|op| match op {
                            Op::Fetch { url, .. } if url.ends_with("/token") => {
                                let body =
                                    serde_json::json!({ "id_token": token, "access_token": "at" });
                                Outcome::Response {
                                    status: 200,
                                    body: body.to_string(),
                                }
                            }
                            Op::Verify { .. } => Outcome::Value(Some("valid".to_owned())),
                            other => perform(&world.store, std::slice::from_ref(other)).remove(0),
                        })
                        .collect();
                    exchange.resume(world.gate(), Input::Store(outcomes))
                }
                Step::Finish(Answer::Reply(reply), _) => return reply,
                other => panic!("a sign-in neither forwards nor passes: {other:?}"),
            }
        }
    }

    /// The record of the session a sign-in's answer started.
    fn signed_in_record(world: &World, r: &Reply) -> Record {
        let session = set_cookies(r)
            .into_iter()
            .find(|c| c.starts_with("__Host-sg="))
            .expect("a session cookie");
        let token: Token = token_in(session).parse().unwrap();
        let stored = world
            .memory()
            .value(&session::record_key(&token.id().hash()))
            .unwrap();
        Record::from_json(&stored).unwrap()
    }

    #[test]
    fn a_sign_in_keeps_the_verified_email_the_groups_and_the_id_tokens_auth_time() {
        let world = world();
        let claims = serde_json::json!({
            "sub": "u1", "email": "alice@example.com", "email_verified": true,
            "groups": ["staff", "admins"], "auth_time": NOW - 100,
        });
        let r = sign_in(&world, "", claims);
        assert_eq!(
            (r.status, r.header("location")),
            (303, Some("/admin")),
            "{}",
            r.body
        );
        let record = signed_in_record(&world, &r);
        assert_eq!(record.uid, "u1");
        assert_eq!(record.email.as_deref(), Some("alice@example.com"));
        assert_eq!(record.groups, ["staff", "admins"]);
        assert_eq!(record.auth_time, Some(NOW - 100));
        // Without an auth_time in the ID token, the sign-in is the login.
        let r = sign_in(
            &world,
            "",
            serde_json::json!({ "sub": "u2", "email": "bob@example.com", "email_verified": true }),
        );
        let record = signed_in_record(&world, &r);
        assert_eq!((record.auth_time, record.groups.len()), (Some(NOW), 0));
    }

    #[test]
    fn an_unverified_email_is_not_kept_and_groups_past_the_bounds_are_refused() {
        let world = World::with(config_with(&[
            ("OIDC_ISSUER", ISSUER),
            ("OIDC_CLIENT_ID", "app"),
            ("OIDC_CLIENT_SECRET", "s3cret"),
            ("OIDC_ALLOWED_GROUPS", "staff"),
            ("OIDC_GROUPS_CLAIM", "roles"),
        ]));
        let claims = serde_json::json!({
            "sub": "u3", "email": "mallory@example.com", "email_verified": false,
            "roles": "staff",
        });
        let r = sign_in(&world, "", claims);
        assert_eq!(r.status, 303, "{}", r.body);
        let record = signed_in_record(&world, &r);
        assert_eq!(record.email, None);
        assert_eq!(record.groups, ["staff"], "one group, as a string");
        let before = world.memory().keys();
        let mut many: Vec<String> = (0..64).map(|i| format!("g{i}")).collect();
        many.push("staff".to_owned());
        let r = sign_in(
            &world,
            "",
            serde_json::json!({ "sub": "u4", "roles": many }),
        );
        assert_eq!(r.status, 400);
        assert!(
            r.body.contains("<code>too_many_groups</code>"),
            "{}",
            r.body
        );
        assert_eq!(world.memory().keys(), before, "no session");
    }

    #[test]
    fn a_step_up_start_asks_the_provider_for_a_fresh_login() {
        let world = world();
        cache_discovery(&world, 60);
        let start = |query: &str| {
            let u = url(&format!(
                "/.sessiongate/oidc/start?return_to=%2Fadmin{query}"
            ));
            reply(world.handle(Inbound {
                accept: Some("text/html"),
                ..get(&u, None)
            }))
        };
        let r = start("&max_age=300");
        assert_eq!(r.status, 303, "{}", r.body);
        let location = r.header("location").unwrap();
        assert!(
            location.ends_with("&code_challenge_method=S256&prompt=login&max_age=300"),
            "{location}"
        );
        let plain = start("");
        let location = plain.header("location").unwrap();
        assert!(!location.contains("prompt=") && !location.contains("max_age="));
        for bad in ["-1", "5m", "1e3", "034560000", "99999999999", ""] {
            let r = start(&format!("&max_age={bad}"));
            assert_eq!(r.status, 400, "{bad:?}");
            assert!(
                r.body.contains("<code>max_age_invalid</code>"),
                "{}",
                r.body
            );
            assert!(set_cookies(&r).iter().all(|c| c.contains("Max-Age=0")));
        }
    }

    #[test]
    fn a_step_up_callback_refuses_a_login_older_than_it_asked_for() {
        let world = world();
        let user = |auth_time: Option<u64>| {
            let mut claims = serde_json::json!({
                "sub": "u1", "email": "alice@example.com", "email_verified": true,
            });
            if let Some(at) = auth_time {
                claims["auth_time"] = at.into();
            }
            claims
        };
        for (auth_time, reason) in [
            (Some(NOW - 3600), "auth_time_too_old"),
            (Some(NOW - 300 - 61), "auth_time_too_old"),
            (None, "auth_time_missing"),
        ] {
            let r = sign_in(&world, "&max_age=300", user(auth_time));
            assert_eq!(r.status, 400, "{auth_time:?}");
            assert!(
                r.body.contains(&format!("<code>{reason}</code>")),
                "{auth_time:?}: {}",
                r.body
            );
            assert!(
                set_cookies(&r).iter().all(|c| !c.starts_with("__Host-sg=")),
                "no session"
            );
        }
        assert!(world.memory().keys().is_empty(), "nothing was written");
        // Within max_age, and its leeway for the clocks: signed in.
        let r = sign_in(&world, "&max_age=300", user(Some(NOW - 300 - 60)));
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(signed_in_record(&world, &r).auth_time, Some(NOW - 360));
        // The same old login, without a max_age asked, is fine.
        let r = sign_in(&world, "", user(Some(NOW - 3600)));
        assert_eq!(r.status, 303, "{}", r.body);
    }

    #[test]
    fn without_a_provider_the_endpoints_are_not_there() {
        let world = World::new();
        let r = reply(world.handle(get(&url("/.sessiongate/oidc/start"), None)));
        assert_eq!(r.status, 404);
    }
}

mod authorization {
    use super::*;

    const POLICY: &str = r#"[
        {"name": "admins", "paths": ["/admin/*"], "allow": [{"groups": ["admins"]}]},
        {"name": "billing", "paths": ["/billing"], "allow": [{"any_user": true}], "max_auth_age": "10m"}
    ]"#;

    fn world(mode: &str) -> World {
        World::with(config_with(&[("POLICY", POLICY), ("MODE", mode)]))
    }

    /// A session for `uid` in `groups`, signed in `auth_age` seconds ago.
    fn member(world: &World, uid: &str, groups: &[&str], auth_age: u64) -> String {
        let identity = Identity {
            email: Some(format!("{uid}@example.com")),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Identity::new(uid, world.clock.now() - auth_age)
        };
        cookie(&world.session_of(identity, auth_age).0)
    }

    #[test]
    fn a_member_is_forwarded_and_the_log_names_the_rule() {
        let world = world("enforce");
        let c = member(&world, "ada", &["admins"], 60);
        let u = url("/admin/users");
        let decision = world.handle(get(&u, Some(&c)));
        let fwd = forward(decision);
        assert!(fwd.headers.iter().any(|(n, _)| *n == assertion::HEADER));
        let (_, log) = world.after(&fwd, Directives::default());
        assert_eq!(
            (log.decision, log.rule.as_deref()),
            ("forward", Some("admins"))
        );
    }

    #[test]
    fn a_refusal_costs_the_one_read_and_never_reaches_the_origin() {
        let world = world("enforce");
        let c = member(&world, "bob", &["staff"], 60);
        let u = url("/admin/users");
        let decision = world.handle(get(&u, Some(&c)));
        let log = decision.log.clone();
        let refused = reply(decision);
        assert_eq!(refused.status, 403);
        assert_eq!(refused.body, r#"{"error":"forbidden","rule":"admins"}"#);
        assert_eq!((world.counts().reads, world.counts().total()), (1, 1));
        assert_eq!(
            (log.decision, log.reason, log.rule.as_deref()),
            ("reject", Some("forbidden"), Some("admins"))
        );
        assert!(log.sid.is_some());
        assert!(set_cookies(&refused).is_empty(), "the session is kept");
        let page = reply(world.handle(navigation(&u, &c)));
        assert_eq!(page.status, 403);
        assert!(page.body.contains("bob@example.com"));
    }

    #[test]
    fn a_stale_login_is_asked_to_sign_in_again_and_keeps_its_session() {
        let world = world("enforce");
        let c = member(&world, "sam", &[], 601);
        let u = url("/billing?tab=2");
        let redirect = reply(world.handle(navigation(&u, &c)));
        assert_eq!(redirect.status, 303);
        assert_eq!(
            redirect.header("location"),
            Some("/login?return_to=/billing%3Ftab%3D2&max_age=600")
        );
        let api = reply(world.handle(get(&u, Some(&c))));
        assert_eq!(
            (api.status, api.body.as_str()),
            (401, r#"{"error":"unauthenticated","reason":"step_up"}"#)
        );
        assert_eq!(world.counts().deletes, 0, "nothing is ended");
        forward(world.handle(get(&url("/dashboard"), Some(&c))));
        // Exactly at the bound it still passes.
        let fresh = member(&world, "sam", &[], 600);
        forward(world.handle(get(&u, Some(&fresh))));
    }

    #[test]
    fn a_refusal_still_restamps_an_active_session() {
        let world = world("enforce");
        let c = member(&world, "bob", &[], 60);
        world.clock.advance(1000);
        let refused = reply(world.handle(get(&url("/admin"), Some(&c))));
        assert_eq!(refused.status, 403);
        assert_eq!(set_cookies(&refused).len(), 1, "a re-stamped cookie");
    }

    #[test]
    fn report_mode_forwards_the_identity_with_the_verdict() {
        let world = world("report");
        let c = member(&world, "bob", &["staff"], 60);
        let fwd = forward(world.handle(get(&url("/admin"), Some(&c))));
        let header = |name: &str| {
            fwd.headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("sessiongate-verdict"),
            Some("deny; reason=forbidden; rule=admins")
        );
        assert!(header(assertion::HEADER).is_some());
        let (_, log) = world.after(&fwd, Directives::default());
        assert_eq!(
            (log.decision, log.reason, log.mode),
            ("reject", Some("forbidden"), Some("report"))
        );
    }

    #[test]
    fn without_a_policy_nothing_is_decided_or_logged() {
        let world = World::new();
        let (token, _) = world.session("bob", 60);
        let c = cookie(&token);
        let fwd = forward(world.handle(get(&url("/admin"), Some(&c))));
        let (_, log) = world.after(&fwd, Directives::default());
        assert_eq!(log.rule, None);
    }
}

/// Machine clients (DESIGN §15): access tokens checked at the edge, the
/// issuer's documents and the signature's check answered as the driver
/// would, and no session read or written.
mod bearer {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use sessiongate::assertion::Kind;
    use sessiongate::gate::{CookieHeader, Op, Outcome, USER_HEADER, VERDICT_HEADER};
    use sessiongate::oidc::metadata::ProviderCache;

    const ISSUER: &str = "https://id.example.com";
    const API: &str = "https://api.example.com";
    const POLICY: &str = r#"[
        {"name": "deploy", "paths": ["/api/deploy"], "allow": [{"clients": ["ci-bot"], "methods": ["POST"]}]},
        {"name": "reports", "paths": ["/api/reports/*"], "allow": [{"any_user": true}, {"scopes": ["reports:read"]}]},
        {"name": "fresh", "paths": ["/api/fresh"], "allow": [{"clients": ["ci-bot"]}], "max_auth_age": "5m"}
    ]"#;

    fn world(extra: &[(&str, &str)]) -> World {
        let base = [
            ("BEARER_AUDIENCE", API),
            ("BEARER_ISSUER", ISSUER),
            ("POLICY", POLICY),
        ];
        World::with(config_with(&[&base[..], extra].concat()))
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "iss": ISSUER, "aud": API, "sub": "ci-bot", "client_id": "ci-bot",
            "scope": "deploy reports:read", "iat": NOW - 30, "exp": NOW + 570, "jti": "t-1",
        })
    }

    /// A token with `claims` changed (null removes), its header `typ` and
    /// `kid` as given; the signature is whatever the stand-in driver says.
    fn token_with(typ: &str, kid: &str, changes: serde_json::Value) -> String {
        let mut claims = claims();
        for (k, v) in changes.as_object().unwrap() {
            match v {
                serde_json::Value::Null => claims.as_object_mut().unwrap().remove(k),
                v => claims.as_object_mut().unwrap().insert(k.clone(), v.clone()),
            };
        }
        let header = serde_json::json!({ "alg": "RS256", "typ": typ, "kid": kid });
        let enc = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.c2lnbmF0dXJl", enc(&header), enc(&claims))
    }

    fn token() -> String {
        token_with("at+jwt", "k1", serde_json::json!({}))
    }

    /// The issuer as the driver reaches it (up or down, the keys it
    /// lists, WebCrypto's verdict on every signature), and the isolate's
    /// copies of its documents.
    struct Issuer {
        up: bool,
        kids: RefCell<Vec<&'static str>>,
        valid: bool,
        fetched: RefCell<Vec<String>>,
        copies: ProviderCache,
    }

    impl Issuer {
        fn new() -> Self {
            Self {
                up: true,
                kids: RefCell::new(vec!["k1"]),
                valid: true,
                fetched: RefCell::new(Vec::new()),
                copies: ProviderCache::default(),
            }
        }

        fn jwks_fetches(&self) -> usize {
            let fetched = self.fetched.borrow();
            fetched.iter().filter(|u| u.ends_with("/jwks")).count()
        }

        fn answer(&self, world: &World, op: &Op) -> Outcome {
            match op {
                Op::Fetch { url, .. } if !self.up => {
                    self.fetched.borrow_mut().push(url.clone());
                    Outcome::Failed("connection refused".into())
                }
                Op::Fetch { url, .. } => {
                    self.fetched.borrow_mut().push(url.clone());
                    let body = if url.ends_with("/openid-configuration") {
                        serde_json::json!({
                            "issuer": ISSUER,
                            "authorization_endpoint": format!("{ISSUER}/authorize"),
                            "token_endpoint": format!("{ISSUER}/token"),
                            "jwks_uri": format!("{ISSUER}/jwks"),
                        })
                    } else {
                        let keys: Vec<_> = self
                            .kids
                            .borrow()
                            .iter()
                            .map(|kid| serde_json::json!({ "kty": "RSA", "kid": kid, "n": "AQAB", "e": "AQAB" }))
                            .collect();
                        serde_json::json!({ "keys": keys })
                    };
                    Outcome::Response {
                        status: 200,
                        body: body.to_string(),
                    }
                }
                Op::Verify { .. } if self.valid => Outcome::Value(Some("valid".into())),
                Op::Verify { .. } => Outcome::Value(None),
                other => perform(&world.store, std::slice::from_ref(other)).remove(0),
            }
        }
    }

    /// Drives `req` up to the origin or the edge's answer.
    fn handle(world: &World, issuer: &Issuer, req: Inbound<'_>) -> (Step, Log) {
        let gate = Gate {
            provider_cache: Some(&issuer.copies),
            ..world.gate()
        };
        let (mut exchange, mut step) = gate.start(&req, world.clock.now());
        loop {
            step = match step {
                Step::Store(ops) => {
                    let outcomes = ops.iter().map(|op| issuer.answer(world, op)).collect();
                    exchange.resume(gate, Input::Store(outcomes))
                }
                Step::Finish(answer, log) => return (Step::Finish(answer, log.clone()), log),
                forward => return (forward, Log::default()),
            }
        }
    }

    fn request<'a>(method: &'a str, u: &'a str, authorization: &'a str) -> Inbound<'a> {
        Inbound {
            method,
            authorization: Some(authorization),
            ..get(u, None)
        }
    }

    fn forwarded(step: Step) -> Forward {
        match step {
            Step::Forward(forward) => forward,
            other => panic!("not forwarded: {other:?}"),
        }
    }

    fn replied(step: Step) -> Reply {
        match step {
            Step::Finish(Answer::Reply(reply), _) => reply,
            other => panic!("no reply: {other:?}"),
        }
    }

    #[test]
    fn a_named_client_reaches_the_origin_with_an_assertion_and_no_session() {
        let world = world(&[]);
        let issuer = Issuer::new();
        let u = url("/api/deploy");
        let bearer = format!("Bearer {}", token());
        let (step, _) = handle(&world, &issuer, request("POST", &u, &bearer));
        let forward = forwarded(step);
        let header = |name: &str| {
            forward
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header(USER_HEADER).as_deref(), Some("ci-bot"));
        let expected = Expected {
            audience: "app",
            method: "POST",
            path_and_query: "/api/deploy",
            now: NOW,
            leeway: 0,
        };
        let key = HmacKey::new(ASSERTION_KEY.as_bytes());
        let claims =
            AssertionClaims::verify(&key, &header(assertion::HEADER).unwrap(), &expected).unwrap();
        assert_eq!(claims.kind, Kind::Bearer);
        assert_eq!(claims.client_id.as_deref(), Some("ci-bot"));
        assert_eq!(claims.scope.as_deref(), Some("deploy reports:read"));
        assert_eq!(
            (claims.sub.as_str(), claims.auth_time),
            ("ci-bot", NOW - 30)
        );
        assert_eq!(claims.sid.len(), 16);
        assert!(
            forward.remove.iter().any(|h| h == "authorization"),
            "the token stays at the edge"
        );
        let counts = world.counts();
        assert_eq!(
            (counts.reads, counts.writes, counts.deletes, counts.lists),
            (0, 0, 0, 0),
            "no session record is read or written"
        );
        assert_eq!(
            *issuer.fetched.borrow(),
            [
                format!("{ISSUER}/.well-known/openid-configuration"),
                format!("{ISSUER}/jwks")
            ]
        );
    }

    #[test]
    fn the_token_decides_over_a_session_cookie_which_is_stripped() {
        let world = world(&[]);
        let issuer = Issuer::new();
        let (session, _) = world.session("alice", 60);
        let c = cookie(&session);
        let u = url("/api/deploy");
        let bearer = format!("Bearer {}", token());
        let req = Inbound {
            cookie: Some(&c),
            ..request("POST", &u, &bearer)
        };
        let forward = forwarded(handle(&world, &issuer, req).0);
        assert!(forward
            .headers
            .iter()
            .any(|(n, v)| *n == USER_HEADER && v == "ci-bot"));
        assert_eq!(forward.cookie, CookieHeader::Remove);
        // A bad token with a good session: refused, the session unused.
        let expired = format!(
            "Bearer {}",
            token_with("at+jwt", "k1", serde_json::json!({ "exp": NOW - 120 }))
        );
        let req = Inbound {
            cookie: Some(&c),
            ..request("POST", &u, &expired)
        };
        assert_eq!(replied(handle(&world, &issuer, req).0).status, 401);
        assert_eq!(world.counts().reads, 0);
    }

    #[test]
    fn a_bad_token_is_401_invalid_token_even_for_a_browser_and_the_log_says_why() {
        let world = world(&[]);
        let issuer = Issuer::new();
        let u = url("/api/deploy");
        let cases = [
            (
                token_with("JWT", "k1", serde_json::json!({})),
                "token_not_access_token",
            ),
            (
                token_with("at+jwt", "k1", serde_json::json!({ "aud": "other" })),
                "token_wrong_audience",
            ),
            (
                token_with(
                    "at+jwt",
                    "k1",
                    serde_json::json!({ "iss": "https://evil.example" }),
                ),
                "token_wrong_issuer",
            ),
            (
                token_with("at+jwt", "k1", serde_json::json!({ "exp": NOW - 61 })),
                "token_expired",
            ),
            (
                token_with("at+jwt", "k1", serde_json::json!({ "nbf": NOW + 120 })),
                "token_not_yet_valid",
            ),
            (
                token_with(
                    "at+jwt",
                    "k1",
                    serde_json::json!({ "iat": NOW - 10, "exp": NOW + 3600 }),
                ),
                "token_lifetime_too_long",
            ),
            (
                token_with("at+jwt", "k1", serde_json::json!({ "client_id": null })),
                "token_no_client_id",
            ),
            ("not.a.jwt".to_owned(), "token_malformed"),
            (
                format!("{}, Bearer {}", token(), token()),
                "token_malformed",
            ),
            (String::new(), "token_malformed"),
        ];
        for (token, why) in cases {
            let bearer = format!("Bearer {token}");
            let req = Inbound {
                accept: Some("text/html"),
                ..request("GET", &u, &bearer)
            };
            let (step, log) = handle(&world, &issuer, req);
            let r = replied(step);
            assert_eq!(
                (r.status, r.body.as_str()),
                (
                    401,
                    r#"{"error":"unauthenticated","reason":"invalid_token"}"#
                ),
                "{why}"
            );
            assert_eq!(
                r.header("www-authenticate"),
                Some(r#"Bearer error="invalid_token""#)
            );
            assert_eq!((log.decision, log.reason), ("reject", Some(why)));
            if !token.is_empty() {
                assert!(!log.line(0).contains(&token), "no token in the log");
            }
        }
        assert!(
            issuer.fetched.borrow().is_empty(),
            "refused before any fetch"
        );
        let forged = Issuer {
            valid: false,
            ..Issuer::new()
        };
        let bearer = format!("Bearer {}", token());
        let (step, log) = handle(&world, &forged, request("POST", &u, &bearer));
        assert_eq!(replied(step).status, 401);
        assert_eq!(log.reason, Some("token_bad_signature"));
    }

    #[test]
    fn an_unknown_kid_refetches_the_keys_at_most_once_a_minute() {
        let world = world(&[]);
        let issuer = Issuer::new();
        let u = url("/api/deploy");
        let rotated = format!(
            "Bearer {}",
            token_with("at+jwt", "rotated", serde_json::json!({}))
        );
        let refused = |expected_fetches: usize| {
            let (step, log) = handle(&world, &issuer, request("POST", &u, &rotated));
            assert_eq!(replied(step).status, 401);
            assert_eq!(log.reason, Some("token_unknown_kid"));
            assert_eq!(issuer.jwks_fetches(), expected_fetches);
        };
        // Fetched for this very token: not again.
        refused(1);
        // The isolate's copy lacks the kid: fetched once more, then not
        // again within the minute, however many tokens name it.
        refused(2);
        refused(2);
        refused(2);
        world.clock.advance(60);
        refused(3);
        // The issuer rotates the key in: the next refetch finds it.
        issuer.kids.borrow_mut().push("rotated");
        world.clock.advance(60);
        let (step, _) = handle(&world, &issuer, request("POST", &u, &rotated));
        assert!(matches!(step, Step::Forward(_)));
        assert_eq!(issuer.jwks_fetches(), 4);
    }

    #[test]
    fn only_rules_naming_the_client_or_its_scopes_admit_it() {
        let world = world(&[]);
        let issuer = Issuer::new();
        let bearer = format!("Bearer {}", token());
        let other = format!(
            "Bearer {}",
            token_with(
                "at+jwt",
                "k1",
                serde_json::json!({ "client_id": "intruder", "scope": "deploy" })
            )
        );
        let cases = [
            ("POST", "/api/deploy", &bearer, 200, "deploy"),
            ("GET", "/api/deploy", &bearer, 403, "deploy"),
            ("POST", "/api/deploy", &other, 403, "deploy"),
            ("GET", "/api/reports/q3", &bearer, 200, "reports"),
            ("GET", "/api/reports/q3", &other, 403, "reports"),
            // No rule: closed to machine clients, though POLICY_DEFAULT is allow.
            ("GET", "/dashboard", &bearer, 403, "default"),
        ];
        for (method, path, authorization, status, rule) in cases {
            let u = url(path);
            let (step, log) = handle(&world, &issuer, request(method, &u, authorization));
            let got = match step {
                Step::Forward(_) => 200,
                step => {
                    let r = replied(step);
                    assert_eq!(
                        r.body,
                        format!(r#"{{"error":"forbidden","rule":"{rule}"}}"#)
                    );
                    assert_eq!(
                        r.header("www-authenticate"),
                        Some(r#"Bearer error="insufficient_scope""#)
                    );
                    assert_eq!(log.rule.as_deref(), Some(rule));
                    r.status
                }
            };
            assert_eq!(got, status, "{method} {path}");
        }
    }

    #[test]
    fn a_token_older_than_the_rules_max_auth_age_is_refused() {
        let world = world(&[]);
        let issuer = Issuer::new();
        let u = url("/api/fresh");
        let old = format!(
            "Bearer {}",
            token_with(
                "at+jwt",
                "k1",
                serde_json::json!({ "iat": NOW - 400, "exp": NOW + 200 })
            )
        );
        let (step, log) = handle(&world, &issuer, request("GET", &u, &old));
        assert_eq!(replied(step).status, 401);
        assert_eq!(log.reason, Some("token_too_old"));
        let bearer = format!("Bearer {}", token());
        let (step, _) = handle(&world, &issuer, request("GET", &u, &bearer));
        assert!(matches!(step, Step::Forward(_)));
    }

    #[test]
    fn bad_tokens_count_against_the_sender_as_bad_cookies_do() {
        let world = world(&[("BAD_TOKEN_LIMIT", "2/1m")]);
        let issuer = Issuer {
            valid: false,
            ..Issuer::new()
        };
        let u = url("/api/deploy");
        let expired = format!(
            "Bearer {}",
            token_with("at+jwt", "k1", serde_json::json!({ "exp": NOW - 120 }))
        );
        let forged = format!("Bearer {}", token());
        let from = |authorization| Inbound {
            client: Some("203.0.113.9"),
            ..request("POST", &u, authorization)
        };
        assert_eq!(
            replied(handle(&world, &issuer, from(&expired)).0).status,
            401
        );
        assert_eq!(
            replied(handle(&world, &issuer, from(&forged)).0).status,
            401
        );
        let (step, log) = handle(&world, &issuer, from(&forged));
        let r = replied(step);
        assert_eq!((r.status, log.reason), (429, Some("throttled")));
        assert!(r.header("retry-after").is_some());
        let elsewhere = Inbound {
            client: Some("198.51.100.7"),
            ..request("POST", &u, &forged)
        };
        assert_eq!(replied(handle(&world, &issuer, elsewhere).0).status, 401);
    }

    #[test]
    fn without_the_issuers_keys_nothing_passes() {
        let world = world(&[]);
        let down = Issuer {
            up: false,
            ..Issuer::new()
        };
        let u = url("/api/deploy");
        let bearer = format!("Bearer {}", token());
        let (step, log) = handle(&world, &down, request("POST", &u, &bearer));
        let r = replied(step);
        assert_eq!(
            (r.status, r.body.as_str()),
            (503, r#"{"error":"token_issuer_unavailable"}"#)
        );
        assert_eq!(log.decision, "error");
    }

    #[test]
    fn without_bearer_audience_the_header_is_left_to_the_session_as_before() {
        let world = World::with(config_with(&[("POLICY", POLICY)]));
        let issuer = Issuer::new();
        let u = url("/api/reports/q3");
        let bearer = format!("Bearer {}", token());
        let r = replied(handle(&world, &issuer, request("GET", &u, &bearer)).0);
        assert_eq!((r.status, reason(&r).as_str()), (401, "missing"));
        let (session, _) = world.session("alice", 60);
        let c = cookie(&session);
        let req = Inbound {
            cookie: Some(&c),
            ..request("GET", &u, &bearer)
        };
        let forward = forwarded(handle(&world, &issuer, req).0);
        assert!(!forward.remove.iter().any(|h| h == "authorization"));
        assert!(issuer.fetched.borrow().is_empty());
    }

    #[test]
    fn report_mode_forwards_what_it_would_refuse_with_the_verdict() {
        let world = world(&[("MODE", "report")]);
        let issuer = Issuer::new();
        let u = url("/dashboard");
        let expired = format!(
            "Bearer {}",
            token_with("at+jwt", "k1", serde_json::json!({ "exp": NOW - 120 }))
        );
        let forward = forwarded(handle(&world, &issuer, request("GET", &u, &expired)).0);
        assert_eq!(
            forward.headers,
            [(VERDICT_HEADER, "deny; reason=token_expired".to_owned())]
        );
        let bearer = format!("Bearer {}", token());
        let forward = forwarded(handle(&world, &issuer, request("GET", &u, &bearer)).0);
        assert!(forward
            .headers
            .iter()
            .any(|(n, v)| *n == VERDICT_HEADER && v == "deny; reason=forbidden; rule=default"));
        assert!(forward.headers.iter().any(|(n, _)| *n == USER_HEADER));
    }
}
