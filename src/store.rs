//! Where session records live.
//!
//! A [`SessionStore`] is the four Workers KV operations the gate uses, with
//! string keys and values. The gate promises what it asks of a store: one
//! `get` per authenticated request and no write; keys that name a session
//! only by the SHA-256 of its id (`s:<hash>`, `u:<uid>:<hash>`); every
//! `put` with a TTL, so dead sessions disappear by themselves.
//!
//! [`MemoryStore`] keeps everything in a map, for tests and benchmarks;
//! [`CountingStore`] and [`FailingStore`] wrap any store to count its
//! operations or make them fail.
//!
//! ```
//! use sessiongate::store::{block_on, CountingStore, MemoryStore, SessionStore};
//!
//! let store = CountingStore::new(MemoryStore::default());
//! block_on(store.put("s:abc", "{}", None, 60)).unwrap();
//! assert_eq!(block_on(store.get("s:abc")).unwrap().as_deref(), Some("{}"));
//! assert_eq!(store.counts().reads, 1);
//! assert_eq!(store.counts().writes, 1);
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

/// A store operation that failed; the text is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// A key returned by [`SessionStore::list`], with the metadata it was put with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub metadata: Option<String>,
}

/// The storage operations of the gate. Futures need not be `Send`: a
/// Worker isolate runs one thread.
#[allow(async_fn_in_trait)]
pub trait SessionStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores `value` (and `metadata`, returned by `list`) for `ttl` seconds.
    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
        ttl: u64,
    ) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Every key starting with `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    value: String,
    metadata: Option<String>,
    ttl: u64,
}

/// A store in a map. TTLs are recorded, not enforced: the gate checks
/// deadlines itself on every read.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: RefCell<BTreeMap<String, Entry>>,
}

impl MemoryStore {
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
}

impl SessionStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.value(key))
    }

    async fn put(
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

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.entries.borrow_mut().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        Ok(self
            .entries
            .borrow()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(name, e)| Listed {
                name: name.clone(),
                metadata: e.metadata.clone(),
            })
            .collect())
    }
}

/// Operations a [`CountingStore`] has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub reads: usize,
    pub writes: usize,
    pub deletes: usize,
    pub lists: usize,
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
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.count(|c| c.reads += 1);
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
        ttl: u64,
    ) -> Result<(), StoreError> {
        self.count(|c| c.writes += 1);
        self.inner.put(key, value, metadata, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count(|c| c.deletes += 1);
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        self.count(|c| c.lists += 1);
        self.inner.list(prefix).await
    }
}

/// Which operations a [`FailingStore`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    Nothing,
    Reads,
    Writes,
    Everything,
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

    fn check(&self, is_read: bool) -> Result<(), StoreError> {
        let fails = match self.fail.get() {
            Fail::Nothing => false,
            Fail::Reads => is_read,
            Fail::Writes => !is_read,
            Fail::Everything => true,
        };
        if fails {
            Err(StoreError("unavailable (injected)".to_owned()))
        } else {
            Ok(())
        }
    }
}

impl<S: SessionStore> SessionStore for FailingStore<S> {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.check(true)?;
        self.inner.get(key).await
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        metadata: Option<&str>,
        ttl: u64,
    ) -> Result<(), StoreError> {
        self.check(false)?;
        self.inner.put(key, value, metadata, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check(false)?;
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        self.check(true)?;
        self.inner.list(prefix).await
    }
}

/// Runs a future that completes without waiting, as every future over
/// [`MemoryStore`] does. Panics if it would wait: for tests and benchmarks.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("block_on: the future would wait"),
    }
}
