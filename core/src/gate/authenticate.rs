//! DESIGN §4.5, §4.6: from the session cookie to an authenticated session. One
//! cookie, its token (no I/O), one read of the record (or this isolate's
//! copy of it, §14), its deadline; then on to whatever the request came
//! for. Re-stamps when due.

use super::dbsc;
use super::reply::{self, Log, Reply};
use super::request::Inbound;
use super::StoreError;
use super::{forward, AfterEnding, AfterListing, Exchange, Gate, Op, Outcome, State, Step};
use crate::config::Enforcement;
use crate::cookie::{self, Presented};
use crate::dbsc::BoundCookieError;
use crate::record_cache::Read;
use crate::routes;
use crate::session::{self, Record, RecordError};
use crate::token::{IdHash, Token};

use super::sessions::{Ending, Listing};

/// Why a request without a usable session was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Missing,
    Invalid,
    Expired,
    Revoked,
    /// A device-bound session without a valid bound cookie (DESIGN §11).
    Unbound,
    /// Another app's session, or a sign-in away from `AUTH_HOST` (DESIGN §16).
    WrongApp,
    /// `DEVICE_BOUND=require`: the session never bound a device key in time.
    Unregistered,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Unbound => "unbound",
            Self::WrongApp => "wrong_app",
            Self::Unregistered => "unregistered",
        }
    }
}

/// Why no session could be established for a request.
#[derive(Debug)]
pub(super) enum Denied {
    /// `clear`: a presented cookie failed, so it is cleared.
    Reject {
        reason: Reason,
        clear: bool,
    },
    /// Too many bad tokens from this client: retry after this many seconds.
    Throttled(u64),
    Unavailable(StoreError),
    Unreadable(RecordError),
    /// The revocation ledger could not be read, and no copy is fresh.
    LedgerUnavailable(StoreError),
}

impl Denied {
    pub fn reject(reason: Reason) -> Self {
        Self::Reject {
            reason,
            clear: reason != Reason::Missing,
        }
    }
}

/// How to turn this request away: browsers navigating go to the login
/// page and come back to `return_to`.
#[derive(Debug)]
pub(super) struct Denial {
    pub navigation: bool,
    pub return_to: String,
}

impl Denial {
    pub fn new(req: &Inbound<'_>, return_to: String) -> Self {
        Self {
            navigation: req.is_navigation(),
            return_to,
        }
    }
}

/// What a logout ends (`?scope=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// The session; with `APPS`, the sign-in and every app's session it
    /// started.
    Current,
    /// `app`: this app's session alone; the sign-in stays.
    App,
    /// `all`: every session of the user.
    All,
}

/// What the request came for, once authenticated.
#[derive(Debug)]
pub(super) enum Purpose {
    /// A protected path: forward it.
    Forward(forward::Pending),
    /// `GET /.sessiongate/session`.
    Session,
    /// `POST /.sessiongate/logout`: end the session (with `APPS`, the
    /// sign-in and its apps' sessions), this app's alone, or all of the
    /// user's; then answer `reply`, which is also the answer without a
    /// session.
    Logout {
        scope: Scope,
        reply: Reply,
        browser: bool,
    },
    /// `/.sessiongate/sessions[/<sid>]`: a page (or form) for a browser.
    OwnSessions { sid: Option<String>, browser: bool },
    /// `/.sessiongate/dbsc/register` (DESIGN §11).
    DeviceRegister(dbsc::Registration),
    /// `/.sessiongate/dbsc/refresh` with a proof (DESIGN §11).
    DeviceRefresh(dbsc::Refresh),
    /// `/.sessiongate/sso` at `AUTH_HOST`: a code for an app (DESIGN §16).
    Sso(Box<super::sso::SsoRequest>),
}

impl Purpose {
    /// Whether the request may go on without the session's bound cookie:
    /// ending a session is harmless, and binding it is how the cookie comes.
    fn is_unbound_allowed(&self) -> bool {
        matches!(
            self,
            Self::Logout { .. } | Self::DeviceRegister(_) | Self::DeviceRefresh(_)
        )
    }

    /// Whether the record must come from the store, never from this
    /// isolate's copy (DESIGN §14): a registration must see a key another
    /// isolate registered, and a refresh must find the key to check.
    fn reads_the_store(&self) -> bool {
        matches!(self, Self::DeviceRegister(_) | Self::DeviceRefresh(_))
    }
}

/// A token that checked out, waiting for its record.
#[derive(Debug)]
pub(super) struct Pending {
    token: Token,
    hash: IdHash,
    purpose: Purpose,
    denial: Denial,
    /// The bound cookie's check, made with the token's (no I/O); `None`
    /// with device binding off, or for a purpose that needs none.
    bound: Option<Result<(), BoundCookieError>>,
    /// The record's read, for keeping what it finds (DESIGN §14); `None`
    /// while `RECORD_CACHE` is off.
    read: Option<Read>,
}

/// A session that checked out.
#[derive(Debug)]
pub(super) struct Authenticated {
    pub token: Token,
    pub hash: IdHash,
    pub record: Record,
    /// A re-stamped session cookie for the response.
    pub restamp: Option<String>,
}

impl Gate<'_> {
    /// Seconds until this client may present a token again, if throttled.
    pub(super) fn throttled(&self, req: &Inbound<'_>, now: u64) -> Option<u64> {
        self.throttle?.retry_after(req.client?, now)
    }

    /// Counts a bad token against `client` (`CF-Connecting-IP`).
    pub(super) fn count_failure(&self, client: Option<&str>, now: u64) {
        if let (Some(throttle), Some(client)) = (self.throttle, client) {
            throttle.record_failure(client, now);
        }
    }
}

impl Exchange {
    /// Checks the session cookie without I/O, then asks for its record,
    /// unless this isolate keeps a copy of it.
    pub(super) fn authenticate(
        &mut self,
        gate: Gate<'_>,
        req: &Inbound<'_>,
        purpose: Purpose,
        denial: Denial,
    ) -> Step {
        let token = match self.presented_token(gate, req) {
            Ok(token) => token,
            Err(denied) => return self.refuse(gate, purpose, &denial, denied),
        };
        let hash = token.id().hash();
        let binding = &gate.config.device_binding;
        let bound = (binding.is_on() && !purpose.is_unbound_allowed())
            .then(|| binding.check_bound_cookie(req.cookie, &hash, self.now));
        let mut pending = Pending {
            token,
            hash,
            purpose,
            denial,
            bound,
            read: None,
        };
        if !pending.purpose.reads_the_store() {
            if let Some(record) = gate.record_copy(&pending.hash, self.now_ms) {
                return self.with_record(gate, pending, record);
            }
        }
        pending.read = gate.record_read(self.now_ms);
        let read = Op::get(session::record_key(&pending.hash));
        self.wait(State::Record(pending), vec![read])
    }

    /// The session cookie's token, checked without I/O. A throttled client
    /// is answered before any check; an invalid token counts against it.
    pub(super) fn presented_token(
        &self,
        gate: Gate<'_>,
        req: &Inbound<'_>,
    ) -> Result<Token, Denied> {
        let now = self.now;
        if let Some(retry_after) = gate.throttled(req, now) {
            return Err(Denied::Throttled(retry_after));
        }
        let raw = match req
            .cookie
            .map(|h| cookie::find(h, gate.config.cookie.name()))
        {
            None | Some(Presented::Missing) => return Err(Denied::reject(Reason::Missing)),
            Some(Presented::Many) => None,
            Some(Presented::One(raw)) => Some(raw),
        };
        let Some(token) = raw.and_then(|raw| gate.config.session_keys.verify(raw, now).ok()) else {
            gate.count_failure(req.client, now);
            return Err(Denied::reject(Reason::Invalid));
        };
        if self.lifetime(gate).is_idle_expired(token.stamp(), now) {
            return Err(Denied::reject(Reason::Expired));
        }
        Ok(token)
    }

    /// The record is in: keep a copy, then check it.
    pub(super) fn on_record(
        &mut self,
        gate: Gate<'_>,
        pending: Pending,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let stored = match Outcome::read(outcomes) {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                let denied = Denied::reject(Reason::Revoked);
                return self.refuse(gate, pending.purpose, &pending.denial, denied);
            }
            Err(e) => {
                let denied = Denied::Unavailable(e);
                return self.refuse(gate, pending.purpose, &pending.denial, denied);
            }
        };
        let record = match Record::from_json(&stored) {
            Ok(record) => record,
            Err(e) => {
                let denied = Denied::Unreadable(e);
                return self.refuse(gate, pending.purpose, &pending.denial, denied);
            }
        };
        gate.keep_record(&pending.hash, &stored, &record, pending.read);
        self.with_record(gate, pending, record)
    }

    /// The session's record, read or copied: check its deadline and the
    /// device, re-stamp if due, then the revocation check and the purpose.
    fn with_record(&mut self, gate: Gate<'_>, pending: Pending, record: Record) -> Step {
        let Pending {
            token,
            hash,
            purpose,
            denial,
            bound,
            ..
        } = pending;
        let now = self.now;
        if record.is_expired(now) {
            let ending = Ending::expired(&hash, &record.uid);
            return self.end_sessions(gate, ending, AfterEnding::Expired(purpose, denial));
        }
        // A session is good at its own app's host only (DESIGN §16).
        if record.app.as_deref() != self.site.app_session(&gate.config.apps) {
            return self.refuse(gate, purpose, &denial, Denied::reject(Reason::WrongApp));
        }
        if let Some(bound) = bound {
            if let Err(reason) = self.check_device(gate, &record, bound) {
                let denied = Denied::Reject {
                    reason,
                    // An unbound request may come from the session's own
                    // browser, which proves its key and carries on.
                    clear: reason == Reason::Unregistered,
                };
                return self.refuse(gate, purpose, &denial, denied);
            }
        }
        // A token under a retired key is re-stamped under the current one.
        let keys = &gate.config.session_keys;
        let restamp = (self.lifetime(gate).is_due_for_restamp(token.stamp(), now)
            || token.kid() != keys.primary())
        .then(|| {
            gate.config
                .cookie
                .set(&keys.mint(token.id(), now), record.abs_exp - now)
        });
        let auth = Authenticated {
            token,
            hash,
            record,
            restamp,
        };
        self.log.sid = Some(auth.hash.sid());
        // Logging out needs no check: ending a revoked session is harmless.
        if gate.config.ledger && !matches!(purpose, Purpose::Logout { .. }) {
            return self.check_revocation(gate, auth, purpose, denial);
        }
        self.proceed(gate, auth, purpose)
    }

    /// The session checked out: on to what the request came for.
    pub(super) fn proceed(
        &mut self,
        gate: Gate<'_>,
        auth: Authenticated,
        purpose: Purpose,
    ) -> Step {
        match purpose {
            Purpose::Forward(pending) => {
                self.authorize(gate, pending, super::authorize::Principal::Session(auth))
            }
            other => self.proceed_elsewhere(gate, auth, other),
        }
    }

    /// [`Exchange::proceed`] for the edge's own endpoints. Out of line, as
    /// `resume_elsewhere` is: a fresh isolate's first request compiles
    /// only the forward's share.
    #[inline(never)]
    fn proceed_elsewhere(&mut self, gate: Gate<'_>, auth: Authenticated, purpose: Purpose) -> Step {
        match purpose {
            Purpose::Forward(pending) => {
                self.authorize(gate, pending, super::authorize::Principal::Session(auth))
            }
            Purpose::Session => self.describe_session(gate, auth),
            Purpose::Logout {
                scope,
                reply,
                browser,
            } => {
                let all = scope == Scope::All;
                if all && self.needs_reauthentication(gate, auth.record.auth_time()) {
                    return self.reauthenticate(gate, browser);
                }
                let record = &auth.record;
                let uid = &record.uid;
                // The sign-in an app's session came from, or the sign-in itself.
                let signin = match (&record.app, &record.signin) {
                    (Some(_), Some(signin)) => signin.parse().ok(),
                    (None, _) => Some(auth.hash),
                    (Some(_), None) => None,
                };
                let ending = match (scope, signin) {
                    (Scope::All, _) => Ending::all(uid),
                    (Scope::Current, Some(signin)) if gate.config.apps.is_multi() => {
                        Ending::signin(&signin, uid)
                    }
                    _ => Ending::one(&auth.hash, uid),
                };
                self.end_sessions(gate, ending, AfterEnding::Reply(reply))
            }
            Purpose::OwnSessions { sid, browser } => {
                let (listing, read) = Listing::start(&auth.record.uid);
                let then = AfterListing::Own {
                    current: auth.hash,
                    auth_time: auth.record.auth_time(),
                    uid: auth.record.uid,
                    sid,
                    browser,
                };
                self.wait(State::Listing(listing, then), vec![read])
            }
            Purpose::DeviceRegister(registration) => self.register_device(gate, auth, registration),
            Purpose::DeviceRefresh(refresh) => self.refresh_device(gate, auth, refresh),
            Purpose::Sso(request) => self.issue_code(gate, auth, *request),
        }
    }

    /// Answers a request that has no usable session. A logout needs none:
    /// it answers as it would have, with the reason logged.
    pub(super) fn refuse(
        &mut self,
        gate: Gate<'_>,
        purpose: Purpose,
        denial: &Denial,
        denied: Denied,
    ) -> Step {
        match (purpose, denied) {
            (Purpose::Logout { reply, .. }, Denied::Reject { reason, .. }) => {
                self.log.reason = Some(reason.as_str());
                self.finish(reply)
            }
            // The browser's DBSC session outlived the session: end it too.
            (Purpose::DeviceRefresh(_), Denied::Reject { reason, .. }) => {
                self.end_device_session(gate, reason.as_str())
            }
            // Report mode relaxes the gate on protected paths only; the
            // edge's own endpoints answer as ever.
            (Purpose::Forward(pending), denied) if gate.config.mode == Enforcement::Report => {
                let reason = match denied {
                    Denied::Reject { reason, .. } => reason.as_str(),
                    Denied::Throttled(_) => "throttled",
                    Denied::Unavailable(e) => {
                        self.log.detail = Some(e.to_string());
                        "store_unavailable"
                    }
                    Denied::Unreadable(e) => {
                        self.log.detail = Some(e.to_string());
                        "record_unreadable"
                    }
                    Denied::LedgerUnavailable(e) => {
                        self.log.detail = Some(e.to_string());
                        "ledger_unavailable"
                    }
                };
                self.forward_denied(pending, reason)
            }
            (_, denied) => self.deny(gate, denial, denied),
        }
    }

    /// DESIGN §4.9: 303 to the login page for a browser navigating, else
    /// 401 with the reason; a cookie that failed is cleared.
    pub(super) fn deny(&mut self, gate: Gate<'_>, denial: &Denial, denied: Denied) -> Step {
        match denied {
            Denied::Reject { reason, clear } => {
                let config = gate.config;
                let mut reply = if denial.navigation {
                    self.sign_in(gate, &denial.return_to, None)
                } else {
                    reply::unauthenticated(reason.as_str())
                };
                if clear {
                    reply = reply.with("set-cookie", config.cookie.clear());
                }
                self.reject(reply, reason.as_str())
            }
            Denied::Throttled(retry_after) => {
                self.reject(reply::throttled(retry_after), "throttled")
            }
            Denied::Unavailable(e) => self.unavailable(e),
            Denied::LedgerUnavailable(e) => {
                let reply = Reply::error(503, "revocation_ledger_unavailable");
                self.fail("ledger_unavailable", e.to_string(), reply)
            }
            Denied::Unreadable(e) => {
                self.log = Log {
                    decision: "error",
                    reason: Some("record_unreadable"),
                    detail: Some(e.to_string()),
                    ..Log::default()
                };
                self.finish(Reply::error(500, "session_record_unreadable"))
            }
        }
    }
}

impl Exchange {
    /// Where a browser goes to sign in and come back to `return_to`, with
    /// a login at most `max_age` old: an app's host sends it to
    /// `AUTH_HOST`, which sends it on to the login (DESIGN §16).
    pub(super) fn sign_in(&self, gate: Gate<'_>, return_to: &str, max_age: Option<u64>) -> Reply {
        self.via_auth_host(gate, return_to, max_age)
            .unwrap_or_else(|| {
                let location = login_location(gate.config, return_to, max_age);
                Reply::empty(303).with("location", location)
            })
    }
}

/// The login URL with `return_to`, and `max_age` when the login must be
/// fresh. `//evil.example/x` is a path here but a host to a login page
/// that redirects to it: such a `return_to` is left out, never sent.
pub(super) fn login_location(
    config: &crate::config::Config,
    return_to: &str,
    max_age: Option<u64>,
) -> String {
    let location = if routes::is_safe_return_to(return_to) {
        config
            .login_url
            .with_return_to(&routes::percent_encode(return_to))
    } else {
        config.login_url.as_str().to_owned()
    };
    match max_age {
        Some(max_age) => routes::append_query(&location, &format!("max_age={max_age}")),
        None => location,
    }
}
