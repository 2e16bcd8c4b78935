//! DESIGN §3: the revocation ledger's check, between the record and the
//! request's purpose. A user's state is taken from this isolate's memory,
//! else this location's Cache API, else the ledger itself, and used only
//! while younger than `REVOCATION_STALENESS`; past half of it, it is used
//! and refreshed after the answer. A ledger that cannot be read when no
//! fresh copy exists fails closed (503).

use super::authenticate::{Authenticated, Denial, Denied, Purpose, Reason};
use super::sessions::Revocation;
use super::StoreError;
use super::{Exchange, Gate, Op, Outcome, State, Step};
use crate::ledger::{self, Cached, Freshness, LedgerState};

/// An authenticated session waiting for its user's revocation state.
#[derive(Debug)]
pub(super) struct LedgerCheck {
    auth: Authenticated,
    purpose: Purpose,
    denial: Denial,
    /// Waiting for the Cache API (`false`) or the ledger (`true`).
    asked_ledger: bool,
}

impl Exchange {
    pub(super) fn check_revocation(
        &mut self,
        gate: Gate<'_>,
        auth: Authenticated,
        purpose: Purpose,
        denial: Denial,
    ) -> Step {
        let uid = auth.record.uid.clone();
        if let Some(cached) = gate.ledger_cache.and_then(|cache| cache.get(&uid)) {
            if self.usable(gate, &uid, &cached) {
                return self.judge(gate, auth, purpose, denial, &cached.state);
            }
        }
        let read = Op::CacheRead {
            key: ledger::cache_key(&uid),
        };
        let check = LedgerCheck {
            auth,
            purpose,
            denial,
            asked_ledger: false,
        };
        self.wait(State::Ledger(check), vec![read])
    }

    /// Whether `cached` may be used now; past half the bound, a refresh
    /// is asked for after the answer.
    fn usable(&mut self, gate: Gate<'_>, uid: &str, cached: &Cached) -> bool {
        match cached.freshness(self.now, gate.config.revocation_staleness) {
            Freshness::Fresh => true,
            Freshness::Refresh => {
                let claimed = gate
                    .ledger_cache
                    .is_none_or(|cache| cache.claim_refresh(uid, self.now));
                if claimed {
                    self.background.push(Op::LedgerRead {
                        uid: uid.to_owned(),
                    });
                }
                true
            }
            Freshness::Stale => false,
        }
    }

    pub(super) fn on_ledger(
        &mut self,
        gate: Gate<'_>,
        check: LedgerCheck,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let LedgerCheck {
            auth,
            purpose,
            denial,
            asked_ledger,
        } = check;
        let uid = auth.record.uid.clone();
        if !asked_ledger {
            // The Cache API is a shortcut: failing or empty, it is a miss.
            let cached = Outcome::read(outcomes)
                .ok()
                .flatten()
                .and_then(|text| serde_json::from_str::<Cached>(&text).ok());
            if let Some(cached) = cached.filter(|c| self.usable(gate, &uid, c)) {
                // Already in the Cache API: kept in memory, not written back.
                gate.keep(&uid, cached.clone());
                return self.judge(gate, auth, purpose, denial, &cached.state);
            }
            let check = LedgerCheck {
                auth,
                purpose,
                denial,
                asked_ledger: true,
            };
            return self.wait(State::Ledger(check), vec![Op::LedgerRead { uid }]);
        }
        let state = Outcome::read(outcomes).and_then(|value| {
            let text = value.ok_or_else(|| StoreError("the ledger answered nothing".to_owned()))?;
            serde_json::from_str::<LedgerState>(&text)
                .map_err(|e| StoreError(format!("the ledger's state is unreadable: {e}")))
        });
        match state {
            Ok(state) => {
                let cached = Cached {
                    state,
                    fetched_at: self.now,
                };
                self.background.extend(gate.remember(&uid, cached.clone()));
                self.judge(gate, auth, purpose, denial, &cached.state)
            }
            Err(e) => self.refuse(gate, purpose, &denial, Denied::LedgerUnavailable(e)),
        }
    }

    fn judge(
        &mut self,
        gate: Gate<'_>,
        auth: Authenticated,
        purpose: Purpose,
        denial: Denial,
        state: &LedgerState,
    ) -> Step {
        if state.revokes(&auth.hash, auth.record.iat) {
            return self.refuse(gate, purpose, &denial, Denied::reject(Reason::Revoked));
        }
        self.proceed(gate, auth, purpose)
    }
}

impl Gate<'_> {
    /// Keeps a user's state in this isolate's memory.
    fn keep(&self, uid: &str, cached: Cached) {
        if let Some(cache) = self.ledger_cache {
            cache.put(uid, cached);
        }
    }

    /// Keeps a state read from the ledger in this isolate's memory; returns
    /// the Cache API write that shares it with the location's other isolates.
    fn remember(&self, uid: &str, cached: Cached) -> Option<Op> {
        let value = serde_json::to_string(&cached).ok()?;
        self.keep(uid, cached);
        Some(Op::CacheWrite {
            key: ledger::cache_key(uid),
            value,
            ttl: self.config.revocation_staleness,
        })
    }

    /// A revocation this isolate wrote holds here at once.
    pub(super) fn remember_revocation(&self, revocation: &Revocation, now: u64) {
        let (true, Some(cache)) = (self.config.ledger, self.ledger_cache) else {
            return;
        };
        let (uid, hashes, before) = match revocation {
            Revocation::Nothing => return,
            Revocation::Sessions { uid, hashes } => (uid, hashes, None),
            Revocation::Everything { uid, hashes } => (uid, hashes, Some(now)),
        };
        cache.update(uid, |state| {
            let state = match before {
                Some(before) => state.with_revoked_before(before),
                None => state,
            };
            hashes
                .iter()
                .fold(state, |state, hash| state.with_revoked(hash.to_string()))
        });
    }

    /// Takes in the outcomes of background operations (refreshes of users'
    /// states, after an answer); returns the writes that follow from them.
    pub fn absorb(&self, ops: &[Op], outcomes: Vec<Outcome>, now: u64) -> Vec<Op> {
        ops.iter()
            .zip(outcomes)
            .filter_map(|(op, outcome)| match (op, outcome) {
                (Op::LedgerRead { uid }, Outcome::Value(Some(text))) => {
                    let state = serde_json::from_str::<LedgerState>(&text).ok()?;
                    self.remember(
                        uid,
                        Cached {
                            state,
                            fetched_at: now,
                        },
                    )
                }
                _ => None,
            })
            .collect()
    }
}
