//! Listing and ending a user's sessions as store operations (DESIGN §2,
//! §6). Each is a small machine of its own: started with its first
//! operations, resumed with their outcomes until it is done, so the
//! stages that need one (logout, the origin's directives, the session
//! lists, the admin API, login) share it.

use super::StoreError;
use super::{Listed, Op, Outcome};
use crate::session::{self, IndexMetadata};
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

    /// The sessions listed as started by sign-in `signin`, live or not
    /// (DESIGN §16).
    pub fn started_by(&self, signin: &IdHash) -> Vec<IdHash> {
        let signin = signin.to_string();
        self.keys
            .iter()
            .filter_map(|entry| {
                let hash = session::hash_in_index_key(&self.uid, &entry.name)?;
                let meta: IndexMetadata = serde_json::from_str(entry.metadata.as_deref()?).ok()?;
                (meta.signin.as_deref() == Some(signin.as_str())).then_some(hash)
            })
            .collect()
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
/// With the revocation ledger bound, its write joins the first step, and
/// the ending succeeds only once the ledger has it (DESIGN §3).
#[derive(Debug)]
pub(super) struct Ending {
    stage: Stage,
    revocation: Revocation,
    /// With the ledger bound: how long it keeps a revoked session.
    ledger_until: Option<u64>,
}

#[derive(Debug)]
enum Stage {
    /// Listing, then deleting every listed session, or (`Some`) those a
    /// sign-in started.
    Listing(Listing, Option<IdHash>),
    /// Waiting for the deletes of this many sessions.
    Deleting(usize),
}

/// What the ledger records of an ending.
#[derive(Debug, Clone)]
pub(super) enum Revocation {
    /// Nothing: the session was dead anyway, or its user unknown.
    Nothing,
    Sessions {
        uid: String,
        hashes: Vec<IdHash>,
    },
    /// Every session of the user begun before now, and those listed now
    /// (a session begun this very second is not "before now").
    Everything {
        uid: String,
        hashes: Vec<IdHash>,
    },
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
        Self::many(uid, std::slice::from_ref(hash))
    }

    /// Deletes these sessions of one user.
    pub fn many(uid: &str, hashes: &[IdHash]) -> (Self, Vec<Op>) {
        let revocation = Revocation::Sessions {
            uid: uid.to_owned(),
            hashes: hashes.to_vec(),
        };
        let ending = Self {
            stage: Stage::Deleting(hashes.len()),
            revocation,
            ledger_until: None,
        };
        (ending, deletes(uid, hashes))
    }

    /// Deletes a session past its absolute deadline: janitorial, nothing
    /// for the ledger, since no token of it can pass any more.
    pub fn expired(hash: &IdHash, uid: &str) -> (Self, Vec<Op>) {
        let (mut ending, ops) = Self::one(hash, uid);
        ending.revocation = Revocation::Nothing;
        (ending, ops)
    }

    /// Deletes a record whose user is unknown (it could not be read); its
    /// index entry expires with its TTL.
    pub fn record(hash: &IdHash) -> (Self, Vec<Op>) {
        let ending = Self {
            stage: Stage::Deleting(1),
            revocation: Revocation::Nothing,
            ledger_until: None,
        };
        (ending, vec![Op::delete(session::record_key(hash))])
    }

    /// Ends session `hash` of `uid`; a sign-in (with `APPS`) with the
    /// apps' sessions it started.
    pub fn of(hash: &IdHash, uid: &str, signin: bool) -> (Self, Vec<Op>) {
        if signin {
            Self::signin(hash, uid)
        } else {
            Self::one(hash, uid)
        }
    }

    /// Deletes a sign-in and, once the user's sessions are listed, every
    /// app's session it started (DESIGN §16).
    pub fn signin(hash: &IdHash, uid: &str) -> (Self, Vec<Op>) {
        let (listing, first) = Listing::start(uid);
        let ending = Self {
            stage: Stage::Listing(listing, Some(*hash)),
            revocation: Revocation::Sessions {
                uid: uid.to_owned(),
                hashes: vec![*hash],
            },
            ledger_until: None,
        };
        (ending, vec![first])
    }

    /// Lists the user's sessions, then deletes every one.
    pub fn all(uid: &str) -> (Self, Vec<Op>) {
        let (listing, first) = Listing::start(uid);
        let ending = Self {
            stage: Stage::Listing(listing, None),
            revocation: Revocation::Everything {
                uid: uid.to_owned(),
                hashes: Vec::new(),
            },
            ledger_until: None,
        };
        (ending, vec![first])
    }

    /// The ledger writes of this ending's first step, from now on recorded
    /// in the ledger too: a revoked session is kept there until
    /// `keep_until`, past which it cannot be used anyway.
    pub fn ledger_writes(&mut self, now: u64, keep_until: u64) -> Vec<Op> {
        self.ledger_until = Some(keep_until);
        match &self.revocation {
            Revocation::Nothing => Vec::new(),
            Revocation::Sessions { uid, hashes } => revokes(uid, hashes, keep_until),
            Revocation::Everything { uid, .. } => vec![Op::LedgerRevokeBefore {
                uid: uid.clone(),
                before: now,
            }],
        }
    }

    pub fn revocation(&self) -> &Revocation {
        &self.revocation
    }

    pub fn resume(&mut self, outcomes: Vec<Outcome>) -> Result<Progress, StoreError> {
        let mut outcomes = outcomes.into_iter();
        match &mut self.stage {
            Stage::Listing(listing, signin) => {
                let page: Vec<Outcome> = outcomes.next().into_iter().collect();
                // The ledger's write, if any, went beside the first page.
                if let Some(e) = outcomes.find_map(failure) {
                    return Err(e);
                }
                match listing.resume(page)? {
                    Some(next) => Ok(Progress::More(vec![next])),
                    None => {
                        let hashes: Vec<IdHash> = match signin {
                            Some(signin) => {
                                let mut hashes = vec![*signin];
                                hashes.extend(listing.started_by(signin));
                                hashes
                            }
                            None => listing.hashes().collect(),
                        };
                        if hashes.is_empty() {
                            return Ok(Progress::Ended(0));
                        }
                        let mut ops = deletes(listing.uid(), &hashes);
                        // A sign-in's own revocation went with the first step.
                        let revoked = &hashes[usize::from(signin.is_some())..];
                        if let Some(keep_until) = self.ledger_until {
                            ops.extend(revokes(listing.uid(), revoked, keep_until));
                        }
                        match &mut self.revocation {
                            Revocation::Everything { hashes: ended, .. }
                            | Revocation::Sessions { hashes: ended, .. } => {
                                ended.clone_from(&hashes)
                            }
                            Revocation::Nothing => {}
                        }
                        self.stage = Stage::Deleting(hashes.len());
                        Ok(Progress::More(ops))
                    }
                }
            }
            Stage::Deleting(count) => match outcomes.find_map(failure) {
                Some(e) => Err(e),
                None => Ok(Progress::Ended(*count)),
            },
        }
    }
}

fn revokes(uid: &str, hashes: &[IdHash], keep_until: u64) -> Vec<Op> {
    hashes
        .iter()
        .map(|hash| Op::LedgerRevoke {
            uid: uid.to_owned(),
            hash: hash.to_string(),
            abs_exp: keep_until,
        })
        .collect()
}

fn deletes(uid: &str, hashes: &[IdHash]) -> Vec<Op> {
    hashes
        .iter()
        .flat_map(|hash| {
            [
                Op::delete(session::record_key(hash)),
                Op::delete(session::index_key(uid, hash)),
            ]
        })
        .collect()
}

/// The sessions in `live` that the sign-ins `signins` started.
pub(super) fn started_by<'l>(
    live: &'l [(IdHash, IndexMetadata)],
    signins: &'l [IdHash],
) -> impl Iterator<Item = IdHash> + 'l {
    live.iter()
        .filter(|(_, meta)| {
            meta.signin
                .as_ref()
                .is_some_and(|s| signins.iter().any(|signin| signin.to_string() == *s))
        })
        .map(|(hash, _)| *hash)
}

/// The error of a failed operation.
pub(super) fn failure(outcome: Outcome) -> Option<StoreError> {
    match outcome {
        Outcome::Failed(e) => Some(StoreError(e)),
        _ => None,
    }
}
