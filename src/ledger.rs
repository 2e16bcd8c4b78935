//! The ledger's Durable Object (wasm32 only): one per user, named by the
//! uid, SQLite-backed. Off the request path (a location reads it at most
//! once per half staleness window per user), so it is plain async
//! workers-rs. Its HTTP face, for the driver:
//!
//! - `GET /state`: the user's [`LedgerState`] as JSON;
//! - `POST /revoke` `{"hash","abs_exp"}`: one session ended, kept until its
//!   absolute expiry (an alarm prunes it after);
//! - `POST /revoke-before` `{"before"}`: every session begun before then.

use serde::Deserialize;
use worker::{
    durable_object, wasm_bindgen, Date, DurableObject, Env, Request, Response, Result, SqlCursor,
    SqlStorage, SqlStorageValue, State,
};

use sessiongate_core::ledger::LedgerState;

#[durable_object]
pub struct Ledger {
    state: State,
    sql: SqlStorage,
}

#[derive(Deserialize)]
struct Revoke {
    hash: String,
    abs_exp: i64,
}

/// A `/revoke-before` body.
#[derive(Deserialize)]
struct Cut {
    before: i64,
}

fn now() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

impl DurableObject for Ledger {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Idempotent, and cheap: the object is created on first use.
        for schema in [
            "CREATE TABLE IF NOT EXISTS revoked (hash TEXT PRIMARY KEY, abs_exp INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS cut (id INTEGER PRIMARY KEY CHECK (id = 0), before INTEGER NOT NULL)",
        ] {
            if let Err(e) = sql.exec(schema, None) {
                worker::console_error!("ledger: {e}");
            }
        }
        Self { state, sql }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        // The path by hand: `Request::path` would parse the URL with the
        // url crate, which costs the wasm more than the whole gate.
        let url = req.inner().url();
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/")
            .to_owned();
        // Bodies as text, rows as raw values: workers-rs's JSON and row
        // readers would each bring serde-wasm-bindgen into the wasm.
        match (req.inner().method().as_str(), path.as_str()) {
            ("GET", "/state") => {
                let state = serde_json::to_string(&self.read()?)?;
                Response::ok(state)
            }
            ("POST", "/revoke") => {
                let Revoke { hash, abs_exp } = serde_json::from_str(&req.text().await?)?;
                self.sql.exec(
                    "INSERT INTO revoked (hash, abs_exp) VALUES (?, ?) \
                     ON CONFLICT (hash) DO UPDATE SET abs_exp = max(abs_exp, excluded.abs_exp)",
                    vec![hash.into(), abs_exp.into()],
                )?;
                self.arm(abs_exp).await?;
                Ok(Response::empty()?.with_status(204))
            }
            ("POST", "/revoke-before") => {
                let Cut { before } = serde_json::from_str(&req.text().await?)?;
                self.sql.exec(
                    "INSERT INTO cut (id, before) VALUES (0, ?) \
                     ON CONFLICT (id) DO UPDATE SET before = max(before, excluded.before)",
                    vec![before.into()],
                )?;
                Ok(Response::empty()?.with_status(204))
            }
            _ => Response::error("not found", 404),
        }
    }

    /// Forgets sessions past their absolute expiry: nothing can use them.
    async fn alarm(&self) -> Result<Response> {
        self.sql
            .exec("DELETE FROM revoked WHERE abs_exp <= ?", vec![now().into()])?;
        let next = self.sql.exec(
            "SELECT min(abs_exp) FROM revoked WHERE abs_exp IS NOT NULL",
            None,
        )?;
        if let Some(abs_exp) = first_column(next)?.into_iter().find_map(integer) {
            self.arm(abs_exp).await?;
        }
        Response::empty()
    }
}

impl Ledger {
    fn read(&self) -> Result<LedgerState> {
        let now = now();
        let hashes = self.sql.exec(
            "SELECT hash FROM revoked WHERE abs_exp > ?",
            vec![now.into()],
        )?;
        let cut = self.sql.exec("SELECT before FROM cut", None)?;
        Ok(LedgerState {
            revoked_before: first_column(cut)?
                .into_iter()
                .find_map(integer)
                .map(|before| before.max(0) as u64),
            revoked: first_column(hashes)?
                .into_iter()
                .filter_map(|hash| match hash {
                    SqlStorageValue::String(hash) => Some(hash),
                    _ => None,
                })
                .collect(),
        })
    }

    /// Sets the alarm for `abs_exp` unless one is due sooner.
    async fn arm(&self, abs_exp: i64) -> Result<()> {
        let storage = self.state.storage();
        let at_ms = abs_exp.saturating_mul(1000);
        match storage.get_alarm().await? {
            Some(due) if due <= at_ms => Ok(()),
            _ => {
                let offset = (at_ms - Date::now().as_millis() as i64).max(0);
                storage.set_alarm(offset).await
            }
        }
    }
}

/// Each row's first value.
fn first_column(cursor: SqlCursor) -> Result<Vec<SqlStorageValue>> {
    cursor
        .raw()
        .map(|row| Ok(row?.into_iter().next().unwrap_or(SqlStorageValue::Null)))
        .collect()
}

fn integer(value: SqlStorageValue) -> Option<i64> {
    match value {
        SqlStorageValue::Integer(n) => Some(n),
        SqlStorageValue::Float(f) => Some(f as i64),
        _ => None,
    }
}
