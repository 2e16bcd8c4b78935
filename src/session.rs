//! The session record kept in KV, its keys, and the expiry rules (DESIGN §2, §3).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dbsc::Jwk;
use crate::token::IdHash;

/// The record format this code writes and reads.
pub const RECORD_VERSION: u8 = 1;
/// Workers KV refuses an `expirationTtl` under a minute.
pub const MIN_KV_TTL: u64 = 60;
/// Largest `claims` object, as serialized JSON.
pub const MAX_CLAIMS_BYTES: usize = 1024;
/// Longest user id.
pub const MAX_UID_LEN: usize = 256;

/// The origin's small string facts about the user (roles, tenant).
pub type Claims = BTreeMap<String, String>;

/// One session, as stored under `s:<hash>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub v: u8,
    pub uid: String,
    /// Unix seconds of login.
    pub iat: u64,
    /// Unix seconds after which the session is dead, whatever its activity.
    pub abs_exp: u64,
    #[serde(default)]
    pub claims: Claims,
    /// The key the browser bound the session to (DESIGN §11), once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<Jwk>,
    /// Unix seconds when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_bound_at: Option<u64>,
}

/// A stored value that is not a record this code can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    Unreadable,
    UnknownVersion(u8),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable => {
                f.write_str("session record is not valid JSON of the expected shape")
            }
            Self::UnknownVersion(v) => write!(f, "session record has unknown version {v}"),
        }
    }
}

impl Record {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Result<Self, RecordError> {
        let record: Self = serde_json::from_str(s).map_err(|_| RecordError::Unreadable)?;
        match record.v {
            RECORD_VERSION => Ok(record),
            v => Err(RecordError::UnknownVersion(v)),
        }
    }

    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.abs_exp
    }

    /// What the `u:` index entry carries, so that listing a user's sessions
    /// needs no read per session: its times and the device it began on.
    pub fn index_metadata(&self, device: Option<&str>) -> String {
        serde_json::json!({
            "iat": self.iat,
            "abs_exp": self.abs_exp,
            "device": device,
            "device_bound": self.device_key.is_some(),
        })
        .to_string()
    }
}

/// A listed session, from its index metadata.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexMetadata {
    pub iat: u64,
    pub abs_exp: u64,
    /// "Firefox on Linux" (`crate::device`); absent in entries from before.
    #[serde(default)]
    pub device: Option<String>,
    /// Whether the session is bound to a key of the device (DESIGN §11).
    #[serde(default)]
    pub device_bound: bool,
}

/// Checks a user id: 1 to 256 bytes, no control characters.
pub fn check_uid(uid: &str) -> Result<(), &'static str> {
    if uid.is_empty() || uid.len() > MAX_UID_LEN {
        Err("must be 1 to 256 bytes")
    } else if uid.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else {
        Ok(())
    }
}

/// Checks claims fit in [`MAX_CLAIMS_BYTES`] as JSON.
pub fn check_claims(claims: &Claims) -> Result<(), &'static str> {
    let size = serde_json::to_string(claims).map_or(usize::MAX, |s| s.len());
    if size > MAX_CLAIMS_BYTES {
        Err("claims exceed 1 KiB")
    } else {
        Ok(())
    }
}

/// KV key of a session record.
pub fn record_key(hash: &IdHash) -> String {
    let mut key = String::with_capacity(2 + IdHash::ENCODED_LEN);
    key.push_str("s:");
    hash.encode_into(&mut key);
    key
}

/// KV key prefix of a user's index entries.
pub fn index_prefix(uid: &str) -> String {
    format!("u:{uid}:")
}

/// KV key of one index entry.
pub fn index_key(uid: &str, hash: &IdHash) -> String {
    format!("u:{uid}:{hash}")
}

/// The session hash in an index key listed under `uid`'s prefix, or `None`
/// for a key of another user whose id merely starts the same way
/// (`u:a:` also lists `u:a:b:<hash>`).
pub fn hash_in_index_key(uid: &str, key: &str) -> Option<IdHash> {
    key.strip_prefix(&index_prefix(uid))?.parse().ok()
}

/// Idle and absolute timeouts, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    idle: u64,
    absolute: u64,
}

impl Policy {
    pub fn new(idle: u64, absolute: u64) -> Self {
        Self { idle, absolute }
    }

    pub fn idle(&self) -> u64 {
        self.idle
    }

    pub fn absolute(&self) -> u64 {
        self.absolute
    }

    /// When a token stamped at `stamp` stops being accepted.
    pub fn idle_deadline(&self, stamp: u64) -> u64 {
        stamp.saturating_add(self.idle)
    }

    pub fn is_idle_expired(&self, stamp: u64, now: u64) -> bool {
        now >= self.idle_deadline(stamp)
    }

    /// Re-stamp once a quarter of the idle window has passed: often enough
    /// that an active user never idles out, rarely enough that most
    /// responses carry no `Set-Cookie`.
    pub fn is_due_for_restamp(&self, stamp: u64, now: u64) -> bool {
        now.saturating_sub(stamp) >= self.idle / 4
    }

    /// A new session for `uid`, starting now.
    pub fn start(&self, uid: String, claims: Claims, now: u64) -> Record {
        Record {
            v: RECORD_VERSION,
            uid,
            iat: now,
            abs_exp: now.saturating_add(self.absolute),
            claims,
            device_key: None,
            device_bound_at: None,
        }
    }

    /// `expirationTtl` for a record: time to its absolute deadline, never
    /// below KV's minimum. The deadline is still checked on every read.
    pub fn ttl(&self, record: &Record, now: u64) -> u64 {
        record.abs_exp.saturating_sub(now).max(MIN_KV_TTL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::SessionId;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn records_round_trip_as_versioned_json() {
        let record = Policy::new(1800, 43_200).start(
            "alice".into(),
            [("role".to_string(), "admin".to_string())].into(),
            NOW,
        );
        let json = record.to_json();
        assert_eq!(
            json,
            r#"{"v":1,"uid":"alice","iat":1700000000,"abs_exp":1700043200,"claims":{"role":"admin"}}"#
        );
        assert_eq!(Record::from_json(&json), Ok(record));
    }

    #[test]
    fn unknown_versions_and_garbage_are_refused() {
        assert_eq!(
            Record::from_json(r#"{"v":2,"uid":"a","iat":1,"abs_exp":2}"#),
            Err(RecordError::UnknownVersion(2))
        );
        assert_eq!(Record::from_json("{}"), Err(RecordError::Unreadable));
        assert_eq!(Record::from_json("not json"), Err(RecordError::Unreadable));
    }

    #[test]
    fn idle_expiry_and_restamp_follow_the_stamp() {
        let policy = Policy::new(1800, 43_200);
        assert!(!policy.is_idle_expired(NOW, NOW + 1799));
        assert!(policy.is_idle_expired(NOW, NOW + 1800));
        assert!(!policy.is_due_for_restamp(NOW, NOW + 449));
        assert!(policy.is_due_for_restamp(NOW, NOW + 450));
    }

    #[test]
    fn ttl_runs_to_the_absolute_deadline_but_never_below_a_minute() {
        let policy = Policy::new(1800, 43_200);
        let record = policy.start("a".into(), Claims::new(), NOW);
        assert_eq!(policy.ttl(&record, NOW), 43_200);
        assert_eq!(policy.ttl(&record, NOW + 43_190), 60);
        assert!(record.is_expired(NOW + 43_200));
        assert!(!record.is_expired(NOW + 43_199));
    }

    #[test]
    fn index_keys_belong_only_to_their_user() {
        let hash = SessionId::from_bytes([3; 32]).hash();
        assert_eq!(hash_in_index_key("a", &index_key("a", &hash)), Some(hash));
        assert_eq!(hash_in_index_key("a", &index_key("a:b", &hash)), None);
        assert_eq!(hash_in_index_key("a", "u:a:short"), None);
        assert_eq!(record_key(&hash), format!("s:{hash}"));
    }

    #[test]
    fn uids_and_claims_are_bounded() {
        assert!(check_uid("alice@example.com").is_ok());
        assert!(check_uid("").is_err());
        assert!(check_uid(&"a".repeat(257)).is_err());
        assert!(check_uid("a\nb").is_err());
        let big: Claims = [("k".to_string(), "v".repeat(1020))].into();
        assert!(check_claims(&big).is_err());
        assert!(check_claims(&Claims::new()).is_ok());
    }
}
