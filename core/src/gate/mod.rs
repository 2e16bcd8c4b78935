//! The request pipeline of DESIGN §4, as a sans-IO state machine.
//!
//! The gate never awaits and never touches the platform: in the manner of
//! rustls and quinn-proto, it is fed a description of the request and
//! answers with the next [`Step`] (perform these store operations, forward
//! to the origin, or finish), then is fed that step's results through
//! [`Exchange::resume`], until it finishes. Time comes in as a number.
//! Whoever drives it performs the I/O and decides nothing: on Workers that
//! is `src/edge/driver.js`; natively, tests drive it against an in-memory
//! store and count the operations it asks for.
//!
//! ```
//! use sessiongate_core::config::Config;
//! use sessiongate_core::gate::{Answer, Gate, Inbound, Step};
//!
//! let vars = [
//!     ("ORIGIN_URL", "https://origin.internal"),
//!     ("AUDIENCE", "app"),
//!     ("SESSION_KEYS", "k1:a-secret-of-at-least-32-characters"),
//!     ("ASSERTION_KEY", "another-secret-of-32-characters-or-more"),
//!     ("HANDOFF_KEY", "a-third-secret-of-32-characters-or-more"),
//! ];
//! let config = Config::from_lookup(|name| {
//!     vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
//! })
//! .unwrap();
//! let spent = Default::default();
//! let gate = Gate {
//!     config: &config,
//!     throttle: None,
//!     ledger_cache: None,
//!     record_cache: None,
//!     spent: &spent,
//!     provider_cache: None,
//!     in_flight: 0,
//! };
//! let request = Inbound {
//!     method: "GET",
//!     url: "https://app.example.com/dashboard",
//!     ..Inbound::default()
//! };
//! // No session cookie: turned away at once, without touching the store.
//! let (_, step) = gate.start(&request, 1_700_000_000);
//! let Step::Finish(Answer::Reply(reply), log) = step else { panic!() };
//! assert_eq!((reply.status, log.reason), (401, Some("missing")));
//! ```
//!
//! The stages live in their own modules, in the order a request lives
//! them: [`request`] (what is read of it), `authenticate` (cookie, token,
//! record), `forward` (to the origin, with the assertion), `origin` (the
//! origin's login and logout directives), `endpoints` (`/.sessiongate/*`),
//! `sessions` (starting and ending sessions as store operations), and
//! [`reply`] (edge responses and the log line). [`step`] is the protocol.

mod authenticate;
mod authorize;
mod bearer;
mod dbsc;
mod endpoints;
mod forward;
mod key_set;
mod oidc;
mod origin;
mod page;
mod provider;
mod record_cache;
pub mod request;
mod revocation;
mod sessions;
mod sso;

// The protocol and the log line are built on every request: they live in
// sessiongate-hot, built for speed (its lib.rs says why).
pub use sessiongate_hot::{reply, step};

use std::mem;

use crate::apps::{App, Site};
use crate::config::Config;
use crate::ledger::LedgerCache;
use crate::routes::{self, Route};

use crate::throttle::Throttle;

pub use reply::{Edits, Log, Reply};
pub use request::{is_stripped_inbound, Inbound};
pub use step::{
    Answer, CookieHeader, Forward, Input, Listed, Op, OriginHead, Outcome, Sign, Step, StoreError,
    DIRECTIVE_HEADERS, LOGOUT_HEADER, VERIFY_KEY_INVALID, VERIFY_VALID,
};

use authenticate::{Denial, Pending};
use origin::{After, Login, Presented};
use request::RequestUrl;
use revocation::LedgerCheck;
use sessions::{Ending, Listing, Progress};

/// Request header naming the user to the origin.
pub const USER_HEADER: &str = "x-sessiongate-user";
/// Request header telling the origin, in `MODE=report`, what enforce mode
/// would have done: `allow`, or `deny; reason=<reason>`.
pub const VERDICT_HEADER: &str = "sessiongate-verdict";
/// KV key the health check reads: any answer, even none, shows KV is usable.
pub const HEALTH_KEY: &str = "health";

/// The pipeline over one configuration and the isolate's memory: its
/// bad-token counts, its copies of users' revocation states and of
/// session records.
#[derive(Clone, Copy)]
pub struct Gate<'a> {
    pub config: &'a Config,
    /// `None` when `BAD_TOKEN_LIMIT` is `off`.
    pub throttle: Option<&'a Throttle>,
    /// Users' ledger states read here; used only with the ledger bound.
    pub ledger_cache: Option<&'a LedgerCache>,
    /// Session records read here; used only while `RECORD_CACHE` is on.
    pub record_cache: Option<&'a crate::record_cache::RecordCache>,
    /// One-time values used in this isolate (device-binding challenges,
    /// logout tokens).
    pub spent: &'a crate::spent::Spent,
    /// The identity provider's documents as this isolate keeps them.
    pub provider_cache: Option<&'a crate::oidc::metadata::ProviderCache>,
    /// Requests of this isolate waiting for their I/O, besides this one:
    /// the health check reports it, and it returns to zero when every
    /// request has been answered or cancelled.
    pub in_flight: usize,
}

/// One request on its way through the gate: what it waits for, and what
/// it will log.
#[derive(Debug)]
pub struct Exchange {
    /// Unix seconds when the request arrived: time stands still within a
    /// request on Workers, and so it does here.
    now: u64,
    /// The same in milliseconds, for the ages of record copies (DESIGN §14).
    now_ms: u64,
    log: Log,
    /// The route class, for the metrics (see `Log::route`).
    route: &'static str,
    /// Which app's host the request came to (DESIGN §16).
    site: Site,
    /// At an app's host with `APPS`: how to send the browser to
    /// `AUTH_HOST`, should it have to sign in.
    away: Option<Box<sso::Away>>,
    /// The app's name, for the log line and the data point, with `APPS`.
    app_name: Option<String>,
    state: State,
    /// Store operations to perform after the answer, best effort (a
    /// revocation state past half its staleness, refreshed).
    background: Vec<Op>,
    /// Sessions whose record the last step writes or deletes: this
    /// isolate's copies of them are dropped when its outcomes come back.
    writing: Vec<crate::token::IdHash>,
}

/// What an exchange waits for.
#[derive(Debug)]
enum State {
    /// Nothing: the exchange has finished.
    Done,
    /// The session record, to authenticate the request.
    Record(Pending),
    /// The health probe's read.
    Health,
    /// A page of a user's index entries.
    Listing(Listing, AfterListing),
    /// Deletes (and the listing before them) that end sessions.
    Ending(Ending, AfterEnding),
    /// The origin's response.
    Origin(After),
    /// The user's revocation state (Cache API, then the ledger), to
    /// finish authenticating.
    Ledger(LedgerCheck),
    /// The record of a session presented on a public path, which the
    /// origin's directive ends.
    Presented(Presented),
    /// The writes that start a session after a login handoff.
    Login(Login),
    /// The signature of a device-binding proof (WebCrypto).
    DeviceProof(dbsc::ProofCheck),
    /// The writes that bind a session to its device's key.
    DeviceRegistered(dbsc::Registered),
    /// A step of a sign-in with the identity provider, or of its
    /// back-channel logout.
    Oidc(Box<oidc::Flow>),
    /// The issuer's documents, or the signature's check, for a machine
    /// client's access token.
    Token(Box<bearer::TokenCheck>),
    /// A `POST`'s body, for the `_method` the policy judges too.
    Form(Box<authorize::Authorizing>),
    /// The public halves of the signing keys, for the key set.
    KeySet,
    /// A one-time code's write, at `AUTH_HOST` (DESIGN §16).
    CodeIssued(Box<sso::Issued>),
    /// A one-time code's record, then the sign-in's, at an app's host.
    Code(Box<sso::Exchanging>),
}

/// What a finished listing is for.
#[derive(Debug)]
enum AfterListing {
    /// The current user's sessions: list them, or end the one named `sid`.
    Own {
        current: crate::token::IdHash,
        uid: String,
        sid: Option<String>,
        /// When the session's user last authenticated (`Record::auth_time`).
        auth_time: u64,
        /// A browser: the page, and redirects, rather than JSON.
        browser: bool,
    },
    /// The admin API's listing of `uid`'s sessions.
    Admin { uid: String },
}

/// What to do once sessions have ended.
#[derive(Debug)]
enum AfterEnding {
    /// An absolute-expired session was cleaned up (best effort): turn the
    /// request away as expired.
    Expired(authenticate::Purpose, Denial),
    /// Answer this.
    Reply(Reply),
    /// The admin API revoked `uid`'s sessions: answer with how many.
    Revoked { uid: String },
    /// The origin's logout directive is carried out: carry on with its response.
    Directive(After),
    /// The session a login replaces is ended: start the new one.
    Login(Login),
}

impl Gate<'_> {
    /// Takes a request in (DESIGN §4): normalise, classify, then authenticate,
    /// forward or answer. Returns the exchange and its first step. `now` is
    /// Unix seconds.
    pub fn start(&self, req: &Inbound<'_>, now: u64) -> (Exchange, Step) {
        self.start_ms(req, now.saturating_mul(1000))
    }

    /// [`Gate::start`] with the time in milliseconds, as the platform
    /// tells it.
    pub fn start_ms(&self, req: &Inbound<'_>, now_ms: u64) -> (Exchange, Step) {
        let mut exchange = Exchange {
            now: now_ms / 1000,
            now_ms,
            log: Log::default(),
            route: "invalid",
            site: Site::SINGLE,
            away: None,
            app_name: None,
            state: State::Done,
            background: Vec::new(),
            writing: Vec::new(),
        };
        let step = exchange.begin(*self, req);
        exchange.forget_asked(*self);
        (exchange, step)
    }
}

impl Exchange {
    fn begin(&mut self, gate: Gate<'_>, req: &Inbound<'_>) -> Step {
        let Some(url) = RequestUrl::parse(req.url) else {
            return self.reject(reply::bad_request("bad_url"), "bad_url");
        };
        let path = match routes::normalise(url.path) {
            Ok(path) => path,
            Err(e) => return self.reject(reply::bad_request(e.as_str()), e.as_str()),
        };
        let apps = &gate.config.apps;
        let site = match apps.site(url.authority()) {
            Some(site) => site,
            // A host no app has may still probe the edge (DESIGN §16).
            None => Site {
                app: None,
                auth_host: false,
            },
        };
        self.site = site;
        // Routed by the URL's host, which on Cloudflare is the `Host` the
        // client sent; no inbound `Host` reaches an origin, whose fetch
        // names its own (DESIGN §16).
        if apps.is_multi() {
            self.app_name = self.app(gate).map(|app| app.name.clone());
            // Only a browser's page or form can be sent round AUTH_HOST:
            // an API's GET is answered 401, and needs no nonce looked up.
            let may_go_round = req.wants_html() || !req.is_safe_method();
            if site.app_session(apps).is_some() && may_go_round {
                self.away = Exchange::away_from_auth_host(gate, req, url.authority());
            }
        }
        let public = match self.app(gate) {
            Some(app) => &app.public_paths,
            None => &routes::PublicPaths::NONE,
        };
        match routes::classify(&path, public) {
            Route::Reserved(endpoint) => {
                self.route = "edge";
                let served = site.app.is_some() || site.auth_host || endpoint.is_for_any_host();
                if !served {
                    return self.unknown_host();
                }
                self.endpoint(gate, endpoint, req, &url)
            }
            _ if site.app.is_none() => self.unknown_host(),
            Route::Public => {
                self.route = "public";
                self.forward_public(gate, req, &path, url.query)
            }
            Route::Protected => {
                self.route = "protected";
                self.forward_protected(gate, req, &path, &url)
            }
        }
    }

    /// A host no app has (or `AUTH_HOST`, outside `/.sessiongate/`, when
    /// it is no app's): nothing reaches any origin.
    fn unknown_host(&mut self) -> Step {
        self.reject(Reply::error(404, "unknown_host"), "unknown_host")
    }

    /// The app of the request's host; `None` at a host no app has.
    fn app<'g>(&self, gate: Gate<'g>) -> Option<&'g App> {
        self.site.app.map(|index| gate.config.apps.get(index))
    }

    /// The app of a request on its way to an origin: `begin` routes none
    /// to one without an app.
    fn served_app<'g>(&self, gate: Gate<'g>) -> &'g App {
        gate.config.apps.get(self.site.app.unwrap_or_default())
    }

    /// The lifetimes of the sessions at this host: an app's own, or the
    /// gate's (the sign-in's, and the single app's).
    fn lifetime(&self, gate: Gate<'_>) -> crate::session::Lifetimes {
        match (self.site.app_session(&gate.config.apps), self.app(gate)) {
            (Some(_), Some(app)) => app.lifetime,
            _ => gate.config.lifetimes,
        }
    }

    /// Hands the exchange the results of its last step; returns the next.
    pub fn resume(&mut self, gate: Gate<'_>, input: Input) -> Step {
        // Whether or not they landed, this isolate's copies of the records
        // the step wrote or deleted are no longer to be trusted.
        if !self.writing.is_empty() {
            gate.forget_records(&mem::take(&mut self.writing));
        }
        let step = match (mem::replace(&mut self.state, State::Done), input) {
            (State::Record(pending), Input::Store(outcomes)) => {
                self.on_record(gate, pending, outcomes)
            }
            (State::Origin(after), Input::Origin(head)) => self.on_origin(gate, after, head),
            (state, input) => self.resume_elsewhere(gate, state, input),
        };
        self.forget_asked(gate);
        step
    }

    /// Drops this isolate's copies of the records the step just asked for
    /// writes or deletes: when it is asked, so that an ending holds here
    /// even if its answer never comes back (the client went away and the
    /// request was cancelled); and again when it comes back (above), so
    /// that no read in between keeps what the write replaced.
    fn forget_asked(&self, gate: Gate<'_>) {
        if !self.writing.is_empty() {
            gate.forget_records(&self.writing);
        }
    }

    /// [`Exchange::resume`] for every state but an authenticated request's
    /// two. Kept out of line: wasm functions are compiled on their first
    /// call, so a fresh isolate's first request compiles only the hot
    /// path's share of `resume`, not every flow's (bench/RESULTS.md).
    #[inline(never)]
    fn resume_elsewhere(&mut self, gate: Gate<'_>, state: State, input: Input) -> Step {
        match (state, input) {
            (State::Health, Input::Store(outcomes)) => self.on_health(gate, outcomes),
            (State::Listing(mut listing, then), Input::Store(outcomes)) => {
                match listing.resume(outcomes) {
                    Ok(Some(next)) => self.wait(State::Listing(listing, then), vec![next]),
                    Ok(None) => self.listed(gate, listing, then),
                    Err(e) => self.unavailable(e),
                }
            }
            (State::Ending(mut ending, then), Input::Store(outcomes)) => {
                match ending.resume(outcomes) {
                    Ok(Progress::More(ops)) => self.wait(State::Ending(ending, then), ops),
                    Ok(Progress::Ended(count)) => {
                        gate.remember_revocation(ending.revocation(), self.now);
                        self.ended(gate, then, Ok(count))
                    }
                    Err(e) => self.ended(gate, then, Err(e)),
                }
            }
            (State::Ledger(check), Input::Store(outcomes)) => self.on_ledger(gate, check, outcomes),
            (State::Presented(presented), Input::Store(outcomes)) => {
                self.on_presented(gate, presented, outcomes)
            }
            (State::Login(login), Input::Store(outcomes)) => self.on_login(gate, login, outcomes),
            (State::Oidc(flow), Input::Store(outcomes)) => self.on_oidc(gate, *flow, outcomes),
            (State::Token(check), Input::Store(outcomes)) => self.on_token(gate, *check, outcomes),
            (State::Form(authorizing), Input::Store(outcomes)) => {
                self.on_form(gate, *authorizing, outcomes)
            }
            (State::KeySet, Input::Store(outcomes)) => self.on_key_set(gate, outcomes),
            (State::CodeIssued(issued), Input::Store(outcomes)) => {
                self.on_code_issued(*issued, outcomes)
            }
            (State::Code(exchanging), Input::Store(outcomes)) => {
                self.on_code(gate, *exchanging, outcomes)
            }
            // Fail closed: a key WebCrypto will not sign with is unusable.
            (State::Origin(_), Input::Unsigned(detail)) => {
                self.fail("signing_key_unusable", detail, Reply::misconfigured())
            }
            (State::DeviceProof(check), Input::Store(outcomes)) => {
                self.on_device_proof(gate, check, outcomes)
            }
            (State::DeviceRegistered(registered), Input::Store(outcomes)) => {
                self.on_device_registered(gate, registered, outcomes)
            }
            (state, input) => {
                let detail = format!(
                    "driver sent {input:?} while the exchange waited for {}",
                    state.waits_for()
                );
                self.fail("internal", detail, Reply::internal())
            }
        }
    }

    /// Ends the exchange with a reply the driver could not get from it: the
    /// driver failed (an exception of the platform's) and says why.
    pub fn abandon(&mut self, detail: String) -> Step {
        self.fail("internal", detail, Reply::internal())
    }

    /// Ends the exchange because its client went away (the driver's
    /// request was cancelled): no answer reaches anyone, but the log line
    /// says so. Status 499, as proxies log a request the client closed.
    pub fn cancel(&mut self) -> Step {
        let detail = format!(
            "the client went away while the exchange waited for {}",
            self.state.waits_for()
        );
        self.fail("cancelled", detail, Reply::error(499, "cancelled"))
    }

    /// Whether the exchange has finished.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn wait(&mut self, state: State, ops: Vec<Op>) -> Step {
        self.state = state;
        self.writing
            .extend(ops.iter().filter_map(record_cache::written_record));
        Step::Store(ops)
    }

    fn finish(&mut self, reply: Reply) -> Step {
        self.log.status = reply.status;
        self.end(Answer::Reply(reply))
    }

    /// The final step: the answer and the request's log.
    fn end(&mut self, answer: Answer) -> Step {
        self.state = State::Done;
        self.log.route = self.route;
        self.log.app.clone_from(&self.app_name);
        Step::Finish(answer, mem::take(&mut self.log))
    }

    fn reject(&mut self, reply: Reply, reason: &'static str) -> Step {
        self.log = Log::default();
        self.log.refuse(reason);
        self.finish(reply)
    }

    /// Something the gate relies on failed: answers `reply` and logs an
    /// error with `reason` and, for the operator, `detail`.
    fn fail(&mut self, reason: &'static str, detail: String, reply: Reply) -> Step {
        self.log.decision = "error";
        self.log.reason = Some(reason);
        self.log.detail = Some(detail);
        self.finish(reply)
    }

    /// The platform's CSPRNG failed: nothing secret can be made, so 500.
    fn no_randomness(&mut self, e: getrandom::Error) -> Step {
        self.fail("internal", format!("no randomness: {e}"), Reply::internal())
    }

    /// KV failed: 503, never forwarded (DESIGN §9).
    fn unavailable(&mut self, e: StoreError) -> Step {
        let reply = Reply::error(503, "session_store_unavailable");
        self.fail("store_unavailable", e.to_string(), reply)
    }

    /// Ends sessions; with the ledger bound, its writes join the first
    /// step, and the ending succeeds only once the ledger has them.
    fn end_sessions(
        &mut self,
        gate: Gate<'_>,
        (mut ending, mut ops): (Ending, Vec<Op>),
        then: AfterEnding,
    ) -> Step {
        if gate.config.ledger {
            // A revoked session is dead by its absolute deadline at the latest.
            let keep_until = self.now + gate.config.lifetimes.absolute();
            ops.extend(ending.ledger_writes(self.now, keep_until));
        }
        self.wait(State::Ending(ending, then), ops)
    }

    /// The operations to perform after the answer, handed to the driver once.
    pub fn take_background(&mut self) -> Vec<Op> {
        mem::take(&mut self.background)
    }

    fn ended(
        &mut self,
        gate: Gate<'_>,
        then: AfterEnding,
        result: Result<usize, StoreError>,
    ) -> Step {
        match (then, result) {
            // Janitorial: the record is dead whether or not its delete
            // landed, and its TTL removes it anyway.
            (AfterEnding::Expired(purpose, denial), _) => self.refuse(
                gate,
                purpose,
                &denial,
                authenticate::Denied::reject(authenticate::Reason::Expired),
            ),
            (AfterEnding::Reply(reply), Ok(_)) => self.finish(reply),
            (AfterEnding::Revoked { uid }, Ok(revoked)) => {
                self.log.event = Some("revoke_all");
                let body = serde_json::json!({ "uid": uid, "revoked": revoked });
                self.finish(Reply::json(200, body))
            }
            (AfterEnding::Directive(after), Ok(_)) => self.after_logout_directive(gate, after),
            (AfterEnding::Login(login), Ok(_)) => self.write_session(gate, login),
            (AfterEnding::Directive(_) | AfterEnding::Login(_), Err(e)) => {
                self.store_failed(gate, e)
            }
            (AfterEnding::Reply(_) | AfterEnding::Revoked { .. }, Err(e)) => self.unavailable(e),
        }
    }
}

impl State {
    fn waits_for(&self) -> &'static str {
        match self {
            Self::Done => "nothing (it had finished)",
            Self::Origin(_) => "the origin",
            _ => "store outcomes",
        }
    }
}
