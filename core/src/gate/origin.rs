//! DESIGN §6: the origin's answer. Its `Sessiongate-Logout` directive ends
//! the current session (or all of the user's); its `Sessiongate-Login`
//! handoff ends the session the request came with and starts a new one.
//! Either way the directive headers never reach the client.

use super::reply::{Edits, Reply};
use super::sessions::{self, Ending, Listing};
use super::StoreError;
use super::{AfterEnding, Answer, Exchange, Gate, Op, OriginHead, Outcome, State, Step};
use crate::device;
use crate::handoff;
use crate::session::{self, Identity, Record};
use crate::token::{IdHash, SessionId};

/// What the response step needs to remember of the request.
#[derive(Debug, Default)]
pub(super) struct After {
    /// The authenticated session.
    pub session: Option<Current>,
    /// A session cookie seen on a public path, ended if a directive follows.
    pub presented: Option<String>,
    /// A re-stamped session cookie for the response.
    pub restamp: Option<String>,
    /// The origin's handoff, applied once any logout is done.
    pub login: Option<String>,
    /// The request's `User-Agent`, described for a session a login starts.
    pub user_agent: Option<String>,
    /// What the response will carry so far.
    pub edits: Edits,
}

/// The session a request came with, which a directive may end.
#[derive(Debug)]
pub(super) struct Current {
    pub hash: IdHash,
    pub uid: String,
    /// A sign-in with `APPS`: it ends with the apps' sessions it started.
    pub signin: bool,
}

/// Starting a session from a verified handoff (or sign-in).
#[derive(Debug)]
pub(super) struct Login {
    /// Boxed: a login waits in the exchange's state beside smaller ones.
    identity: Box<Identity>,
    /// "Firefox on Linux", for the user's list of sessions.
    device: Box<str>,
    phase: Phase,
    then: LoginEnd,
    /// An app's session from a sign-in's code (DESIGN §16); `None` for a
    /// sign-in, or the single app's session.
    app: Option<Box<AppSession>>,
}

/// What an app's session takes from its app and its sign-in.
#[derive(Debug)]
pub(super) struct AppSession {
    pub app: String,
    /// The sign-in's id hash: ending the sign-in ends this session.
    pub signin: IdHash,
    /// The sign-in's absolute deadline, which this session never outlives.
    pub until: u64,
    pub lifetime: crate::session::Lifetimes,
}

/// How the response that starts a session is made.
#[derive(Debug)]
pub(super) enum LoginEnd {
    /// The origin's response, with the cookie (a handoff).
    Pass,
    /// `303` to `location` at the edge, with these `Set-Cookie`s too (a
    /// sign-in with the identity provider, DESIGN §12).
    Redirect {
        location: String,
        set_cookies: Vec<String>,
    },
}

impl Login {
    pub(super) fn new(identity: Identity, user_agent: Option<&str>, then: LoginEnd) -> Self {
        Self {
            identity: Box::new(identity),
            device: device::describe(user_agent).into(),
            phase: Phase::Pending,
            then,
            app: None,
        }
    }

    /// The login of an app's session.
    pub(super) fn for_app(mut self, session: AppSession) -> Self {
        self.app = Some(Box::new(session));
        self
    }

    fn at(mut self, phase: Phase) -> Self {
        self.phase = phase;
        self
    }
}

/// The session presented on a public path, whose record is read so that
/// the directive can end it.
#[derive(Debug)]
pub(super) struct Presented {
    hash: IdHash,
    directive: Directive,
}

#[derive(Debug)]
enum Directive {
    Logout { all: bool, after: After },
    Login(Login),
}

#[derive(Debug)]
enum Phase {
    /// Nothing written yet: the session it replaces is ending first.
    Pending,
    /// Counting the user's sessions against `MAX_SESSIONS_PER_USER`.
    Counting(Listing),
    /// Within the limit (the oldest sessions ended if need be): write.
    Counted,
    /// Writing the new session's record.
    Record { id: SessionId, record: Record },
    /// Writing its index entry.
    Index { id: SessionId, record: Record },
    /// The index write failed: deleting the record again, so that no
    /// session exists that "log out everywhere" would miss.
    RollingBack(StoreError),
}

impl Exchange {
    pub(super) fn on_origin(
        &mut self,
        gate: Gate<'_>,
        mut after: After,
        head: Result<OriginHead, String>,
    ) -> Step {
        let head = match head {
            Ok(head) => head,
            Err(e) => {
                return self.fail(
                    "origin_unreachable",
                    e,
                    Reply::error(502, "origin_unreachable"),
                )
            }
        };
        self.log.status = head.status;
        if let Some(cookie) = after.restamp.take() {
            after.edits = Edits::session_cookie(cookie, false);
        }
        after.edits.directives = head.login.is_some() || head.logout.is_some();
        after.login = head.login;
        let Some(scope) = head.logout else {
            return self.after_logout_directive(gate, after);
        };
        // Anything but `all` ends the current session: a mistyped
        // directive should err towards logging out.
        let all = scope.trim().eq_ignore_ascii_case("all");
        self.log.event = Some(if all { "logout_all" } else { "logout" });
        after.edits = Edits {
            directives: true,
            ..Edits::session_cookie(gate.config.cookie.clear(), true)
        };
        after.edits.set_cookies.extend(gate.bound_cookie_clear());
        if let Some(current) = after.session.take() {
            let ending = if all {
                Ending::all(&current.uid)
            } else {
                Ending::of(&current.hash, &current.uid, current.signin)
            };
            return self.end_sessions(gate, ending, AfterEnding::Directive(after));
        }
        // A public path read no session, but a logout must end the one
        // its cookie names, not just clear the cookie.
        match presented_record(gate, after.presented.take(), self.now) {
            Some((hash, read)) => {
                let directive = Directive::Logout { all, after };
                self.wait(State::Presented(Presented { hash, directive }), vec![read])
            }
            None => self.after_logout_directive(gate, after),
        }
    }

    /// Any logout is done: apply the handoff, if there is one.
    pub(super) fn after_logout_directive(&mut self, gate: Gate<'_>, mut after: After) -> Step {
        let Some(token) = after.login.take() else {
            return self.pass(after.edits);
        };
        let handoff = match handoff::verify(&gate.config.handoff_key, &token, self.now) {
            Ok(handoff) => handoff,
            Err(e) => {
                self.log.event = Some("login_rejected");
                self.log.detail = Some(e.as_str().to_owned());
                return self.pass(after.edits);
            }
        };
        // With APPS, people sign in at AUTH_HOST only (DESIGN §16).
        if gate.config.apps.is_multi() && !self.site.auth_host {
            self.log.event = Some("login_rejected");
            self.log.detail = Some("a handoff signs in at AUTH_HOST only".to_owned());
            return self.pass(after.edits);
        }
        let login = Login::new(handoff.into(), after.user_agent.as_deref(), LoginEnd::Pass);
        // No fixation: the session the request came with ends first.
        if let Some(current) = after.session {
            let ending = Ending::of(&current.hash, &current.uid, current.signin);
            return self.end_sessions(gate, ending, AfterEnding::Login(login));
        }
        self.begin_login(gate, login, after.presented)
    }

    /// Starts a session: the one the `presented` session cookie names, if
    /// any, ends first (no fixation); then the writes.
    pub(super) fn begin_login(
        &mut self,
        gate: Gate<'_>,
        login: Login,
        presented: Option<String>,
    ) -> Step {
        match presented_record(gate, presented, self.now) {
            Some((hash, read)) => {
                let directive = Directive::Login(login);
                self.wait(State::Presented(Presented { hash, directive }), vec![read])
            }
            None => self.write_session(gate, login),
        }
    }

    /// The presented session's record is in: end that session (all of its
    /// user's for `logout: all`), then carry on with the directive.
    pub(super) fn on_presented(
        &mut self,
        gate: Gate<'_>,
        presented: Presented,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let Presented { hash, directive } = presented;
        let stored = match Outcome::read(outcomes) {
            Ok(stored) => stored,
            Err(e) => return self.store_failed(gate, e),
        };
        let ending = match stored.as_deref().map(Record::from_json) {
            None => None,
            Some(Ok(old)) => Some(match &directive {
                Directive::Logout { all: true, .. } => Ending::all(&old.uid),
                _ => {
                    let signin = gate.config.apps.is_multi() && old.app.is_none();
                    Ending::of(&hash, &old.uid, signin)
                }
            }),
            // Unreadable: its user is unknown, but the record itself goes.
            Some(Err(_)) => Some(Ending::record(&hash)),
        };
        match (directive, ending) {
            (Directive::Logout { after, .. }, Some(ending)) => {
                self.end_sessions(gate, ending, AfterEnding::Directive(after))
            }
            (Directive::Logout { after, .. }, None) => self.after_logout_directive(gate, after),
            (Directive::Login(login), Some(ending)) => {
                self.end_sessions(gate, ending, AfterEnding::Login(login))
            }
            (Directive::Login(login), None) => self.write_session(gate, login),
        }
    }

    /// Writes the new session's record, then its index entry.
    pub(super) fn write_session(&mut self, gate: Gate<'_>, login: Login) -> Step {
        // MAX_SESSIONS_PER_USER counts sign-ins, not apps' sessions.
        let limited = gate.config.max_sessions_per_user.is_some() && login.app.is_none();
        if let (true, Phase::Pending) = (limited, &login.phase) {
            let (listing, read) = Listing::start(&login.identity.uid);
            return self.wait(State::Login(login.at(Phase::Counting(listing))), vec![read]);
        }
        let id = match SessionId::generate() {
            Ok(id) => id,
            Err(e) => return self.store_failed(gate, StoreError(format!("no randomness: {e}"))),
        };
        let policy = login_lifetime(gate, &login);
        let mut record = policy.start(Identity::clone(&login.identity), self.now);
        if let Some(app) = &login.app {
            record.abs_exp = record.abs_exp.min(app.until);
            record.app = Some(app.app.clone());
            record.signin = Some(app.signin.to_string());
        }
        let put = Op::Put {
            key: session::record_key(&id.hash()),
            value: record.to_json(),
            metadata: None,
            ttl: policy.ttl(&record, self.now),
        };
        self.wait(
            State::Login(login.at(Phase::Record { id, record })),
            vec![put],
        )
    }

    pub(super) fn on_login(
        &mut self,
        gate: Gate<'_>,
        mut login: Login,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let phase = std::mem::replace(&mut login.phase, Phase::Pending);
        if let Phase::Counting(mut listing) = phase {
            return match listing.resume(outcomes) {
                Ok(Some(next)) => {
                    self.wait(State::Login(login.at(Phase::Counting(listing))), vec![next])
                }
                Ok(None) => self.make_room(gate, login.at(Phase::Counted), &listing),
                Err(e) => self.store_failed(gate, e),
            };
        }
        let outcome = outcomes.into_iter().next();
        match (phase, outcome.and_then(sessions::failure)) {
            (Phase::RollingBack(e), _) => self.store_failed(gate, e),
            (Phase::Index { id, .. }, Some(e)) => {
                let rollback = Op::delete(session::record_key(&id.hash()));
                self.wait(
                    State::Login(login.at(Phase::RollingBack(e))),
                    vec![rollback],
                )
            }
            (_, Some(e)) => self.store_failed(gate, e),
            (Phase::Pending | Phase::Counting(_), None) => self.write_session(gate, login),
            (Phase::Counted, None) => self.write_session(gate, login.at(Phase::Counted)),
            (Phase::Record { id, record }, None) => {
                let put = Op::Put {
                    key: session::index_key(&record.uid, &id.hash()),
                    value: String::new(),
                    metadata: Some(record.index_metadata(Some(&login.device))),
                    ttl: login_lifetime(gate, &login).ttl(&record, self.now),
                };
                self.wait(
                    State::Login(login.at(Phase::Index { id, record })),
                    vec![put],
                )
            }
            (Phase::Index { id, record }, None) => {
                let token = gate.config.session_keys.mint(&id, self.now);
                let cookie = gate.config.cookie.set(&token, record.abs_exp - self.now);
                // An app's session from a sign-in's code, or a login.
                self.log.event = Some(if login.app.is_some() {
                    "app_session"
                } else {
                    "login"
                });
                self.log.sid = Some(id.hash().sid());
                let offer = gate.registration_offer(&id.hash(), self.now);
                match login.then {
                    LoginEnd::Pass => {
                        let mut edits = Edits {
                            directives: true,
                            ..Edits::session_cookie(cookie, false)
                        };
                        edits.headers.extend(offer);
                        self.pass(edits)
                    }
                    LoginEnd::Redirect {
                        location,
                        set_cookies,
                    } => {
                        let mut reply = Reply::empty(303)
                            .with("location", location)
                            .with("set-cookie", cookie);
                        for set in set_cookies {
                            reply = reply.with("set-cookie", set);
                        }
                        reply.headers.extend(offer);
                        self.finish(reply)
                    }
                }
            }
        }
    }

    /// At `MAX_SESSIONS_PER_USER`, the oldest sessions end so that the new
    /// one fits; then the writes. With `APPS` the limit counts sign-ins,
    /// and a sign-in ends with its apps' sessions.
    fn make_room(&mut self, gate: Gate<'_>, login: Login, listing: &Listing) -> Step {
        let max = gate.config.max_sessions_per_user.unwrap_or(u32::MAX) as usize;
        let live = listing.live(self.now);
        let mut signins: Vec<_> = live.iter().filter(|(_, meta)| meta.app.is_none()).collect();
        if signins.len() < max {
            return self.write_session(gate, login);
        }
        signins.sort_by_key(|(_, meta)| meta.iat);
        let oldest: Vec<IdHash> = signins[..=signins.len() - max]
            .iter()
            .map(|(h, _)| *h)
            .collect();
        let mut ended = oldest.clone();
        ended.extend(sessions::started_by(&live, &oldest));
        let ending = Ending::many(listing.uid(), &ended);
        self.end_sessions(gate, ending, AfterEnding::Login(login))
    }

    fn pass(&mut self, edits: Edits) -> Step {
        self.end(Answer::Pass(edits))
    }

    /// A directive could not be carried out: 503 instead of the origin's
    /// response, and the cookie cleared.
    pub(super) fn store_failed(&mut self, gate: Gate<'_>, e: StoreError) -> Step {
        let reply = Reply::error(503, "session_store_unavailable")
            .with("set-cookie", gate.config.cookie.clear());
        self.fail("store_unavailable", e.to_string(), reply)
    }
}

/// The lifetimes of the session a login starts: its app's, or the gate's.
fn login_lifetime(gate: Gate<'_>, login: &Login) -> crate::session::Lifetimes {
    login
        .app
        .as_ref()
        .map_or(gate.config.lifetimes, |app| app.lifetime)
}

/// The read of the record a session cookie names, outside a protected
/// path: only a token with a valid tag names a session worth a read.
fn presented_record(gate: Gate<'_>, raw: Option<String>, now: u64) -> Option<(IdHash, Op)> {
    let raw = raw?;
    let token = gate.config.session_keys.verify(&raw, now).ok()?;
    let hash = token.id().hash();
    let read = Op::get(session::record_key(&hash));
    Some((hash, read))
}
