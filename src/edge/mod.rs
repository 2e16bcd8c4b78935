//! The Workers glue (DESIGN §10): the wasm exports that `driver.js`, the
//! Worker's entry, calls. Each hands its strings to this isolate's
//! [`Isolate`], which answers one step as JSON; only reading the
//! environment is done here.

use std::cell::OnceCell;

use wasm_bindgen::prelude::*;

use sessiongate_core::isolate::{
    Bindings, Isolate, LEDGER_BINDING, METRICS_BINDING, SESSIONS_BINDING,
};

thread_local! {
    /// This isolate's: its environment never changes. Leaked, never
    /// dropped, so that no code to drop one is in the wasm.
    static ISOLATE: OnceCell<&'static Isolate> = const { OnceCell::new() };
}

/// Reads the configuration from `env` once per isolate. Returns what the
/// driver needs wired ([`Isolate::wiring`]).
#[wasm_bindgen]
pub fn configure(env: &worker::Env) -> String {
    console_error_panic_hook::set_once();
    ISOLATE.with(|isolate| {
        isolate
            .get_or_init(|| {
                let lookup = |name: &str| {
                    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
                    // `[vars]` may hold TOML numbers, booleans and tables (a
                    // `POLICY` array of tables): read them as their JSON
                    // text, never as unset.
                    match value.as_string() {
                        Some(text) => Some(text),
                        None if value.is_undefined() || value.is_null() => None,
                        None => js_sys::JSON::stringify(&value).ok()?.as_string(),
                    }
                };
                let bindings = Bindings {
                    sessions: env.kv(SESSIONS_BINDING).is_ok(),
                    ledger: env.durable_object(LEDGER_BINDING).is_ok(),
                    metrics: js_sys::Reflect::get(env, &JsValue::from_str(METRICS_BINDING))
                        .is_ok_and(|binding| binding.is_object()),
                };
                Box::leak(Box::new(Isolate::configure(&lookup, bindings)))
            })
            .wiring()
    })
}

/// [`Isolate::signing_keys`]; asked for once per isolate, after `configure`.
#[wasm_bindgen]
pub fn signing_keys() -> String {
    with_isolate(Isolate::signing_keys)
}

/// [`Isolate::start`].
#[wasm_bindgen]
pub fn start(description: &str, now_ms: f64) -> String {
    with_isolate(|isolate| isolate.start(description, now_ms))
}

/// [`Isolate::resume`].
#[wasm_bindgen]
pub fn resume(id: u32, input: &str, now_ms: f64) -> String {
    with_isolate(|isolate| isolate.resume(id, input, now_ms))
}

/// [`Isolate::abandon`].
#[wasm_bindgen]
pub fn abandon(id: u32, detail: &str, now_ms: f64) -> String {
    with_isolate(|isolate| isolate.abandon(id, detail, now_ms))
}

/// [`Isolate::cancel`].
#[wasm_bindgen]
pub fn cancel(id: u32, now_ms: f64) -> String {
    with_isolate(|isolate| isolate.cancel(id, now_ms))
}

/// [`Isolate::absorb`].
#[wasm_bindgen]
pub fn absorb(ops: &str, outcomes: &str, now_ms: f64) -> String {
    with_isolate(|isolate| isolate.absorb(ops, outcomes, now_ms))
}

/// Calls `f` with this isolate's [`Isolate`]; before `configure`, with one
/// that has no configuration, whose every answer says so (leaked too).
fn with_isolate(f: impl FnOnce(&Isolate) -> String) -> String {
    ISOLATE.with(|isolate| match isolate.get() {
        Some(isolate) => f(isolate),
        None => f(Box::leak(Box::new(Isolate::new(
            Err("configure() was not called".to_owned()),
            false,
        )))),
    })
}
