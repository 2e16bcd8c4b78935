//! The Workers entry: configuration, the KV store and the Fetch API around
//! [`Gate`]. The only module that touches workers-rs.

mod http;
mod kv;

use std::sync::OnceLock;

use wasm_bindgen::{JsCast, JsValue};
use worker::{web_sys, Env};

use crate::config::{Config, ConfigErrors};
use crate::gate::{Action, Completion, FixedClock, Gate, Log, Reply};
use crate::throttle::Throttle;
use http::InboundParts;
use kv::KvStore;

/// The KV namespace binding.
const SESSIONS_BINDING: &str = "SESSIONS";

/// Parsed once per isolate: the environment of an isolate never changes.
static CONFIG: OnceLock<Result<Config, ConfigErrors>> = OnceLock::new();
/// Bad-token counts of this isolate (best effort, see `throttle`).
static THROTTLE: OnceLock<Option<Throttle>> = OnceLock::new();

/// Answers one request: the gate's decision, carried out, and one log line.
pub async fn fetch(request: web_sys::Request, env: Env) -> worker::Result<web_sys::Response> {
    let started = js_sys::Date::now();
    let (response, log) = match serve(&request, &env, started).await {
        Ok(served) => served,
        Err(e) => {
            // Only an exception thrown by the Fetch API gets here.
            let log = Log {
                decision: "error",
                reason: Some("internal"),
                detail: js_error(&e),
                ..Log::default()
            };
            (http::reply(&Reply::internal()), log)
        }
    };
    let ms = (js_sys::Date::now() - started).max(0.0) as u64;
    let status = response.as_ref().map_or(500, web_sys::Response::status);
    web_sys::console::log_1(&JsValue::from_str(&log.line(status, ms)));
    // Should even a plain reply fail to build, workers-rs answers 500.
    response.map_err(|e| worker::Error::JsError(js_error(&e).unwrap_or_default()))
}

type Served = (Result<web_sys::Response, JsValue>, Log);

async fn serve(request: &web_sys::Request, env: &Env, started_ms: f64) -> Result<Served, JsValue> {
    let config = match CONFIG.get_or_init(|| Config::from_lookup(|name| env_string(env, name))) {
        Ok(config) => config,
        Err(errors) => return Ok(misconfigured(errors.to_string())),
    };
    let Some(store) = KvStore::from_env(env, SESSIONS_BINDING) else {
        return Ok(misconfigured(format!(
            "{SESSIONS_BINDING}: no KV namespace is bound"
        )));
    };
    let inbound = InboundParts::read(request);
    let (inbound, header_names) = inbound.inbound();
    let throttle = THROTTLE.get_or_init(|| config.bad_token_limit.map(Throttle::new));
    // Time stands still within a request on Workers: read the clock once.
    let clock = FixedClock::new((started_ms / 1000.0) as u64);
    let gate = Gate {
        config,
        store: &store,
        clock: &clock,
        throttle: throttle.as_ref(),
    };
    let decision = gate.handle(&inbound).await;
    let mut log = decision.log;
    let forward = match decision.action {
        Action::Reply(r) => return Ok((http::reply(&r), log)),
        Action::Forward(forward) => forward,
    };
    let (response, directives) = match http::send(request, &forward, header_names).await {
        Ok(sent) => sent,
        Err(e) => {
            log.decision = "error";
            log.reason = Some("origin_unreachable");
            log.detail = js_error(&e);
            return Ok((http::reply(&Reply::origin_unreachable()), log));
        }
    };
    let response = match gate
        .after_origin(&forward.after, directives.directives(), &mut log)
        .await
    {
        Completion::Pass(edits) => http::finish(response, &directives, &edits),
        Completion::Replace(r) => http::reply(&r),
    };
    Ok((response, log))
}

fn misconfigured(detail: String) -> Served {
    let log = Log {
        decision: "error",
        reason: Some("misconfigured"),
        detail: Some(detail),
        ..Log::default()
    };
    (http::reply(&Reply::misconfigured()), log)
}

fn env_string(env: &Env, name: &str) -> Option<String> {
    js_sys::Reflect::get(env, &JsValue::from_str(name))
        .ok()?
        .as_string()
}

/// The message of a JavaScript exception or rejection.
fn js_error(e: &JsValue) -> Option<String> {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
}
