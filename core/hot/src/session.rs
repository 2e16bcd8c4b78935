//! The session record kept in KV, its keys, and the expiry rules (DESIGN §2, §3).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::jwk::Jwk;
use crate::token::IdHash;

/// The record format this code writes and reads.
pub const RECORD_VERSION: u8 = 1;
/// Workers KV refuses an `expirationTtl` under a minute.
pub const MIN_KV_TTL: u64 = 60;
/// Largest `claims` object, as serialized JSON.
pub const MAX_CLAIMS_BYTES: usize = 1024;
/// Longest user id.
pub const MAX_UID_LEN: usize = 256;
/// Most groups a session keeps.
pub const MAX_GROUPS: usize = 64;
/// Largest `groups` list, as serialized JSON.
pub const MAX_GROUPS_BYTES: usize = 2048;
/// Longest email address (RFC 3696's 64 + 1 + 255).
pub const MAX_EMAIL_LEN: usize = 320;

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
    /// The user's email address, when the login named one (a verified one,
    /// from an identity provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The groups the user is in, as the login named them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Unix seconds when the user last authenticated (entered credentials),
    /// which may precede `iat`; records from before it have none: see
    /// [`Record::auth_time`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The key the browser bound the session to (DESIGN §11), once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<Jwk>,
    /// Unix seconds when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_bound_at: Option<u64>,
    /// With `APPS`, the app whose host this session is for; `None` for a
    /// sign-in (at `AUTH_HOST`) and for the single app's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// An app's session: the id hash of the sign-in it came from, which
    /// ends it when it ends (DESIGN §16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signin: Option<String>,
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

    /// When the user last authenticated: the login's `auth_time`, or, for
    /// a record written before records kept one, the session's start.
    pub fn auth_time(&self) -> u64 {
        self.auth_time.unwrap_or(self.iat)
    }

    /// What the `u:` index entry carries, so that listing a user's sessions
    /// needs no read per session: its times and the device it began on.
    pub fn index_metadata(&self, device: Option<&str>) -> String {
        let mut metadata = serde_json::json!({
            "iat": self.iat,
            "abs_exp": self.abs_exp,
            "device": device,
            "device_bound": self.device_key.is_some(),
        });
        if let (Some(app), Some(signin)) = (&self.app, &self.signin) {
            metadata["app"] = app.as_str().into();
            metadata["signin"] = signin.as_str().into();
        }
        metadata.to_string()
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
    /// An app's session: its app, and its sign-in's id hash (DESIGN §16).
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub signin: Option<String>,
}

/// Why a user id is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UidError {
    /// Empty, or over [`MAX_UID_LEN`] bytes.
    Length,
    ControlCharacter,
    /// White space at either end: a header trims it, and `" alice "`
    /// would reach the origin as `alice`, another user's id.
    SurroundingWhitespace,
}

impl UidError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Length => "must be 1 to 256 bytes",
            Self::ControlCharacter => "must not contain control characters",
            Self::SurroundingWhitespace => "must not begin or end with white space",
        }
    }
}

/// Checks a user id: 1 to 256 bytes, no control characters, no white
/// space at either end. Any other character is kept exactly: the
/// assertion carries it as it is, and `X-Sessiongate-User` encodes it
/// (`crate::user_header`).
pub fn check_uid(uid: &str) -> Result<(), UidError> {
    if uid.is_empty() || uid.len() > MAX_UID_LEN {
        Err(UidError::Length)
    } else if uid.chars().any(char::is_control) {
        Err(UidError::ControlCharacter)
    } else if uid.starts_with(char::is_whitespace) || uid.ends_with(char::is_whitespace) {
        Err(UidError::SurroundingWhitespace)
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

/// Checks an email address: 1 to 320 bytes, exactly one `@` with something
/// on either side, no whitespace or control characters. Not a full RFC 5321
/// parse: the address is a fact the login vouches for, kept and passed on.
pub fn check_email(email: &str) -> Result<(), &'static str> {
    let parts = email.split_once('@');
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        Err("must be 1 to 320 bytes")
    } else if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("must not contain whitespace or control characters")
    } else if !parts.is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    }) {
        Err("must be local@domain")
    } else {
        Ok(())
    }
}

/// Why a list of groups cannot be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupsError {
    /// More than [`MAX_GROUPS`].
    TooMany,
    /// Over [`MAX_GROUPS_BYTES`] as JSON.
    TooLarge,
    /// A group that is empty or holds a control character.
    Bad,
}

impl GroupsError {
    /// The log's reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TooMany => "too_many_groups",
            Self::TooLarge => "groups_too_large",
            Self::Bad => "bad_groups",
        }
    }
}

impl fmt::Display for GroupsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooMany => "more than 64 groups",
            Self::TooLarge => "groups exceed 2 KiB",
            Self::Bad => "a group is empty or contains control characters",
        })
    }
}

/// Checks groups: at most [`MAX_GROUPS`], each non-empty without control
/// characters, at most [`MAX_GROUPS_BYTES`] as JSON.
pub fn check_groups(groups: &[String]) -> Result<(), GroupsError> {
    if groups.len() > MAX_GROUPS {
        return Err(GroupsError::TooMany);
    }
    if groups
        .iter()
        .any(|g| g.is_empty() || g.chars().any(char::is_control))
    {
        return Err(GroupsError::Bad);
    }
    let size = serde_json::to_string(groups).map_or(usize::MAX, |s| s.len());
    if size > MAX_GROUPS_BYTES {
        return Err(GroupsError::TooLarge);
    }
    Ok(())
}

/// KV key of a session record.
pub fn record_key(hash: &IdHash) -> String {
    let mut key = String::with_capacity(2 + IdHash::ENCODED_LEN);
    key.push_str("s:");
    hash.encode_into(&mut key);
    key
}

/// The session hash a record key names, or `None` for any other key.
pub fn hash_in_record_key(key: &str) -> Option<IdHash> {
    key.strip_prefix("s:")?.parse().ok()
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

/// Who a new session is for, as a login (the origin's handoff, or the
/// identity provider's ID token) names the user; each part checked by the
/// login's reader against the bounds above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
    pub claims: Claims,
    /// Unix seconds when the user authenticated.
    pub auth_time: u64,
}

impl Identity {
    /// A user known by id alone, who authenticated at `auth_time`.
    pub fn new(uid: impl Into<String>, auth_time: u64) -> Self {
        Self {
            uid: uid.into(),
            email: None,
            groups: Vec::new(),
            claims: Claims::new(),
            auth_time,
        }
    }
}

/// Idle and absolute timeouts, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    idle: u64,
    absolute: u64,
}

impl Lifetimes {
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

    /// A new session for the user `identity` names, starting now.
    pub fn start(&self, identity: Identity, now: u64) -> Record {
        let Identity {
            uid,
            email,
            groups,
            claims,
            auth_time,
        } = identity;
        Record {
            v: RECORD_VERSION,
            uid,
            iat: now,
            abs_exp: now.saturating_add(self.absolute),
            claims,
            email,
            groups,
            // Never ahead of the session it starts.
            auth_time: Some(auth_time.min(now)),
            device_key: None,
            device_bound_at: None,
            app: None,
            signin: None,
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
        let identity = Identity {
            claims: [("role".to_string(), "admin".to_string())].into(),
            ..Identity::new("alice", NOW - 30)
        };
        let record = Lifetimes::new(1800, 43_200).start(identity, NOW);
        let json = record.to_json();
        assert_eq!(
            json,
            r#"{"v":1,"uid":"alice","iat":1700000000,"abs_exp":1700043200,"claims":{"role":"admin"},"auth_time":1699999970}"#
        );
        assert_eq!(Record::from_json(&json), Ok(record));
    }

    #[test]
    fn a_records_identity_round_trips_and_auth_time_is_never_ahead() {
        let identity = Identity {
            email: Some("alice@example.com".into()),
            groups: vec!["admins".into(), "staff".into()],
            ..Identity::new("alice", NOW + 5)
        };
        let record = Lifetimes::new(1800, 43_200).start(identity, NOW);
        assert_eq!(
            record.auth_time,
            Some(NOW),
            "clamped to the session's start"
        );
        let json = record.to_json();
        assert_eq!(
            json,
            r#"{"v":1,"uid":"alice","iat":1700000000,"abs_exp":1700043200,"claims":{},"email":"alice@example.com","groups":["admins","staff"],"auth_time":1700000000}"#
        );
        assert_eq!(Record::from_json(&json), Ok(record));
    }

    #[test]
    fn records_written_before_identity_are_read_as_they_were() {
        // Exactly what the previous version wrote, bound to a device too.
        let old = r#"{"v":1,"uid":"alice","iat":1699990000,"abs_exp":1700033200,"claims":{"role":"admin"},"device_key":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},"device_bound_at":1699990010}"#;
        let record = Record::from_json(old).unwrap();
        assert_eq!(
            (
                record.email.as_deref(),
                record.groups.len(),
                record.auth_time
            ),
            (None, 0, None)
        );
        assert_eq!(record.auth_time(), 1_699_990_000, "its iat");
        assert_eq!(record.claims.get("role").map(String::as_str), Some("admin"));
        assert_eq!(record.device_bound_at, Some(1_699_990_010));
        assert_eq!(record.to_json(), old, "written back unchanged");
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
        let policy = Lifetimes::new(1800, 43_200);
        assert!(!policy.is_idle_expired(NOW, NOW + 1799));
        assert!(policy.is_idle_expired(NOW, NOW + 1800));
        assert!(!policy.is_due_for_restamp(NOW, NOW + 449));
        assert!(policy.is_due_for_restamp(NOW, NOW + 450));
    }

    #[test]
    fn ttl_runs_to_the_absolute_deadline_but_never_below_a_minute() {
        let policy = Lifetimes::new(1800, 43_200);
        let record = policy.start(Identity::new("a", NOW), NOW);
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
        assert_eq!(hash_in_record_key(&record_key(&hash)), Some(hash));
        assert_eq!(hash_in_record_key(&index_key("a", &hash)), None);
    }

    #[test]
    fn emails_are_one_address_without_spaces() {
        for good in ["alice@example.com", "a@b", "x.y+tag@sub.example.org"] {
            assert!(check_email(good).is_ok(), "{good}");
        }
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_LEN));
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a@b@c",
            "alice @example.com",
            "alice@example.com\n",
            "al\u{7f}ice@example.com",
            long.as_str(),
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        let exact = format!("{}@example.com", "a".repeat(MAX_EMAIL_LEN - 12));
        assert_eq!(exact.len(), MAX_EMAIL_LEN);
        assert!(check_email(&exact).is_ok());
    }

    #[test]
    fn groups_are_bounded_in_number_size_and_characters() {
        let named = |n: usize, len: usize| -> Vec<String> {
            (0..n).map(|i| format!("{i:0>len$}")).collect()
        };
        assert_eq!(check_groups(&[]), Ok(()));
        assert_eq!(check_groups(&named(MAX_GROUPS, 8)), Ok(()));
        assert_eq!(
            check_groups(&named(MAX_GROUPS + 1, 1)),
            Err(GroupsError::TooMany)
        );
        // 64 groups of 30 bytes: 2113 bytes of JSON.
        assert_eq!(
            check_groups(&named(MAX_GROUPS, 30)),
            Err(GroupsError::TooLarge)
        );
        assert_eq!(check_groups(&["a".repeat(2044)]), Ok(()), "2048 bytes");
        assert_eq!(
            check_groups(&["a".repeat(2045)]),
            Err(GroupsError::TooLarge)
        );
        assert_eq!(check_groups(&["".into()]), Err(GroupsError::Bad));
        assert_eq!(check_groups(&["a\tb".into()]), Err(GroupsError::Bad));
        assert_eq!(check_groups(&["Domain Admins".into()]), Ok(()));
        assert_eq!(GroupsError::TooMany.as_str(), "too_many_groups");
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
