//! What one isolate keeps, and the text interface its driver calls
//! (DESIGN §10): the configuration, the caches every request shares, and
//! the exchanges waiting for their I/O, in a slab keyed by a small
//! integer. Each call is synchronous and answers one step as JSON (see
//! [`crate::gate::step`]), so a request crosses between the driver and the
//! gate once per step. The Worker crate's `edge` exports these calls to
//! JavaScript and nothing more.

use std::cell::RefCell;

use serde::Deserialize;

use crate::assertion::signing::Signer;
use crate::config::Config;
use crate::gate::{Answer, Exchange, Gate, Inbound, Input, Log, Op, Reply, Step};
use crate::ledger::LedgerCache;
use crate::oidc::metadata::ProviderCache;
use crate::record_cache::RecordCache;
use crate::spent::Spent;
use crate::throttle::Throttle;

/// The KV namespace binding.
pub const SESSIONS_BINDING: &str = "SESSIONS";
/// The optional Workers Analytics Engine binding: one data point a request.
pub const METRICS_BINDING: &str = "METRICS";
/// The optional revocation ledger: a Durable Object namespace (`Ledger`).
pub const LEDGER_BINDING: &str = "LEDGER";

/// Which bindings the platform has, by the names above.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bindings {
    pub sessions: bool,
    pub metrics: bool,
    pub ledger: bool,
}

/// An isolate's configuration (or why it has none), its caches, and its
/// exchanges waiting for the driver.
pub struct Isolate {
    config: Result<Config, String>,
    /// Bad-token counts of this isolate (best effort, see `throttle`).
    throttle: Option<Throttle>,
    /// Whether metrics are written: final steps then carry a data point.
    metered: bool,
    /// Users' revocation states read by this isolate (with the ledger bound).
    ledger_cache: LedgerCache,
    /// Session records read by this isolate (while `RECORD_CACHE` is on).
    record_cache: RecordCache,
    /// One-time values used in this isolate (device-binding challenges).
    spent: Spent,
    /// The identity provider's documents, as this isolate keeps them.
    provider_cache: ProviderCache,
    exchanges: RefCell<Slab>,
}

/// Exchanges waiting for the driver, with the time each began (ms). Ids
/// start at 1: a final step carries none, and 0 names no exchange.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<(Exchange, f64)>>,
    free: Vec<u32>,
}

impl Slab {
    fn insert(&mut self, exchange: Exchange, started_ms: f64) -> u32 {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[index as usize] = Some((exchange, started_ms));
        index + 1
    }

    /// Exchanges waiting for the driver.
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn take(&mut self, id: u32) -> Option<(Exchange, f64)> {
        let index = id.checked_sub(1)?;
        let taken = self.slots.get_mut(index as usize)?.take();
        if taken.is_some() {
            self.free.push(index);
        }
        taken
    }
}

impl Isolate {
    /// Reads the configuration through `lookup` (DESIGN §8) and checks it
    /// against the platform's `bindings`. Not generic, so that reading a
    /// configuration is compiled once, here.
    pub fn configure(lookup: &dyn Fn(&str) -> Option<String>, bindings: Bindings) -> Self {
        let config = Config::read(lookup, bindings.ledger)
            .map_err(|errors| errors.to_string())
            .and_then(|config| match bindings.sessions {
                true => Ok(config),
                false => Err(format!("{SESSIONS_BINDING}: no KV namespace is bound")),
            });
        Self::new(config, bindings.metrics)
    }

    /// What the driver needs wired: the bindings' names, `null` for one
    /// not used. By hand: binding names are JSON as they are, and neither
    /// a derived serialiser nor `json!` (whose `Value` a first request
    /// would compile: bench/RESULTS.md, cold start) costs the wasm that way.
    pub fn wiring(&self) -> String {
        let binding = |name: &str, used: bool| match used {
            true => format!("\"{name}\""),
            false => "null".to_owned(),
        };
        format!(
            r#"{{"kv":"{SESSIONS_BINDING}","metrics":{},"ledger":{}}}"#,
            binding(METRICS_BINDING, self.metered),
            binding(LEDGER_BINDING, self.uses_ledger()),
        )
    }

    /// An isolate with `config`, or with the reason it has none: every
    /// request then answers `500 misconfigured` with that reason logged.
    pub fn new(config: Result<Config, String>, metered: bool) -> Self {
        let throttle = config
            .as_ref()
            .ok()
            .and_then(|c| c.bad_token_limit)
            .map(Throttle::new);
        Self {
            config,
            throttle,
            metered,
            ledger_cache: LedgerCache::default(),
            record_cache: RecordCache::default(),
            spent: Spent::default(),
            provider_cache: ProviderCache::default(),
            exchanges: RefCell::default(),
        }
    }

    /// Whether the configuration uses the revocation ledger.
    fn uses_ledger(&self) -> bool {
        self.config.as_ref().is_ok_and(|config| config.ledger)
    }

    /// The keys the driver imports to sign assertions with (DESIGN §5): a
    /// line per key, `kid alg pkcs8`; none with HS256.
    pub fn signing_keys(&self) -> String {
        match &self.config {
            Ok(Config {
                assertion_signer: Signer::Keys(keys),
                ..
            }) => keys.for_driver(),
            _ => String::new(),
        }
    }

    /// Starts an exchange for a request the driver describes: method, URL,
    /// then each header's name (lower case) and value, one per line.
    /// Returns its first step.
    pub fn start(&self, description: &str, now_ms: f64) -> String {
        let mut fields = description.split('\n');
        let mut inbound = Inbound {
            method: fields.next().unwrap_or_default(),
            url: fields.next().unwrap_or_default(),
            ..Inbound::default()
        };
        let mut names = Vec::new();
        while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
            names.push(name);
            let read = match name {
                "cookie" => &mut inbound.cookie,
                "accept" => &mut inbound.accept,
                "sec-fetch-site" => &mut inbound.sec_fetch_site,
                "origin" => &mut inbound.origin,
                "authorization" => &mut inbound.authorization,
                "cf-connecting-ip" => &mut inbound.client,
                "user-agent" => &mut inbound.user_agent,
                "secure-session-response" => &mut inbound.device_proof,
                "sec-secure-session-id" => &mut inbound.device_session,
                "content-type" => &mut inbound.content_type,
                _ => continue,
            };
            *read = Some(value);
        }
        inbound.header_names = &names;
        match self.gate() {
            Ok(gate) => {
                let (exchange, step) = gate.start_ms(&inbound, now_ms as u64);
                self.answer(exchange, step, now_ms, now_ms)
            }
            Err(detail) => self.failed(Reply::misconfigured(), "misconfigured", detail.to_owned()),
        }
    }

    /// Hands exchange `id` the results of its last step (JSON, see
    /// [`Input::from_json`]); returns the next step.
    pub fn resume(&self, id: u32, input: &str, now_ms: f64) -> String {
        let Some((mut exchange, started_ms)) = self.take(id) else {
            return self.lost(id);
        };
        let step = match (Input::from_json(input), self.gate()) {
            (Ok(input), Ok(gate)) => exchange.resume(gate, input),
            (Ok(_), Err(_)) => exchange.abandon("the configuration went away".to_owned()),
            (Err(e), _) => exchange.abandon(e),
        };
        self.answer(exchange, step, started_ms, now_ms)
    }

    /// Ends exchange `id` because the driver failed (`detail` says how);
    /// with no exchange waiting (0: the failure came after the final
    /// step), the answer is the same 500.
    pub fn abandon(&self, id: u32, detail: &str, now_ms: f64) -> String {
        match self.take(id) {
            Some((mut exchange, started_ms)) => {
                let step = exchange.abandon(detail.to_owned());
                self.answer(exchange, step, started_ms, now_ms)
            }
            None => self.failed(Reply::internal(), "internal", detail.to_owned()),
        }
    }

    /// Ends exchange `id` because its client went away: nothing will
    /// resume it. Returns its final step, for the log line.
    pub fn cancel(&self, id: u32, now_ms: f64) -> String {
        match self.take(id) {
            Some((mut exchange, started_ms)) => {
                let step = exchange.cancel();
                self.answer(exchange, step, started_ms, now_ms)
            }
            None => self.lost(id),
        }
    }

    /// Takes in the outcomes of a final step's background operations (both
    /// JSON arrays, as the step gave the operations and as `resume` takes
    /// outcomes); returns the writes that follow, as a store step
    /// (`{"kv":[…]}`), to perform without answer.
    pub fn absorb(&self, ops: &str, outcomes: &str, now_ms: f64) -> String {
        let ops = serde_json::from_str::<Vec<Performed>>(ops);
        let follow_up = match (ops, Input::from_json(outcomes), self.gate()) {
            (Ok(ops), Ok(Input::Store(outcomes)), Ok(gate)) => {
                // Only ledger reads lead anywhere (`Gate::absorb`).
                let (ops, outcomes): (Vec<Op>, Vec<_>) = ops
                    .into_iter()
                    .zip(outcomes)
                    .filter_map(|(performed, outcome)| match performed {
                        Performed { op, uid: Some(uid) } if op == "ledger_read" => {
                            Some((Op::LedgerRead { uid }, outcome))
                        }
                        _ => None,
                    })
                    .unzip();
                gate.absorb(&ops, outcomes, (now_ms / 1000.0) as u64)
            }
            _ => Vec::new(),
        };
        Step::Store(follow_up).to_json(0, 0, false, &[])
    }

    fn gate(&self) -> Result<Gate<'_>, &str> {
        match &self.config {
            Ok(config) => Ok(Gate {
                config,
                throttle: self.throttle.as_ref(),
                ledger_cache: Some(&self.ledger_cache),
                record_cache: Some(&self.record_cache),
                spent: &self.spent,
                provider_cache: Some(&self.provider_cache),
                in_flight: self.exchanges.borrow().len(),
            }),
            Err(detail) => Err(detail),
        }
    }

    fn take(&self, id: u32) -> Option<(Exchange, f64)> {
        self.exchanges.borrow_mut().take(id)
    }

    /// The step's JSON; an exchange that waits is kept until resumed.
    fn answer(&self, mut exchange: Exchange, step: Step, started_ms: f64, now_ms: f64) -> String {
        let ms = (now_ms - started_ms).max(0.0) as u64;
        if exchange.is_done() {
            let background = exchange.take_background();
            return step.to_json(0, ms, self.metered, &background);
        }
        let id = self.exchanges.borrow_mut().insert(exchange, started_ms);
        step.to_json(id, ms, self.metered, &[])
    }

    fn lost(&self, id: u32) -> String {
        self.failed(
            Reply::internal(),
            "internal",
            format!("no exchange {id} is waiting"),
        )
    }

    /// A final step for a request no exchange could take.
    fn failed(&self, reply: Reply, reason: &'static str, detail: String) -> String {
        let log = Log {
            decision: "error",
            status: reply.status,
            reason: Some(reason),
            detail: Some(detail),
            ..Log::default()
        };
        Step::Finish(Answer::Reply(reply), log).to_json(0, 0, self.metered, &[])
    }
}

/// What `absorb` reads of a background operation the driver hands back
/// (`{"op":"ledger_read","uid":…}`, as [`Op`] writes it): its kind, and
/// the user of a ledger read. The rest is never looked at, so it is not
/// read: `Op` has no `Deserialize` (derived, it cost 47 KB of wasm).
#[derive(Deserialize)]
struct Performed {
    op: String,
    #[serde(default)]
    uid: Option<String>,
}
