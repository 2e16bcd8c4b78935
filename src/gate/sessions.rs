//! Listing and ending a user's sessions as store operations (DESIGN §2,
//! §6). Each is a small machine of its own: started with its first
//! operations, resumed with their outcomes until it is done, so the
//! stages that need one (logout, the origin's directives, the session
//! lists, the admin API, login) share it.

use super::{Listed, Op, Outcome};
use crate::session::{self, IndexMetadata};
use crate::store::StoreError;
use crate::token::IdHash;

/// Pages of 1000 keys read for one user before giving up.
pub const MAX_LIST_PAGES: usize = 10;

/// A user's index entries, read page by page.
#[derive(Debug)]
pub(super) struct Listing {
    uid: String,
    keys: Vec<Listed>,
    pages: usize,
}

impl Listing {
    pub fn start(uid: &str) -> (Self, Op) {
        let listing = Self {
            uid: uid.to_owned(),
            keys: Vec::new(),
            pages: 0,
        };
        let first = listing.page(None);
        (listing, first)
    }

    fn page(&self, cursor: Option<String>) -> Op {
        Op::List {
            prefix: session::index_prefix(&self.uid),
            cursor,
        }
    }

    /// Takes a page in: `Some(op)` asks for the next, `None` means done.
    pub fn resume(&mut self, outcomes: Vec<Outcome>) -> Result<Option<Op>, StoreError> {
        match outcomes.into_iter().next() {
            Some(Outcome::Page { keys, cursor }) => {
                self.keys.extend(keys);
                self.pages += 1;
                match cursor {
                    None => Ok(None),
                    Some(_) if self.pages >= MAX_LIST_PAGES => Err(StoreError(format!(
                        "list found more than {MAX_LIST_PAGES} pages of keys"
                    ))),
                    cursor => Ok(Some(self.page(cursor))),
                }
            }
            Some(Outcome::Failed(e)) => Err(StoreError(e)),
            other => Err(StoreError(format!("a list was answered with {other:?}"))),
        }
    }

    /// Every listed session of the user; `u:a:` also lists `u:a:b:<hash>`,
    /// which is another user's.
    pub fn hashes(&self) -> impl Iterator<Item = IdHash> + '_ {
        self.keys
            .iter()
            .filter_map(|entry| session::hash_in_index_key(&self.uid, &entry.name))
    }

    /// The user's live sessions, from the index alone: no record is read.
    pub fn live(&self, now: u64) -> Vec<(IdHash, IndexMetadata)> {
        self.keys
            .iter()
            .filter_map(|entry| {
                let hash = session::hash_in_index_key(&self.uid, &entry.name)?;
                let meta: IndexMetadata = serde_json::from_str(entry.metadata.as_deref()?).ok()?;
                (meta.abs_exp > now).then_some((hash, meta))
            })
            .collect()
    }

    pub fn uid(&self) -> &str {
        &self.uid
    }
}

/// Ending sessions: one, or all of a user's (a listing, then the deletes).
#[derive(Debug)]
pub(super) enum Ending {
    Listing(Listing),
    /// Waiting for the deletes of this many sessions.
    Deleting(usize),
}

/// Where an [`Ending`] is.
pub(super) enum Progress {
    More(Vec<Op>),
    /// This many sessions ended.
    Ended(usize),
}

impl Ending {
    /// Deletes one session's record and index entry.
    pub fn one(hash: &IdHash, uid: &str) -> (Self, Vec<Op>) {
        (Self::Deleting(1), deletes(uid, [hash]))
    }

    /// Deletes these sessions of one user.
    pub fn many(uid: &str, hashes: &[IdHash]) -> (Self, Vec<Op>) {
        (Self::Deleting(hashes.len()), deletes(uid, hashes))
    }

    /// Deletes a record whose user is unknown (it could not be read); its
    /// index entry expires with its TTL.
    pub fn record(hash: &IdHash) -> (Self, Vec<Op>) {
        (
            Self::Deleting(1),
            vec![Op::delete(session::record_key(hash))],
        )
    }

    /// Lists the user's sessions, then deletes every one.
    pub fn all(uid: &str) -> (Self, Vec<Op>) {
        let (listing, first) = Listing::start(uid);
        (Self::Listing(listing), vec![first])
    }

    pub fn resume(&mut self, outcomes: Vec<Outcome>) -> Result<Progress, StoreError> {
        match self {
            Self::Listing(listing) => match listing.resume(outcomes)? {
                Some(next) => Ok(Progress::More(vec![next])),
                None => {
                    let hashes: Vec<IdHash> = listing.hashes().collect();
                    if hashes.is_empty() {
                        return Ok(Progress::Ended(0));
                    }
                    let ops = deletes(listing.uid(), hashes.iter());
                    *self = Self::Deleting(hashes.len());
                    Ok(Progress::More(ops))
                }
            },
            Self::Deleting(count) => match outcomes.into_iter().find_map(failure) {
                Some(e) => Err(e),
                None => Ok(Progress::Ended(*count)),
            },
        }
    }
}

fn deletes<'h>(uid: &str, hashes: impl IntoIterator<Item = &'h IdHash>) -> Vec<Op> {
    hashes
        .into_iter()
        .flat_map(|hash| {
            [
                Op::delete(session::record_key(hash)),
                Op::delete(session::index_key(uid, hash)),
            ]
        })
        .collect()
}

/// The error of a failed operation.
pub(super) fn failure(outcome: Outcome) -> Option<StoreError> {
    match outcome {
        Outcome::Failed(e) => Some(StoreError(e)),
        _ => None,
    }
}
