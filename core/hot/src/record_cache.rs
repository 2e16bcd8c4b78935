//! The isolate's copies of session records (DESIGN §14):
//! `RECORD_CACHE`.
//!
//! A record read from KV is kept in isolate memory for at most
//! `RECORD_CACHE`, and later requests of the same session take it from
//! here instead of reading KV again. Only the record is kept: the
//! revocation check (the ledger's state, DESIGN §3) runs on every request,
//! copy or not, so a copy never keeps a revoked session alive past
//! `REVOCATION_STALENESS`. What a copy can delay is a change that reaches
//! KV without passing through this isolate (docs/SECURITY.md says which,
//! and why each stays within the bound).
//!
//! Copies are keyed by the session's [`IdHash`], never by its id or token,
//! and hold the record's JSON as KV had it. Time comes in as milliseconds:
//! a copy lives exactly its lifetime, not up to a second less.
//!
//! ```
//! use sessiongate_hot::record_cache::RecordCache;
//! use sessiongate_hot::token::SessionId;
//!
//! let cache = RecordCache::default();
//! let hash = SessionId::from_bytes([7; 32]).hash();
//! let json = r#"{"v":1,"uid":"alice","iat":1000,"abs_exp":5000}"#;
//! // The read is asked for at 1 000 000 ms; what it found is kept for 10 s.
//! let read = cache.read(1_000_000);
//! assert!(cache.keep(&hash, json, 5000, read, 10_000));
//! assert_eq!(cache.get(&hash, 1_009_999, 10_000).map(|r| r.uid), Some("alice".into()));
//! assert!(cache.get(&hash, 1_010_000, 10_000).is_none(), "not at its lifetime");
//! ```
//!
//! A copy is never newer than this isolate's own writes: every write or
//! delete of a record the gate asks for drops its copy
//! ([`RecordCache::forget`]), and a read asked for before that ([`Read`])
//! is not kept when its answer comes back after it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::session::Record;
use crate::token::IdHash;

/// Copies one isolate keeps at once.
pub const MAX_COPIES: usize = 10_000;
/// Bytes their copies may count together: each its record's JSON plus
/// [`COPY_OVERHEAD`].
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// What each copy counts beyond its JSON: the key, the times, the map's
/// slot and the age index's entry (about 150 bytes on wasm32 and 64-bit).
pub const COPY_OVERHEAD: usize = 192;
/// Largest record kept. One the edge writes is at most about 4 KiB (uid,
/// claims, email, groups and a device key at their bounds, DESIGN §2); a
/// larger one came from elsewhere and is read from KV each time.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;
/// Longest `RECORD_CACHE` without the revocation ledger, in seconds: a
/// logout at another isolate of the same location waits this long.
pub const MAX_WITHOUT_LEDGER: u64 = 60;

/// A read of a record from the store, as it was asked for: when, and what
/// the cache's epoch was then. Handed back to [`RecordCache::keep`] with
/// what the read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub at_ms: u64,
    epoch: u64,
}

/// Session records read in this isolate, bounded by [`MAX_COPIES`] and
/// [`MAX_BYTES`]. A `Mutex` only so that it can live in a `static`: an
/// isolate runs one thread.
#[derive(Debug, Default)]
pub struct RecordCache {
    copies: Mutex<Copies>,
}

#[derive(Debug, Default)]
struct Copies {
    by_hash: HashMap<[u8; 32], Held>,
    /// What the copies count against [`MAX_BYTES`].
    bytes: usize,
    /// Moves on whenever this isolate drops a copy for a write of its own.
    epoch: u64,
}

#[derive(Debug)]
struct Held {
    json: Box<str>,
    read_at_ms: u64,
    /// The record's `abs_exp`, Unix seconds: no copy outlives it.
    abs_exp: u64,
}

impl Held {
    fn size(&self) -> usize {
        self.json.len() + COPY_OVERHEAD
    }

    /// Younger than `lifetime_ms`, and short of the record's absolute deadline.
    fn is_live(&self, now_ms: u64, lifetime_ms: u64) -> bool {
        now_ms.saturating_sub(self.read_at_ms) < lifetime_ms
            && now_ms < self.abs_exp.saturating_mul(1000)
    }
}

impl Copies {
    fn remove(&mut self, key: &[u8; 32]) -> Option<Held> {
        let copy = self.by_hash.remove(key)?;
        self.bytes -= copy.size();
        Some(copy)
    }

    /// Whether one more copy of `size` bytes would pass a bound.
    fn is_full(&self, size: usize) -> bool {
        self.by_hash.len() >= MAX_COPIES || self.bytes + size > MAX_BYTES
    }

    /// Makes room for one more copy of `size` bytes, if need be: the
    /// copies no longer live go first; then, while a bound would still be
    /// passed, the oldest quarter of the reads.
    fn make_room(&mut self, size: usize, now_ms: u64, lifetime_ms: u64) {
        if !self.is_full(size) {
            return;
        }
        self.retain(|copy| copy.is_live(now_ms, lifetime_ms));
        while self.is_full(size) && !self.by_hash.is_empty() {
            let mut reads: Vec<u64> = self.by_hash.values().map(|c| c.read_at_ms).collect();
            reads.sort_unstable();
            let cutoff = reads[reads.len() / 4];
            self.retain(|copy| copy.read_at_ms > cutoff);
        }
    }

    fn retain(&mut self, keep: impl Fn(&Held) -> bool) {
        self.by_hash.retain(|_, copy| keep(copy));
        self.bytes = self.by_hash.values().map(Held::size).sum();
    }
}

impl RecordCache {
    fn copies(&self) -> MutexGuard<'_, Copies> {
        // A panic cannot leave the maps half-updated in a way that serves
        // a wrong record: recover them.
        self.copies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Session `hash`'s record as this isolate read it, if the copy is
    /// younger than `lifetime_ms` and short of the record's `abs_exp`.
    pub fn get(&self, hash: &IdHash, now_ms: u64, lifetime_ms: u64) -> Option<Record> {
        let mut copies = self.copies();
        let key = hash.as_bytes();
        let copy = copies.by_hash.get(key)?;
        if !copy.is_live(now_ms, lifetime_ms) {
            copies.remove(key);
            return None;
        }
        Record::from_json(&copy.json).ok()
    }

    /// A read of the store asked for now: take it before the read, and
    /// hand it to [`RecordCache::keep`] with what the read found.
    pub fn read(&self, now_ms: u64) -> Read {
        Read {
            at_ms: now_ms,
            epoch: self.copies().epoch,
        }
    }

    /// Keeps the record `json` (whose `abs_exp` is given) of session
    /// `hash`, found by `read`, for `lifetime_ms` from when the read was
    /// asked for. Returns whether it is kept: not when this isolate has
    /// written or ended any session since the read was asked for (the
    /// answer may predate that write), when the record is larger than
    /// [`MAX_RECORD_BYTES`], or when it would not be live. When one more
    /// copy would pass either bound, the copies no longer live go, then
    /// the oldest quarter of the reads, as often as it takes.
    pub fn keep(
        &self,
        hash: &IdHash,
        json: &str,
        abs_exp: u64,
        read: Read,
        lifetime_ms: u64,
    ) -> bool {
        let mut copies = self.copies();
        if copies.epoch != read.epoch {
            return false;
        }
        let key = *hash.as_bytes();
        // Whatever happens, this read is newer than any copy kept before.
        copies.remove(&key);
        let now_ms = read.at_ms;
        let copy = Held {
            json: json.into(),
            read_at_ms: read.at_ms,
            abs_exp,
        };
        if json.len() > MAX_RECORD_BYTES || !copy.is_live(now_ms, lifetime_ms) {
            return false;
        }
        let size = copy.size();
        copies.make_room(size, now_ms, lifetime_ms);
        copies.bytes += size;
        copies.by_hash.insert(key, copy);
        true
    }

    /// Drops the copies of sessions this isolate is writing or ending, and
    /// refuses to keep what any read asked for before now finds.
    pub fn forget(&self, hashes: &[IdHash]) {
        let mut copies = self.copies();
        copies.epoch = copies.epoch.wrapping_add(1);
        for hash in hashes {
            copies.remove(hash.as_bytes());
        }
    }

    /// Copies kept now (some may have expired, and go when next met).
    pub fn len(&self) -> usize {
        self.copies().by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the copies count against [`MAX_BYTES`].
    pub fn bytes(&self) -> usize {
        self.copies().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::SessionId;

    const T: u64 = 1_700_000_000_000;
    const LIFE: u64 = 10_000;
    const ABS_EXP: u64 = 1_700_043_200;

    fn hash(n: u32) -> IdHash {
        let mut bytes = [0; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        SessionId::from_bytes(bytes).hash()
    }

    /// A record's JSON of about `len` bytes (its claims pad it).
    fn record(uid: &str, len: usize) -> String {
        let head =
            format!(r#"{{"v":1,"uid":"{uid}","iat":1,"abs_exp":{ABS_EXP},"claims":{{"pad":""#);
        let pad = "x".repeat(len.saturating_sub(head.len() + 3));
        format!("{head}{pad}\"}}}}")
    }

    fn keep_at(cache: &RecordCache, n: u32, at_ms: u64, len: usize) -> bool {
        let json = record(&n.to_string(), len);
        cache.keep(&hash(n), &json, ABS_EXP, cache.read(at_ms), LIFE)
    }

    #[test]
    fn a_kept_record_serves_until_its_lifetime_and_no_longer() {
        let cache = RecordCache::default();
        assert!(cache.get(&hash(1), T, LIFE).is_none(), "a miss");
        assert!(keep_at(&cache, 1, T, 100));
        let copy = cache.get(&hash(1), T + LIFE - 1, LIFE).unwrap();
        assert_eq!((copy.uid.as_str(), copy.abs_exp), ("1", ABS_EXP));
        assert!(cache.get(&hash(2), T, LIFE).is_none(), "another session's");
        assert!(cache.get(&hash(1), T + LIFE, LIFE).is_none());
        assert!(cache.is_empty(), "an expired copy met is dropped");
    }

    #[test]
    fn no_copy_outlives_the_records_absolute_deadline() {
        let cache = RecordCache::default();
        let at = ABS_EXP * 1000 - 4000;
        assert!(keep_at(&cache, 1, at, 100));
        assert!(cache.get(&hash(1), ABS_EXP * 1000 - 1, LIFE).is_some());
        assert!(cache.get(&hash(1), ABS_EXP * 1000, LIFE).is_none());
        assert!(
            !keep_at(&cache, 1, ABS_EXP * 1000, 100),
            "nor is one kept at it"
        );
    }

    #[test]
    fn off_or_oversized_keeps_nothing() {
        let cache = RecordCache::default();
        let json = record("a", 100);
        assert!(!cache.keep(&hash(1), &json, ABS_EXP, cache.read(T), 0));
        assert!(!keep_at(&cache, 2, T, MAX_RECORD_BYTES + 1));
        assert!(keep_at(&cache, 3, T, MAX_RECORD_BYTES));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn at_the_bound_on_copies_the_oldest_quarter_goes() {
        // A lifetime long enough that nothing expires: only the bound acts.
        let (cache, life) = (RecordCache::default(), 3_600_000);
        let json = record("a", 100);
        let full = MAX_COPIES as u32;
        for n in 0..full {
            let read = cache.read(T + u64::from(n));
            assert!(cache.keep(&hash(n), &json, ABS_EXP, read, life));
        }
        assert_eq!(cache.len(), MAX_COPIES, "up to the bound, everything");
        let read = cache.read(T + u64::from(full));
        assert!(cache.keep(&hash(full), &json, ABS_EXP, read, life));
        let at = T + u64::from(full);
        let kept = |n: u32| cache.get(&hash(n), at, life).is_some();
        let quarter = full / 4;
        assert!(!kept(0) && !kept(quarter), "the oldest quarter went");
        assert!(kept(quarter + 1) && kept(full - 1) && kept(full));
        assert_eq!(cache.len(), MAX_COPIES - MAX_COPIES / 4);
    }

    #[test]
    fn at_the_bound_on_bytes_the_oldest_quarter_goes() {
        let cache = RecordCache::default();
        let size = MAX_RECORD_BYTES;
        let fits = (MAX_BYTES / (size + COPY_OVERHEAD)) as u32;
        for n in 0..fits {
            assert!(keep_at(&cache, n, T + u64::from(n), size));
        }
        assert_eq!(cache.len(), fits as usize);
        assert!(keep_at(&cache, fits, T + u64::from(fits), size));
        assert!(cache.bytes() <= MAX_BYTES);
        let at = T + u64::from(fits);
        let kept = |n: u32| cache.get(&hash(n), at, LIFE).is_some();
        assert!(!kept(0) && !kept(fits / 4), "the oldest quarter went");
        assert!(kept(fits / 4 + 1) && kept(fits));
        // Small copies fit in what the large ones leave.
        assert!(keep_at(&cache, 1_000_000, at, 100));
    }

    #[test]
    fn at_a_bound_copies_no_longer_live_go_first() {
        let cache = RecordCache::default();
        let json = record("a", 100);
        for n in 0..MAX_COPIES as u32 {
            let at = T + u64::from(n % 2) * LIFE;
            assert!(cache.keep(&hash(n), &json, ABS_EXP, cache.read(at), LIFE));
        }
        let at = T + LIFE;
        assert!(keep_at(&cache, MAX_COPIES as u32, at, 100));
        assert_eq!(cache.len(), MAX_COPIES / 2 + 1, "the expired half only");
        assert!(cache.get(&hash(1), at, LIFE).is_some());
        assert_eq!(
            cache.bytes(),
            MAX_COPIES / 2 * (json.len() + COPY_OVERHEAD)
                + record("10000", 100).len()
                + COPY_OVERHEAD
        );
    }

    #[test]
    fn a_forgotten_copy_is_gone_and_no_read_asked_for_before_is_kept() {
        let cache = RecordCache::default();
        assert!(keep_at(&cache, 1, T, 100));
        assert!(keep_at(&cache, 2, T, 100));
        let before = cache.read(T + 1);
        cache.forget(&[hash(1)]);
        assert!(cache.get(&hash(1), T + 1, LIFE).is_none());
        assert!(cache.get(&hash(2), T + 1, LIFE).is_some(), "others stay");
        let json = record("1", 100);
        assert!(
            !cache.keep(&hash(1), &json, ABS_EXP, before, LIFE),
            "its answer may predate the write"
        );
        assert!(cache.keep(&hash(1), &json, ABS_EXP, cache.read(T + 2), LIFE));
    }

    #[test]
    fn a_new_read_replaces_the_copy_and_keeps_the_count_right() {
        let cache = RecordCache::default();
        assert!(keep_at(&cache, 1, T, 100));
        assert!(keep_at(&cache, 1, T + 5, 300));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.bytes(), 300 + COPY_OVERHEAD);
        assert!(
            cache.get(&hash(1), T + LIFE + 4, LIFE).is_some(),
            "from the new read"
        );
    }
}
