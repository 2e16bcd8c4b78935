//! One gate decision for an authenticated request, set up once and run
//! many times: the token check, one read of the session record from a
//! [`MemoryStore`] (the store step, performed as the driver would), the
//! record check and the assertion signing that end in [`Step::Forward`].
//! [`Workload::with_policy`] adds the authorization decision under the
//! 20 rules of `bench/policy.json`, the `POLICY` that `bench/run.mjs`'s
//! `sg policy` case runs with.
//! [`Workload::signed`] signs the assertion with a P-256 key (the forward
//! carries the signing input; the driver signs), and [`Workload::apps`]
//! is the same request at one of 20 apps (`APPS`), as `bench/run.mjs`'s
//! `sg es256` and `sg apps` cases run.
//! `benches/decision.rs` times [`Workload::decide`] natively; on wasm32,
//! [`setup`] and [`run`] let `bench/decision.mjs` time it in Node.

use std::collections::HashMap;

use sessiongate_core::assertion;
use sessiongate_core::config::Config;
use sessiongate_core::gate::{Answer, Exchange, Gate, Inbound, Input, OriginHead, Step};
use sessiongate_core::session::{self, Claims, Identity};
use sessiongate_core::store::{drive, MemoryStore, SessionStore};
use sessiongate_core::token::SessionId;

/// As tests/gate.rs.
pub const NOW: u64 = 1_700_000_000;
const SESSION_KEY: &str = "session-key-session-key-session-key-1";
const OLD_SESSION_KEY: &str = "session-key-session-key-session-key-0";
const ASSERTION_KEY: &str = "assertion-key-assertion-key-assertion";
const HANDOFF_KEY: &str = "handoff-key-handoff-key-handoff-key-xx";
const ADMIN_TOKEN: &str = "admin-token-admin-token-admin-token-xx";

pub const URL: &str = "https://app.example.com/api/items?page=2";
/// The request [`Workload::with_policy`] decides: `bench/policy.json`'s
/// rule `app` admits alice by her group, as in `bench/run.mjs`.
pub const POLICY_URL: &str = "https://app.example.com/app/data?x=1";
pub const POLICY: &str = include_str!("../../policy.json");
pub const METHOD: &str = "GET";
/// A P-256 signing key (PKCS#8, base64url), as core/tests/gate/signing.rs's.
const P256: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwHbT5V--ylRq5c9EynjA0kc4GJ_oJSYWYygE6TGRSlqhRANCAASFIM-txnQODV5HemAybbJ0NsJr5_Gmm9jfBGuE8W5OfRVJ9bV_2vVqxD0Q4vqHwdbLjwv_9PK5wXXw4hKlbiW5";
/// The app of the 20 that [`Workload::apps`] asks, as `bench/run.mjs`'s.
const APP: usize = 7;
pub const ACCEPT: &str = "application/json";

/// The configuration of tests/gate.rs's `config_with(&[])`.
pub fn config() -> Config {
    config_with(&[])
}

/// The same, with `extra` variables set.
pub fn config_with(extra: &[(&'static str, &str)]) -> Config {
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
    vars.extend(extra.iter().map(|&(k, v)| (k, v.to_owned())));
    Config::from_lookup(|k| vars.get(k).cloned()).expect("bench config is valid")
}

/// 20 apps, `app0.example.com` to `app19.example.com`, each its own origin.
fn apps_config() -> Config {
    let apps: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"name":"app{i}","hosts":["app{i}.example.com"],"origin":"https://origin{i}.internal","public_paths":["/login","/static/*"]}}"#
            )
        })
        .collect();
    let apps = format!("[{}]", apps.join(","));
    let keys = format!("p1:{P256}");
    let vars: HashMap<&str, String> = HashMap::from([
        ("APPS", apps),
        ("AUTH_HOST", "app0.example.com".to_owned()),
        ("ASSERTION_SIGNING_KEYS", keys),
        (
            "SESSION_KEYS",
            format!("k1:{SESSION_KEY},k0:{OLD_SESSION_KEY}"),
        ),
        ("HANDOFF_KEY", HANDOFF_KEY.to_owned()),
    ]);
    Config::from_lookup(|k| vars.get(k).cloned()).expect("bench apps config is valid")
}

/// What a workload's session and request are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    DeviceBound,
    Policy,
    Signed,
    Apps,
}

/// Everything one decision needs, built once.
pub struct Workload {
    config: Config,
    url: String,
    /// Where the forward must go.
    origin_url: String,
    store: MemoryStore,
    cookie: String,
    spent: sessiongate_core::spent::Spent,
}

impl Workload {
    /// A session for "alice", begun a minute ago, its token stamped now (so
    /// not due for a re-stamp), the only record in the store.
    pub fn new() -> Self {
        Self::build(Kind::Plain)
    }

    /// The same session, bound to a device key (DESIGN §11), presented
    /// with its bound cookie: the device check's cost on the hot path.
    pub fn device_bound() -> Self {
        Self::build(Kind::DeviceBound)
    }

    /// The same session with an email and groups, as a login hands them
    /// over, for [`POLICY_URL`] under [`POLICY`]: the policy's cost.
    pub fn with_policy() -> Self {
        Self::build(Kind::Policy)
    }

    /// The same, the assertion signed with `ASSERTION_SIGNING_KEYS`.
    pub fn signed() -> Self {
        Self::build(Kind::Signed)
    }

    /// An app's session at one of 20 apps, signed as `APPS` must be.
    pub fn apps() -> Self {
        Self::build(Kind::Apps)
    }

    fn build(kind: Kind) -> Self {
        let (device_bound, policy) = (kind == Kind::DeviceBound, kind == Kind::Policy);
        let signing = format!("p1:{P256}");
        let config = match kind {
            Kind::Policy => config_with(&[("POLICY", POLICY)]),
            Kind::Signed => config_with(&[("ASSERTION_SIGNING_KEYS", &signing)]),
            Kind::Apps => apps_config(),
            Kind::Plain | Kind::DeviceBound => config(),
        };
        let store = MemoryStore::default();
        // A fixed id: the same record key and token on every run.
        let id = SessionId::from_bytes(std::array::from_fn(|i| i as u8 * 7 + 1));
        let claims: Claims = [
            ("role".to_owned(), "admin".to_owned()),
            ("tenant".to_owned(), "acme".to_owned()),
        ]
        .into();
        let mut identity = Identity {
            claims,
            ..Identity::new("alice", NOW - 60)
        };
        if policy {
            identity.email = Some("alice@example.com".to_owned());
            identity.groups = vec!["staff".to_owned(), "engineering".to_owned()];
        }
        let mut record = config.lifetimes.start(identity, NOW - 60);
        if kind == Kind::Apps {
            // Its sign-in's id hash: any will do, the request reads none.
            record.app = Some(format!("app{APP}"));
            record.signin = Some(SessionId::from_bytes([9; 32]).hash().to_string());
        }
        if device_bound {
            // Any P-256 point will do: the hot path never verifies with it.
            record.device_key = Some(sessiongate_core::dbsc::Jwk {
                kty: "EC".to_owned(),
                crv: "P-256".to_owned(),
                x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".to_owned(),
                y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".to_owned(),
            });
        }
        let ttl = config.lifetimes.ttl(&record, NOW);
        let hash = id.hash();
        store
            .put(&session::record_key(&hash), &record.to_json(), None, ttl)
            .expect("memory store put");
        store
            .put(
                &session::index_key("alice", &hash),
                "",
                Some(&record.index_metadata(None)),
                ttl,
            )
            .expect("memory store put");
        let token = config.session_keys.mint(&id, NOW);
        let mut cookie = format!("a=1; {}={token}; b=2", config.cookie.name());
        if device_bound {
            let binding = &config.device_binding;
            let bound = binding.bound_cookie(&hash, NOW);
            cookie = format!("{cookie}; {}", bound.split(';').next().unwrap_or_default());
        }
        let url = if policy { POLICY_URL } else { URL };
        let (url, origin_url) = match kind {
            Kind::Apps => (
                url.replace("app.example.com", &format!("app{APP}.example.com")),
                url.replace(
                    "https://app.example.com",
                    &format!("https://origin{APP}.internal"),
                ),
            ),
            _ => (
                url.to_owned(),
                url.replace("https://app.example.com", "https://origin.internal"),
            ),
        };
        let workload = Self {
            config,
            url,
            origin_url,
            store,
            cookie,
            spent: Default::default(),
        };
        workload.check();
        workload
    }

    fn gate(&self) -> Gate<'_> {
        Gate {
            config: &self.config,
            throttle: None,
            ledger_cache: None,
            record_cache: None,
            spent: &self.spent,
            provider_cache: None,
            in_flight: 0,
        }
    }

    /// Starts the exchange and performs its store steps until it forwards
    /// or finishes.
    fn handle(&self) -> (Exchange, Step) {
        let inbound = Inbound {
            method: METHOD,
            url: &self.url,
            cookie: Some(&self.cookie),
            accept: Some(ACCEPT),
            ..Inbound::default()
        };
        let (mut exchange, step) = self.gate().start(&inbound, NOW);
        let step = drive(&self.store, self.gate(), &mut exchange, step);
        (exchange, step)
    }

    /// Panics unless the decision is a forward with an assertion and no
    /// re-stamp: the path the benchmark means to time.
    pub fn check(&self) {
        let (mut exchange, step) = self.handle();
        let Step::Forward(forward) = step else {
            panic!("expected a forward, got {step:?}");
        };
        assert_eq!(forward.url, self.origin_url);
        // HS256 in the header, or the signing input for the driver.
        let assertion = forward
            .headers
            .iter()
            .find(|(name, _)| *name == assertion::HEADER)
            .map(|(_, value)| value.as_str())
            .or(forward.sign.as_ref().map(|sign| sign.input.as_str()))
            .expect("an assertion, or its signing input");
        assert!(assertion.len() > 100, "assertion: {assertion}");
        let head = OriginHead {
            status: 200,
            ..OriginHead::default()
        };
        let Step::Finish(Answer::Pass(edits), log) =
            exchange.resume(self.gate(), Input::Origin(Ok(head)))
        else {
            panic!("expected the origin's response to pass");
        };
        assert!(edits.is_empty(), "no re-stamp: {edits:?}");
        assert_eq!(log.decision, "forward");
    }

    /// One decision; returns the assertion's length, so nothing is
    /// optimised away.
    #[inline(never)]
    pub fn decide(&self) -> usize {
        match self.handle().1 {
            Step::Forward(forward) => forward
                .headers
                .first()
                .map_or(0, |(_, assertion)| assertion.len()),
            _ => 0,
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use std::cell::RefCell;

    use wasm_bindgen::prelude::*;

    use super::Workload;

    thread_local! {
        static WORKLOAD: RefCell<Option<Workload>> = const { RefCell::new(None) };
    }

    /// Builds the workload (and checks its decision); not timed.
    #[wasm_bindgen]
    pub fn setup() {
        WORKLOAD.with(|w| *w.borrow_mut() = Some(Workload::new()));
    }

    /// Runs `n` decisions; returns the sum of their assertion lengths.
    #[wasm_bindgen]
    pub fn run(n: u32) -> u32 {
        WORKLOAD.with(|w| {
            let w = w.borrow();
            let w = w.as_ref().expect("setup() first");
            (0..n).fold(0u32, |acc, _| acc.wrapping_add(w.decide() as u32))
        })
    }
}
