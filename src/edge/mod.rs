//! The Workers glue (DESIGN §10): the wasm exports that `driver.js`, the
//! Worker's entry, calls. Each is synchronous and answers one step as JSON
//! (see [`crate::gate::step`]), so a request crosses between JS and wasm
//! once per step and Rust never awaits. Exchanges waiting for their I/O
//! live here, in a slab keyed by a small integer.

use std::cell::{OnceCell, RefCell};

use wasm_bindgen::prelude::*;

use crate::assertion::signing::Signer;
use crate::config::{Config, ConfigErrors};
use crate::gate::{Answer, Exchange, Gate, Inbound, Input, Log, Op, Reply, Step};
use crate::ledger::LedgerCache;
use crate::oidc::metadata::ProviderCache;
use crate::record_cache::RecordCache;
use crate::spent::Spent;
use crate::throttle::Throttle;

/// The KV namespace binding.
const SESSIONS_BINDING: &str = "SESSIONS";
/// The optional Workers Analytics Engine binding: one data point a request.
const METRICS_BINDING: &str = "METRICS";
/// The optional revocation ledger: a Durable Object namespace (`Ledger`).
const LEDGER_BINDING: &str = "LEDGER";
/// This isolate's configuration: its environment never changes.
struct Isolate {
    config: Result<Config, String>,
    /// Bad-token counts of this isolate (best effort, see `throttle`).
    throttle: Option<Throttle>,
    /// Whether `METRICS` is bound: final steps then carry a data point.
    metered: bool,
    /// Users' revocation states read by this isolate (with `LEDGER` bound).
    ledger_cache: LedgerCache,
    /// Session records read by this isolate (while `RECORD_CACHE` is on).
    record_cache: RecordCache,
    /// One-time values used in this isolate (device-binding challenges).
    spent: Spent,
    /// The identity provider's documents, as this isolate keeps them.
    provider_cache: ProviderCache,
}

thread_local! {
    static ISOLATE: OnceCell<Isolate> = const { OnceCell::new() };
    static EXCHANGES: RefCell<Slab> = RefCell::default();
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

/// Reads the configuration from `env` once per isolate. Returns what the
/// driver needs to know: the KV binding's name.
#[wasm_bindgen]
pub fn configure(env: &worker::Env) -> String {
    console_error_panic_hook::set_once();
    ISOLATE.with(|isolate| {
        isolate.get_or_init(|| {
            let config = Config::from_lookup(|name| {
                let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
                // `[vars]` may hold TOML numbers, booleans and tables (a
                // `POLICY` array of tables): read them as their JSON text,
                // never as unset.
                match value.as_string() {
                    Some(text) => Some(text),
                    None if value.is_undefined() || value.is_null() => None,
                    None => js_sys::JSON::stringify(&value).ok()?.as_string(),
                }
            })
            .map_err(|errors: ConfigErrors| errors.to_string())
            .and_then(|config| match env.kv(SESSIONS_BINDING) {
                Ok(_) => config
                    .bind_ledger(env.durable_object(LEDGER_BINDING).is_ok())
                    .map_err(|errors| errors.to_string()),
                Err(_) => Err(format!("{SESSIONS_BINDING}: no KV namespace is bound")),
            });
            let throttle = config
                .as_ref()
                .ok()
                .and_then(|c| c.bad_token_limit)
                .map(Throttle::new);
            let metered = js_sys::Reflect::get(env, &JsValue::from_str(METRICS_BINDING))
                .is_ok_and(|binding| binding.is_object());
            Isolate {
                config,
                throttle,
                metered,
                ledger_cache: LedgerCache::default(),
                record_cache: RecordCache::default(),
                spent: Spent::default(),
                provider_cache: ProviderCache::default(),
            }
        });
    });
    let ledger = with_gate(|gate| gate.is_ok_and(|gate| gate.config.ledger));
    // By hand: binding names are JSON as they are, and neither a derived
    // serialiser nor `json!` (whose `Value` a first request would compile:
    // bench/RESULTS.md, cold start) costs the wasm that way.
    let binding = |name: Option<&str>| name.map_or("null".to_owned(), |name| format!("\"{name}\""));
    format!(
        r#"{{"kv":"{SESSIONS_BINDING}","metrics":{},"ledger":{}}}"#,
        binding(metered().then_some(METRICS_BINDING)),
        binding(ledger.then_some(LEDGER_BINDING)),
    )
}

/// The keys the driver imports into WebCrypto to sign assertions with
/// (DESIGN §5): a line per key, `kid alg pkcs8`; none with HS256. Asked for
/// once per isolate, after `configure`.
#[wasm_bindgen]
pub fn signing_keys() -> String {
    with_gate(
        |gate| match gate.map(|gate| &gate.config.assertion_signer) {
            Ok(Signer::Keys(keys)) => keys.for_driver(),
            _ => String::new(),
        },
    )
}

/// Starts an exchange for a request the driver describes: method, URL,
/// then each header's name (lower case) and value, one per line. Returns
/// its first step.
#[wasm_bindgen]
pub fn start(description: &str, now_ms: f64) -> String {
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
    with_gate(|gate| match gate {
        Ok(gate) => {
            let (exchange, step) = gate.start_ms(&inbound, now_ms as u64);
            answer(exchange, step, now_ms, now_ms)
        }
        Err(detail) => failed(Reply::misconfigured(), "misconfigured", detail.to_owned()),
    })
}

/// Hands exchange `id` the results of its last step (JSON, see
/// [`Input::from_json`]); returns the next step.
#[wasm_bindgen]
pub fn resume(id: u32, input: &str, now_ms: f64) -> String {
    let Some((mut exchange, started_ms)) = EXCHANGES.with(|s| s.borrow_mut().take(id)) else {
        return lost(id);
    };
    let step = match Input::from_json(input) {
        Ok(input) => with_gate(|gate| match gate {
            Ok(gate) => exchange.resume(gate, input),
            Err(_) => exchange.abandon("the configuration went away".to_owned()),
        }),
        Err(e) => exchange.abandon(e),
    };
    answer(exchange, step, started_ms, now_ms)
}

/// Ends exchange `id` because the driver failed (`detail` says how); with
/// no exchange waiting (0: the failure came after the final step), the
/// answer is the same 500.
#[wasm_bindgen]
pub fn abandon(id: u32, detail: &str, now_ms: f64) -> String {
    match EXCHANGES.with(|s| s.borrow_mut().take(id)) {
        Some((mut exchange, started_ms)) => {
            let step = exchange.abandon(detail.to_owned());
            answer(exchange, step, started_ms, now_ms)
        }
        None => failed(Reply::internal(), "internal", detail.to_owned()),
    }
}

/// Ends exchange `id` because its client went away: nothing will resume
/// it. Returns its final step, for the log line.
#[wasm_bindgen]
pub fn cancel(id: u32, now_ms: f64) -> String {
    match EXCHANGES.with(|s| s.borrow_mut().take(id)) {
        Some((mut exchange, started_ms)) => {
            let step = exchange.cancel();
            answer(exchange, step, started_ms, now_ms)
        }
        None => lost(id),
    }
}

fn with_gate<T>(f: impl FnOnce(Result<Gate<'_>, &str>) -> T) -> T {
    ISOLATE.with(|isolate| match isolate.get() {
        Some(Isolate {
            config: Ok(config),
            throttle,
            ledger_cache,
            record_cache,
            spent,
            provider_cache,
            ..
        }) => f(Ok(Gate {
            config,
            throttle: throttle.as_ref(),
            ledger_cache: Some(ledger_cache),
            record_cache: Some(record_cache),
            spent,
            provider_cache: Some(provider_cache),
            in_flight: EXCHANGES.with(|s| s.borrow().len()),
        })),
        Some(Isolate {
            config: Err(detail),
            ..
        }) => f(Err(detail)),
        None => f(Err("configure() was not called")),
    })
}

/// The step's JSON; an exchange that waits is kept until resumed.
fn answer(mut exchange: Exchange, step: Step, started_ms: f64, now_ms: f64) -> String {
    let ms = (now_ms - started_ms).max(0.0) as u64;
    if exchange.is_done() {
        let background = exchange.take_background();
        return step.to_json(0, ms, metered(), &background);
    }
    let id = EXCHANGES.with(|s| s.borrow_mut().insert(exchange, started_ms));
    step.to_json(id, ms, metered(), &[])
}

/// Takes in the outcomes of a final step's background operations (both
/// JSON arrays, as the step gave the operations and as `resume` takes
/// outcomes); returns the writes that follow, as a store step
/// (`{"kv":[…]}`), to perform without answer.
#[wasm_bindgen]
pub fn absorb(ops: &str, outcomes: &str, now_ms: f64) -> String {
    let ops = serde_json::from_str::<Vec<Performed>>(ops);
    let follow_up = match (ops, Input::from_json(outcomes)) {
        (Ok(ops), Ok(Input::Store(outcomes))) => {
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
            let now = (now_ms / 1000.0) as u64;
            with_gate(|gate| gate.ok().map(|gate| gate.absorb(&ops, outcomes, now)))
        }
        _ => None,
    };
    Step::Store(follow_up.unwrap_or_default()).to_json(0, 0, false, &[])
}

/// What `absorb` reads of a background operation the driver hands back
/// (`{"op":"ledger_read","uid":…}`, as [`Op`] writes it): its kind, and
/// the user of a ledger read. The rest is never looked at, so it is not
/// read: `Op` has no `Deserialize` (derived, it cost 47 KB of wasm).
#[derive(serde::Deserialize)]
struct Performed {
    op: String,
    #[serde(default)]
    uid: Option<String>,
}

fn lost(id: u32) -> String {
    failed(
        Reply::internal(),
        "internal",
        format!("no exchange {id} is waiting"),
    )
}

/// A final step for a request no exchange could take.
fn failed(reply: Reply, reason: &'static str, detail: String) -> String {
    let log = Log {
        decision: "error",
        status: reply.status,
        reason: Some(reason),
        detail: Some(detail),
        ..Log::default()
    };
    Step::Finish(Answer::Reply(reply), log).to_json(0, 0, metered(), &[])
}

fn metered() -> bool {
    ISOLATE.with(|isolate| isolate.get().is_some_and(|i| i.metered))
}
