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
//! use sessiongate::gate::{Op, Outcome};
//! use sessiongate::store::{perform, CountingStore, MemoryStore};
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
use std::fmt;

use crate::gate::{Listed, Op, Outcome};

/// A store operation that failed; the text is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

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
            };
            outcome.unwrap_or_else(|e| Outcome::Failed(e.0))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    value: String,
    metadata: Option<String>,
    ttl: u64,
}

/// A store in a map. TTLs are recorded, not enforced: the gate checks
/// deadlines itself on every read.
#[derive(Debug)]
pub struct MemoryStore {
    entries: RefCell<BTreeMap<String, Entry>>,
    page_size: usize,
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
