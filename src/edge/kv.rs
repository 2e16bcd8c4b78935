//! The `SESSIONS` Workers KV namespace as a [`SessionStore`].
//!
//! Bound directly with `wasm-bindgen` rather than through workers-rs's
//! `KvStore`, which looks up five methods on every construction: this is
//! one property read per request. Every operation is raced against a
//! timer, so a hanging KV fails closed in bounded time.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;

use super::js_error;
use crate::store::{Listed, SessionStore, StoreError};

/// Longest any KV operation may take before the request fails with 503.
const TIMEOUT_MS: u32 = 3_000;
/// Pages of 1000 keys read for one user before giving up.
const MAX_LIST_PAGES: usize = 10;

#[wasm_bindgen]
extern "C" {
    /// A `KVNamespace` binding.
    pub type KvNamespace;

    #[wasm_bindgen(method, catch)]
    fn get(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn put(
        this: &KvNamespace,
        key: &str,
        value: &str,
        options: &Object,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn delete(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn list(this: &KvNamespace, options: &Object) -> Result<Promise, JsValue>;
}

#[wasm_bindgen(module = "/src/edge/glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = withTimeout)]
    fn with_timeout(promise: &Promise, ms: u32) -> Promise;
}

pub struct KvStore(KvNamespace);

impl KvStore {
    /// The namespace bound as `binding`, if anything is.
    pub fn from_env(env: &JsValue, binding: &str) -> Option<Self> {
        let namespace = Reflect::get(env, &JsValue::from_str(binding)).ok()?;
        (namespace.is_object()).then(|| Self(namespace.unchecked_into()))
    }
}

/// Awaits `promise`, or fails once [`TIMEOUT_MS`] have passed.
async fn settle(operation: &str, promise: Result<Promise, JsValue>) -> Result<JsValue, StoreError> {
    let fail = |e: JsValue| {
        let message = js_error(&e).unwrap_or_else(|| "unknown error".to_owned());
        StoreError(format!("{operation} failed: {message}"))
    };
    let promise = promise.map_err(fail)?;
    JsFuture::from(with_timeout(&promise, TIMEOUT_MS))
        .await
        .map_err(fail)
}

fn options(pairs: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (name, value) in pairs {
        let _ = Reflect::set(&object, &JsValue::from_str(name), value);
    }
    object
}

impl SessionStore for KvStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(settle("get", self.0.get(key)).await?.as_string())
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
        ttl: u64,
    ) -> Result<(), StoreError> {
        let mut pairs = vec![("expirationTtl", JsValue::from_f64(ttl as f64))];
        if let Some(metadata) = metadata {
            pairs.push(("metadata", JsValue::from_str(metadata)));
        }
        settle("put", self.0.put(key, value, &options(&pairs)))
            .await
            .map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        settle("delete", self.0.delete(key)).await.map(drop)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        let mut listed = Vec::new();
        let mut cursor: Option<JsValue> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut pairs = vec![("prefix", JsValue::from_str(prefix))];
            if let Some(cursor) = cursor.take() {
                pairs.push(("cursor", cursor));
            }
            let page = settle("list", self.0.list(&options(&pairs))).await?;
            let field = |object: &JsValue, name: &str| {
                Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
            };
            for key in Array::from(&field(&page, "keys")).iter() {
                if let Some(name) = field(&key, "name").as_string() {
                    listed.push(Listed {
                        name,
                        metadata: field(&key, "metadata").as_string(),
                    });
                }
            }
            if field(&page, "list_complete").as_bool() != Some(false) {
                return Ok(listed);
            }
            cursor = Some(field(&page, "cursor"));
        }
        Err(StoreError(format!(
            "list found more than {MAX_LIST_PAGES} pages of keys"
        )))
    }
}
