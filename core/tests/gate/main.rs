//! The pipeline's decisions, natively: every test drives the sans-IO gate
//! the way `src/edge/driver.js` does, performing each store step against an
//! in-memory store with a fixed clock, and counts the KV operations it asks
//! for.

mod admin;
mod apps;
mod authenticated_requests;
mod authorization;
mod bearer;
mod csrf;
mod device_binding;
mod endpoints;
mod failures;
mod headers;
mod ledger;
mod logging;
mod login;
mod logout;
mod oidc;
mod paths;
mod public_directives;
mod reauthentication;
mod record_cache;
mod rejected_requests;
mod report_mode;
mod return_to;
mod session_limit;
mod sessions_page;
mod signing;
mod steps;
mod throttling;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use sessiongate_core::assertion::{self, AssertionClaims, Expected};
use sessiongate_core::config::Config;
use sessiongate_core::gate::{
    Answer, Edits, Exchange, Forward, Gate, Inbound, Input, Log, Op, OriginHead, Outcome, Reply,
    Step,
};
use sessiongate_core::jwt;
use sessiongate_core::key::HmacKey;
use sessiongate_core::ledger::LedgerCache;
use sessiongate_core::record_cache::RecordCache;
use sessiongate_core::session::{self, Identity, Record};
use sessiongate_core::spent::Spent;
use sessiongate_core::store::{
    drive, perform, CountingStore, Counts, Fail, FailingStore, MemoryStore, SessionStore,
};
use sessiongate_core::throttle::Throttle;
use sessiongate_core::token::{KeyRing, Kid, SessionId, Token};

const NOW: u64 = 1_700_000_000;
const SITE: &str = "https://app.example.com";
const SESSION_KEY: &str = "session-key-session-key-session-key-1";
const OLD_SESSION_KEY: &str = "session-key-session-key-session-key-0";
const ASSERTION_KEY: &str = "assertion-key-assertion-key-assertion";
const HANDOFF_KEY: &str = "handoff-key-handoff-key-handoff-key-xx";
const ADMIN_TOKEN: &str = "admin-token-admin-token-admin-token-xx";

fn config_with(overrides: &[(&str, &str)]) -> Config {
    configured(overrides, false)
}

/// [`config_with`], with the revocation ledger bound.
fn config_with_ledger(overrides: &[(&str, &str)]) -> Config {
    configured(overrides, true)
}

fn configured(overrides: &[(&str, &str)], ledger: bool) -> Config {
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
    Config::read(|k| vars.get(k).cloned(), ledger).expect("test config is valid")
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
            in_flight: 0,
        }
    }

    fn handle(&self, req: Inbound<'_>) -> Decision {
        let (mut exchange, step) = self.gate().start(&req, self.clock.now());
        let step = drive(&self.store, self.gate(), &mut exchange, step);
        decided(exchange, step)
    }

    /// [`handle`](Self::handle) for a request with a body: each read of it
    /// is answered with `body`, or as too large for the read with `None`.
    fn handle_body(&self, req: Inbound<'_>, body: Option<&str>) -> Decision {
        let gate = self.gate();
        let (mut exchange, mut step) = gate.start(&req, self.clock.now());
        while let Step::Store(ops) = step {
            let outcomes = ops
                .iter()
                .map(|op| match op {
                    Op::ReadBody { .. } => Outcome::Value(body.map(str::to_owned)),
                    other => perform(&self.store, std::slice::from_ref(other)).remove(0),
                })
                .collect();
            step = exchange.resume(gate, Input::Store(outcomes));
        }
        decided(exchange, step)
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
        let record = self.config.lifetimes.start(identity, now - age);
        let ttl = self.config.lifetimes.ttl(&record, now);
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

/// The exchange's answer before the origin: a reply, or a forward that
/// keeps the exchange for the origin's response.
fn decided(exchange: Exchange, step: Step) -> Decision {
    match step {
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
