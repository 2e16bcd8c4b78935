//! The text interface the Worker's driver calls (`Isolate`), driven as
//! `driver.js` drives it: a request described in lines, steps and inputs
//! as JSON, exchanges waiting in the slab between calls.

use std::collections::HashMap;

use serde_json::{json, Value};
use sessiongate_core::isolate::{Bindings, Isolate};
use sessiongate_core::key::HmacKey;
use sessiongate_core::token::{KeyRing, Kid, SessionId};

const SECRET_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const SECRET_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const NOW_MS: f64 = 1_800_000_000_000.0;

fn vars() -> HashMap<&'static str, String> {
    HashMap::from([
        ("ORIGIN_URL", "https://origin.example.com".to_owned()),
        ("AUDIENCE", "app".to_owned()),
        ("SESSION_KEYS", format!("k1:{SECRET_A}")),
        ("ASSERTION_KEY", SECRET_A.to_owned()),
        ("HANDOFF_KEY", SECRET_B.to_owned()),
    ])
}

fn isolate(vars: HashMap<&'static str, String>, bindings: Bindings) -> Isolate {
    Isolate::configure(&|name| vars.get(name).cloned(), bindings)
}

fn bound() -> Bindings {
    Bindings {
        sessions: true,
        ..Bindings::default()
    }
}

/// `driver.js`'s description of a GET of `path` with these headers.
fn describe(path: &str, headers: &[(&str, &str)]) -> String {
    let mut lines = vec!["GET".to_owned(), format!("https://app.example.com{path}")];
    for (name, value) in headers {
        lines.push(name.to_string());
        lines.push(value.to_string());
    }
    lines.join("\n")
}

/// A step, its log line (JSON text on the wire) read too.
fn step(json: String) -> Value {
    let mut step: Value = serde_json::from_str(&json).unwrap();
    if let Some(log) = step["log"].as_str() {
        step["log"] = serde_json::from_str(log).unwrap();
    }
    step
}

/// A cookie for a session `SESSION_KEYS` signed (its record is not stored).
fn session_cookie() -> String {
    let ring = KeyRing::new(vec![(
        Kid::parse("k1").unwrap(),
        HmacKey::new(SECRET_A.as_bytes()),
    )])
    .unwrap();
    let id = SessionId::generate().unwrap();
    format!("__Host-sg={}", ring.mint(&id, (NOW_MS / 1000.0) as u64))
}

#[test]
fn the_wiring_names_the_bindings_in_use() {
    assert_eq!(
        step(isolate(vars(), bound()).wiring()),
        json!({ "kv": "SESSIONS", "metrics": null, "ledger": null })
    );
    let all = Bindings {
        sessions: true,
        metrics: true,
        ledger: true,
    };
    assert_eq!(
        step(isolate(vars(), all).wiring()),
        json!({ "kv": "SESSIONS", "metrics": "METRICS", "ledger": "LEDGER" })
    );
}

#[test]
fn without_the_kv_binding_every_request_is_misconfigured() {
    let unbound = isolate(vars(), Bindings::default());
    let answer = step(unbound.start(&describe("/dashboard", &[]), NOW_MS));
    assert_eq!(answer["reply"]["status"], 500);
    assert_eq!(answer["log"]["reason"], "misconfigured");
    assert_eq!(
        answer["log"]["detail"],
        "SESSIONS: no KV namespace is bound"
    );
}

#[test]
fn a_bad_configuration_is_misconfigured_naming_the_variable() {
    let mut vars = vars();
    vars.remove("HANDOFF_KEY");
    let answer = step(isolate(vars, bound()).start(&describe("/", &[]), NOW_MS));
    assert_eq!(answer["reply"]["status"], 500);
    assert!(answer["log"]["detail"]
        .as_str()
        .unwrap()
        .contains("HANDOFF_KEY"));
}

#[test]
fn an_exchange_waits_in_the_slab_until_resumed_once() {
    let isolate = isolate(vars(), bound());
    let cookie = session_cookie();
    let first = step(isolate.start(&describe("/dashboard", &[("cookie", &cookie)]), NOW_MS));
    let id = first["id"].as_u64().expect("the record read waits");
    assert_eq!(first["kv"][0]["op"], "get");

    // No record: the session is unknown.
    let outcome = json!([{ "value": null }]).to_string();
    let answer = step(isolate.resume(id as u32, &outcome, NOW_MS + 5.0));
    assert_eq!(answer["reply"]["status"], 401);
    assert_eq!(answer["log"]["ms"], 5);

    // The id is free again: resuming it twice is the driver's mistake.
    let again = step(isolate.resume(id as u32, &outcome, NOW_MS));
    assert_eq!(again["reply"]["status"], 500);
    assert_eq!(
        again["log"]["detail"],
        format!("no exchange {id} is waiting")
    );
}

#[test]
fn a_cancelled_exchange_ends_with_its_log_line_and_leaves_the_slab() {
    let isolate = isolate(vars(), bound());
    let cookie = session_cookie();
    let first = step(isolate.start(&describe("/dashboard", &[("cookie", &cookie)]), NOW_MS));
    let id = first["id"].as_u64().unwrap() as u32;
    let in_flight = || {
        let health = step(isolate.start(&describe("/.sessiongate/health", &[]), NOW_MS));
        let id = health["id"].as_u64().unwrap() as u32;
        let probe = json!([{ "value": null }]).to_string();
        let answer = step(isolate.resume(id, &probe, NOW_MS));
        let body: Value = serde_json::from_str(answer["reply"]["body"].as_str().unwrap()).unwrap();
        body["in_flight"].clone()
    };
    assert_eq!(in_flight(), 1);
    let cancelled = step(isolate.cancel(id, NOW_MS));
    assert_eq!(cancelled["log"]["reason"], "cancelled");
    assert_eq!(cancelled["log"]["status"], 499);
    assert_eq!(in_flight(), 0);
}

#[test]
fn a_driver_failure_ends_the_exchange_with_500_internal() {
    let isolate = isolate(vars(), bound());
    let cookie = session_cookie();
    let first = step(isolate.start(&describe("/dashboard", &[("cookie", &cookie)]), NOW_MS));
    let id = first["id"].as_u64().unwrap() as u32;
    let answer = step(isolate.abandon(id, "TypeError: boom", NOW_MS));
    assert_eq!(answer["reply"]["status"], 500);
    assert_eq!(answer["log"]["reason"], "internal");
    assert_eq!(answer["log"]["detail"], "TypeError: boom");
    // After the final step there is no exchange: the same answer.
    let late = step(isolate.abandon(0, "late", NOW_MS));
    assert_eq!(late["reply"]["status"], 500);
}
