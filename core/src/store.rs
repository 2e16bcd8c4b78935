//! Where session records live, seen from native tests and benchmarks.
//!
//! The gate never calls a store: it asks for [`Op`]s and is handed back
//! their [`Outcome`]s (see [`crate::gate`]). On Workers the JS driver
//! performs them against KV; natively, [`perform`] performs them against a
//! [`SessionStore`] such as the [`MemoryStore`] map. What the gate promises
//! of its operations holds either way: one `get` per authenticated request
//! and no write; keys that name a session only by the SHA-256 of its id
//! (`s:<hash>`, `u:<uid>:<hash>`); every `put` with a TTL, so dead sessions
//! disappear by themselves.
//!
//! [`CountingStore`] and [`FailingStore`] wrap any store to count its
//! operations or make them fail, so KV operation counts come from the
//! driver, never from the gate.
//!
//! ```
//! use sessiongate_core::gate::{Op, Outcome};
//! use sessiongate_core::store::{perform, CountingStore, MemoryStore};
//!
//! let store = CountingStore::new(MemoryStore::default());
//! let put = Op::Put { key: "s:abc".into(), value: "{}".into(), metadata: None, ttl: 60 };
//! let get = Op::Get { key: "s:abc".into() };
//! perform(&store, &[put]);
//! assert_eq!(perform(&store, &[get]), [Outcome::Value(Some("{}".into()))]);
//! assert_eq!((store.counts().reads, store.counts().writes), (1, 1));
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;

use crate::assertion::signing::{Algorithm, Signer, SigningKey, SigningKeys};
use crate::gate::Sign;
use crate::gate::{Exchange, Gate, Input, Listed, Op, Outcome, Step, StoreError};
use crate::gate::{VERIFY_KEY_INVALID, VERIFY_VALID};
use crate::ledger::LedgerState;

/// One page of a listing: keys, and the cursor of the next page if any.
pub type Page = (Vec<Listed>, Option<String>);

/// The storage operations of the gate, as Workers KV offers them.
pub trait SessionStore {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` (and `metadata`, returned by `list`) for `ttl` seconds.
    fn put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
        ttl: u64,
    ) -> Result<(), StoreError>;
    fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// A page of the keys starting with `prefix`, from `cursor` on.
    fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<Page, StoreError>;

    /// The revocation ledger's state of `uid`, as JSON (a Durable Object
    /// on Workers): none bound unless a store keeps one.
    fn ledger_read(&self, _uid: &str) -> Result<String, StoreError> {
        Err(StoreError("no revocation ledger".to_owned()))
    }

    fn ledger_write(&self, _uid: &str, _change: LedgerChange) -> Result<(), StoreError> {
        Err(StoreError("no revocation ledger".to_owned()))
    }

    /// The location's Cache API: none unless a store keeps one.
    fn cache_read(&self, _key: &str) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    fn cache_write(&self, _key: &str, _value: &str, _ttl: u64) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A write to the revocation ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerChange {
    Revoke { hash: String },
    RevokeBefore { before: u64 },
}

/// Performs a store step's operations in order, as the JS driver does
/// concurrently, and returns their outcomes.
pub fn perform<S: SessionStore>(store: &S, ops: &[Op]) -> Vec<Outcome> {
    ops.iter()
        .map(|op| {
            let outcome = match op {
                Op::Get { key } => store.get(key).map(Outcome::Value),
                Op::Put {
                    key,
                    value,
                    metadata,
                    ttl,
                } => store
                    .put(key, value, metadata.as_deref(), *ttl)
                    .map(|()| Outcome::Done),
                Op::Delete { key } => store.delete(key).map(|()| Outcome::Done),
                Op::List { prefix, cursor } => store
                    .list(prefix, cursor.as_deref())
                    .map(|(keys, cursor)| Outcome::Page { keys, cursor }),
                Op::LedgerRead { uid } => store.ledger_read(uid).map(|v| Outcome::Value(Some(v))),
                Op::LedgerRevoke { uid, hash, .. } => store
                    .ledger_write(uid, LedgerChange::Revoke { hash: hash.clone() })
                    .map(|()| Outcome::Done),
                Op::LedgerRevokeBefore { uid, before } => store
                    .ledger_write(uid, LedgerChange::RevokeBefore { before: *before })
                    .map(|()| Outcome::Done),
                Op::CacheRead { key } => store.cache_read(key).map(Outcome::Value),
                Op::CacheWrite { key, value, ttl } => {
                    store.cache_write(key, value, *ttl).map(|()| Outcome::Done)
                }
                Op::Verify {
                    alg,
                    jwk,
                    data,
                    signature,
                } => Ok(verify_signature(alg, jwk, data, signature)),
                // The native driver's requests carry no body.
                Op::ReadBody { .. } => Ok(Outcome::Value(Some(String::new()))),
                // The signing keys are the configuration's: see `drive`.
                Op::PublicKeys => Err(unavailable()),
                // The provider is the driver's (DESIGN §12); natively it
                // fails, and the gate fails closed.
                Op::Fetch { .. } => Err(unavailable()),
            };
            outcome.unwrap_or_else(|e| Outcome::Failed(e.0))
        })
        .collect()
}

fn unavailable() -> StoreError {
    StoreError("not available to the native driver".to_owned())
}

/// What the driver's WebCrypto says of a JWS signature (an [`Op::Verify`]),
/// natively: ES256 (device-binding proofs, DESIGN §11) with RustCrypto's
/// `p256`, which only the `store` feature links; `"valid"`, none for a signature
/// that is not the key's, or `"key_invalid"` for a key that is no P-256
/// point. RS256 fails, as the provider's fetches do.
pub fn verify_signature(alg: &str, jwk: &str, data: &str, signature: &str) -> Outcome {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    if alg != "ES256" {
        return Outcome::Failed(format!("{alg}: {}", unavailable().0));
    }
    let coordinate = |jwk: &serde_json::Value, name: &str| -> Option<[u8; 32]> {
        let bytes = URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok()?;
        bytes.try_into().ok()
    };
    let key = serde_json::from_str::<serde_json::Value>(jwk)
        .ok()
        .filter(|jwk| jwk["kty"] == "EC" && jwk["crv"] == "P-256")
        .and_then(|jwk| Some((coordinate(&jwk, "x")?, coordinate(&jwk, "y")?)))
        .and_then(|(x, y)| {
            let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
            VerifyingKey::from_encoded_point(&point).ok()
        });
    let Some(key) = key else {
        return Outcome::Value(Some(VERIFY_KEY_INVALID.to_owned()));
    };
    let valid = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .is_some_and(|signature| key.verify(data.as_bytes(), &signature).is_ok());
    Outcome::Value(valid.then(|| VERIFY_VALID.to_owned()))
}

/// The public half of each signing key, as the driver exports it from
/// WebCrypto for an [`Op::PublicKeys`] (a line per key: `x`, or `x y`),
/// natively: RustCrypto's `p256` and `ed25519-dalek`, which only native
/// builds link.
pub fn export_public_keys(keys: &SigningKeys) -> Outcome {
    use p256::elliptic_curve::sec1::ToEncodedPoint;

    let mut lines = String::new();
    for key in keys.keys() {
        let der = pkcs8_der(key);
        let coordinates = match key.alg {
            Algorithm::Es256 => p256::SecretKey::from_pkcs8_der(&der)
                .ok()
                .and_then(|secret| {
                    let point = secret.public_key().to_encoded_point(false);
                    let (x, y) = point.x().zip(point.y())?;
                    Some(format!(
                        "{} {}",
                        URL_SAFE_NO_PAD.encode(x),
                        URL_SAFE_NO_PAD.encode(y)
                    ))
                }),
            Algorithm::EdDsa => ed25519_dalek::SigningKey::from_pkcs8_der(&der)
                .ok()
                .map(|signing| URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes())),
        };
        let Some(coordinates) = coordinates else {
            return Outcome::Failed(format!("key {} would not import", key.kid));
        };
        lines.push_str(&coordinates);
        lines.push('\n');
    }
    Outcome::Value(Some(lines))
}

fn pkcs8_der(key: &SigningKey) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(key.pkcs8()).unwrap_or_default()
}

/// What the driver makes of a forward's [`Sign`]: the whole JWS, signed
/// natively as WebCrypto signs it (ES256's signature raw r‖s).
pub fn sign(keys: &SigningKeys, sign: &Sign) -> Result<String, String> {
    let key = keys
        .keys()
        .iter()
        .find(|k| k.kid == sign.kid)
        .ok_or_else(|| format!("no signing key {}", sign.kid))?;
    let der = pkcs8_der(key);
    let signature: Vec<u8> = match key.alg {
        Algorithm::Es256 => {
            use p256::ecdsa::signature::Signer as _;
            let secret = p256::SecretKey::from_pkcs8_der(&der).map_err(|e| e.to_string())?;
            let signature: p256::ecdsa::Signature =
                p256::ecdsa::SigningKey::from(secret).sign(sign.input.as_bytes());
            signature.to_bytes().to_vec()
        }
        Algorithm::EdDsa => {
            use ed25519_dalek::Signer as _;
            let signing =
                ed25519_dalek::SigningKey::from_pkcs8_der(&der).map_err(|e| e.to_string())?;
            signing.sign(sign.input.as_bytes()).to_bytes().to_vec()
        }
    };
    Ok(format!(
        "{}.{}",
        sign.input,
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// Performs the exchange's store steps against `store`, as the driver
/// does, until it forwards or finishes; returns that step. Natively the
/// signing keys' public halves come from [`export_public_keys`].
pub fn drive<S: SessionStore>(
    store: &S,
    gate: Gate<'_>,
    exchange: &mut Exchange,
    mut step: Step,
) -> Step {
    while let Step::Store(ops) = step {
        let outcomes = ops
            .iter()
            .map(|op| match op {
                Op::PublicKeys => match &gate.config.assertion_signer {
                    Signer::Keys(keys) => export_public_keys(keys),
                    Signer::Shared(_) => perform(store, &[Op::PublicKeys]).remove(0),
                },
                _ => perform(store, std::slice::from_ref(op)).remove(0),
            })
            .collect();
        step = exchange.resume(gate, Input::Store(outcomes));
    }
    step
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    value: String,
    metadata: Option<String>,
    ttl: u64,
}

/// A store in a map, with a revocation ledger and a Cache API of maps too.
/// TTLs are recorded, not enforced: the gate checks deadlines itself.
#[derive(Debug)]
pub struct MemoryStore {
    entries: RefCell<BTreeMap<String, Entry>>,
    page_size: usize,
    ledger: RefCell<BTreeMap<String, LedgerState>>,
    cache: RefCell<BTreeMap<String, String>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_page_size(1000)
    }
}

impl MemoryStore {
    /// Lists `page_size` keys a page (KV lists 1000).
    pub fn with_page_size(page_size: usize) -> Self {
        Self {
            entries: RefCell::default(),
            page_size: page_size.max(1),
            ledger: RefCell::default(),
            cache: RefCell::default(),
        }
    }

    /// The TTL `key` was last put with.
    pub fn ttl(&self, key: &str) -> Option<u64> {
        self.entries.borrow().get(key).map(|e| e.ttl)
    }

    /// Every key, in order.
    pub fn keys(&self) -> Vec<String> {
        self.entries.borrow().keys().cloned().collect()
    }

    pub fn value(&self, key: &str) -> Option<String> {
        self.entries.borrow().get(key).map(|e| e.value.clone())
    }

    /// The ledger's state of `uid`.
    pub fn ledger(&self, uid: &str) -> LedgerState {
        self.ledger.borrow().get(uid).cloned().unwrap_or_default()
    }

    /// Forgets the location's cache, as a new location would start.
    pub fn clear_cache(&self) {
        self.cache.borrow_mut().clear();
    }
}

impl SessionStore for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.value(key))
    }

    fn put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
        ttl: u64,
    ) -> Result<(), StoreError> {
        let entry = Entry {
            value: value.to_owned(),
            metadata: metadata.map(str::to_owned),
            ttl,
        };
        self.entries.borrow_mut().insert(key.to_owned(), entry);
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.entries.borrow_mut().remove(key);
        Ok(())
    }

    fn ledger_read(&self, uid: &str) -> Result<String, StoreError> {
        Ok(serde_json::to_string(&self.ledger(uid)).unwrap_or_default())
    }

    fn ledger_write(&self, uid: &str, change: LedgerChange) -> Result<(), StoreError> {
        let mut ledger = self.ledger.borrow_mut();
        let state = ledger.entry(uid.to_owned()).or_default();
        let kept = std::mem::take(state);
        *state = match change {
            LedgerChange::Revoke { hash } => kept.with_revoked(hash),
            LedgerChange::RevokeBefore { before } => kept.with_revoked_before(before),
        };
        Ok(())
    }

    fn cache_read(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.cache.borrow().get(key).cloned())
    }

    fn cache_write(&self, key: &str, value: &str, _ttl: u64) -> Result<(), StoreError> {
        self.cache
            .borrow_mut()
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    /// The cursor is the last key of the previous page.
    fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<Page, StoreError> {
        let entries = self.entries.borrow();
        let start = cursor.unwrap_or(prefix);
        let mut keys: Vec<Listed> = entries
            .range(start.to_owned()..)
            .filter(|(k, _)| Some(k.as_str()) != cursor)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(self.page_size + 1)
            .map(|(name, e)| Listed {
                name: name.clone(),
                metadata: e.metadata.clone(),
            })
            .collect();
        let next = (keys.len() > self.page_size).then(|| {
            keys.truncate(self.page_size);
            keys[self.page_size - 1].name.clone()
        });
        Ok((keys, next))
    }
}

/// Operations a [`CountingStore`] has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub reads: usize,
    pub writes: usize,
    pub deletes: usize,
    pub lists: usize,
    /// Requests to the revocation ledger (not KV).
    pub ledger: usize,
    /// Cache API reads and writes (not KV).
    pub cache: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.reads + self.writes + self.deletes + self.lists
    }
}

/// Counts the operations passed to the store it wraps.
#[derive(Debug, Default)]
pub struct CountingStore<S> {
    inner: S,
    counts: Cell<Counts>,
}

impl<S> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            counts: Cell::default(),
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts.get()
    }

    pub fn reset(&self) {
        self.counts.set(Counts::default());
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn count(&self, bump: impl FnOnce(&mut Counts)) {
        let mut counts = self.counts.get();
        bump(&mut counts);
        self.counts.set(counts);
    }
}

impl<S: SessionStore> SessionStore for CountingStore<S> {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.count(|c| c.reads += 1);
        self.inner.get(key)
    }

    fn put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
        ttl: u64,
    ) -> Result<(), StoreError> {
        self.count(|c| c.writes += 1);
        self.inner.put(key, value, metadata, ttl)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count(|c| c.deletes += 1);
        self.inner.delete(key)
    }

    fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<Page, StoreError> {
        self.count(|c| c.lists += 1);
        self.inner.list(prefix, cursor)
    }

    fn ledger_read(&self, uid: &str) -> Result<String, StoreError> {
        self.count(|c| c.ledger += 1);
        self.inner.ledger_read(uid)
    }

    fn ledger_write(&self, uid: &str, change: LedgerChange) -> Result<(), StoreError> {
        self.count(|c| c.ledger += 1);
        self.inner.ledger_write(uid, change)
    }

    fn cache_read(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.count(|c| c.cache += 1);
        self.inner.cache_read(key)
    }

    fn cache_write(&self, key: &str, value: &str, ttl: u64) -> Result<(), StoreError> {
        self.count(|c| c.cache += 1);
        self.inner.cache_write(key, value, ttl)
    }
}

/// Which operations a [`FailingStore`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    Nothing,
    Reads,
    Writes,
    Everything,
    /// The revocation ledger only, KV working.
    Ledger,
}

/// Fails the chosen operations of the store it wraps, as an unreachable KV would.
#[derive(Debug)]
pub struct FailingStore<S> {
    inner: S,
    fail: Cell<Fail>,
}

impl<S> FailingStore<S> {
    pub fn new(inner: S, fail: Fail) -> Self {
        Self {
            inner,
            fail: Cell::new(fail),
        }
    }

    pub fn set(&self, fail: Fail) {
        self.fail.set(fail);
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn check_ledger(&self) -> Result<(), StoreError> {
        match self.fail.get() {
            Fail::Ledger | Fail::Everything => {
                Err(StoreError("ledger unreachable (injected)".to_owned()))
            }
            _ => Ok(()),
        }
    }

    fn check(&self, is_read: bool) -> Result<(), StoreError> {
        let fails = match self.fail.get() {
            Fail::Nothing => false,
            Fail::Reads => is_read,
            Fail::Writes => !is_read,
            Fail::Everything => true,
            Fail::Ledger => false,
        };
        if fails {
            Err(StoreError("unavailable (injected)".to_owned()))
        } else {
            Ok(())
        }
    }
}

impl<S: SessionStore> SessionStore for FailingStore<S> {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.check(true)?;
        self.inner.get(key)
    }

    fn put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
        ttl: u64,
    ) -> Result<(), StoreError> {
        self.check(false)?;
        self.inner.put(key, value, metadata, ttl)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check(false)?;
        self.inner.delete(key)
    }

    fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<Page, StoreError> {
        self.check(true)?;
        self.inner.list(prefix, cursor)
    }

    fn ledger_read(&self, uid: &str) -> Result<String, StoreError> {
        self.check_ledger()?;
        self.inner.ledger_read(uid)
    }

    fn ledger_write(&self, uid: &str, change: LedgerChange) -> Result<(), StoreError> {
        self.check_ledger()?;
        self.inner.ledger_write(uid, change)
    }

    fn cache_read(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.cache_read(key)
    }

    fn cache_write(&self, key: &str, value: &str, ttl: u64) -> Result<(), StoreError> {
        self.inner.cache_write(key, value, ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_lists_page_by_page_within_the_prefix() {
        let store = MemoryStore::with_page_size(2);
        for key in ["u:a:1", "u:a:2", "u:a:3", "u:b:1"] {
            store.put(key, "", None, 60).unwrap();
        }
        let names = |page: &Page| page.0.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
        let first = store.list("u:a:", None).unwrap();
        assert_eq!(names(&first), ["u:a:1", "u:a:2"]);
        let second = store.list("u:a:", first.1.as_deref()).unwrap();
        assert_eq!((names(&second), second.1), (vec!["u:a:3".to_owned()], None));
    }
}
