//! DESIGN §14: the isolate's copies of session records, as the gate uses
//! them. Authentication asks here before it asks the store for a record,
//! and keeps what the store answers; the revocation check after it runs
//! either way. Every store step that writes or deletes a record (any
//! ending of §6, a login, a device registration, whatever asks for it
//! next) drops the copy when its outcomes come back: one rule at the one
//! place every step passes through, so no path can miss it.

use super::{Gate, Op};
use crate::record_cache::{Read, RecordCache};
use crate::session::{self, Record};
use crate::token::IdHash;

impl Gate<'_> {
    /// The cache and how long a copy lives (ms), while `RECORD_CACHE` is on.
    fn record_copies(&self) -> Option<(&RecordCache, u64)> {
        let secs = self.config.record_cache_s;
        let cache = self.record_cache.filter(|_| secs > 0)?;
        Some((cache, secs * 1000))
    }

    /// Session `hash`'s record, if this isolate keeps a live copy.
    pub(super) fn record_copy(&self, hash: &IdHash, now_ms: u64) -> Option<Record> {
        let (cache, lifetime_ms) = self.record_copies()?;
        cache.get(hash, now_ms, lifetime_ms)
    }

    /// A read of a record asked for now, for [`Gate::keep_record`]; none
    /// while `RECORD_CACHE` is off.
    pub(super) fn record_read(&self, now_ms: u64) -> Option<Read> {
        let (cache, _) = self.record_copies()?;
        Some(cache.read(now_ms))
    }

    /// Keeps the record `stored` (as KV had it) that `read` found.
    pub(super) fn keep_record(
        &self,
        hash: &IdHash,
        stored: &str,
        record: &Record,
        read: Option<Read>,
    ) {
        if let (Some((cache, lifetime_ms)), Some(read)) = (self.record_copies(), read) {
            cache.keep(hash, stored, record.abs_exp, read, lifetime_ms);
        }
    }

    /// Drops the copies of records this isolate wrote or deleted.
    pub(super) fn forget_records(&self, hashes: &[IdHash]) {
        if let Some((cache, _)) = self.record_copies() {
            cache.forget(hashes);
        }
    }
}

/// The session whose record `op` writes or deletes, if it does.
pub(super) fn written_record(op: &Op) -> Option<IdHash> {
    match op {
        Op::Put { key, .. } | Op::Delete { key } => session::hash_in_record_key(key),
        _ => None,
    }
}
