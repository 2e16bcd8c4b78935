//! The request pipeline of DESIGN §4, with no platform types.
//!
//! [`Gate::handle`] turns a description of a request into a [`Decision`]:
//! answer it at the edge, or forward it to the origin with these headers.
//! [`Gate::after_origin`] then applies the origin's login or logout
//! directive. Storage is reached only through a [`SessionStore`] and time
//! only through a [`Clock`], so every decision is tested natively; the
//! `edge` module maps these values to and from workers-rs.

use std::cell::Cell;

use serde_json::json;

use crate::assertion::{self, AssertionClaims};
use crate::config::Config;
use crate::cookie::{self, Presented};
use crate::handoff::{self, Handoff};
use crate::routes::{self, Endpoint, Route};
use crate::session::{self, IndexMetadata, Record, RecordError};
use crate::store::{SessionStore, StoreError};
use crate::throttle::Throttle;
use crate::token::{IdHash, SessionId, Token};

/// Request header naming the user to the origin.
pub const USER_HEADER: &str = "x-sessiongate-user";
/// Response header the origin logs a user out with: `current` or `all`.
pub const LOGOUT_HEADER: &str = "sessiongate-logout";
/// KV key the health check reads: any answer, even none, shows KV is usable.
pub const HEALTH_KEY: &str = "health";

/// Unix seconds.
pub trait Clock {
    fn now(&self) -> u64;
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct FixedClock(Cell<u64>);

impl FixedClock {
    pub fn new(now: u64) -> Self {
        Self(Cell::new(now))
    }

    pub fn advance(&self, seconds: u64) {
        self.0.set(self.0.get() + seconds);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0.get()
    }
}

/// What the gate needs to know of a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inbound<'a> {
    pub method: &'a str,
    /// The absolute URL, as the platform parsed it.
    pub url: &'a str,
    pub cookie: Option<&'a str>,
    pub accept: Option<&'a str>,
    pub sec_fetch_site: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub authorization: Option<&'a str>,
    /// `CF-Connecting-IP`: whom bad tokens are counted against.
    pub client: Option<&'a str>,
}

/// Inbound headers removed from every request before anything else sees
/// them: ours, which only the edge may set, and method overrides, which
/// would let an origin act on a method the edge did not check.
pub fn is_stripped_inbound(name: &str) -> bool {
    let has_prefix = |prefix: &str| {
        name.len() >= prefix.len()
            && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    has_prefix("sessiongate-")
        || has_prefix("x-sessiongate-")
        || [
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Why a request without a usable session was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Missing,
    Invalid,
    Expired,
    Revoked,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// A response made at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// In order; `set-cookie` may repeat.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("cache-control", "no-store".to_owned()),
            ],
            body: body.to_string(),
        }
    }

    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![("cache-control", "no-store".to_owned())],
            body: String::new(),
        }
    }

    fn error(status: u16, error: &str) -> Self {
        Self::json(status, json!({ "error": error }))
    }

    fn with(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The answer to every request while the configuration is invalid.
    pub fn misconfigured() -> Self {
        Self::error(500, "misconfigured")
    }

    pub fn origin_unreachable() -> Self {
        Self::error(502, "origin_unreachable")
    }

    pub fn internal() -> Self {
        Self::error(500, "internal")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What becomes of the forwarded request's `Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieHeader {
    Unchanged,
    Replace(String),
    Remove,
}

/// Forward to the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// `ORIGIN_URL` plus the normalised path and the query.
    pub url: String,
    /// Set on the forwarded request, after inbound stripping.
    pub headers: Vec<(&'static str, String)>,
    pub cookie: CookieHeader,
    /// Handed back to [`Gate::after_origin`].
    pub after: After,
}

/// What the response step needs to remember of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct After {
    session: Option<Current>,
    /// A session cookie seen on a public path, ended if a login follows.
    presented: Option<String>,
    /// A re-stamped session cookie for the response.
    restamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Current {
    hash: IdHash,
    uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Reply(Reply),
    Forward(Forward),
}

/// What the edge logs of a request: never a token, key or assertion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Log {
    /// `forward`, `reject`, `endpoint` or `error`.
    pub decision: &'static str,
    pub reason: Option<&'static str>,
    /// The public short id of the session concerned.
    pub sid: Option<String>,
    /// A login or logout applied from the origin's response.
    pub event: Option<&'static str>,
    /// Why something failed, for the operator.
    pub detail: Option<String>,
}

impl Log {
    /// The request's one JSON log line.
    pub fn line(&self, status: u16, ms: u64) -> String {
        let mut line = json!({ "decision": self.decision, "status": status, "ms": ms });
        let fields = [
            ("reason", self.reason.map(str::to_owned)),
            ("sid", self.sid.clone()),
            ("event", self.event.map(str::to_owned)),
            ("detail", self.detail.clone()),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                line[name] = value.into();
            }
        }
        line.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub log: Log,
}

impl Decision {
    fn reply(reply: Reply, decision: &'static str, reason: Option<&'static str>) -> Self {
        Self {
            action: Action::Reply(reply),
            log: Log {
                decision,
                reason,
                ..Log::default()
            },
        }
    }
}

/// The origin's directives, read from its response headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Directives<'a> {
    pub login: Option<&'a str>,
    pub logout: Option<&'a str>,
}

/// What to do with the origin's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Pass it on, edited.
    Pass(Edits),
    /// A directive could not be carried out: answer this instead.
    Replace(Reply),
}

/// Changes to the origin's response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    /// Appended after the origin's own `Set-Cookie` headers.
    pub set_cookies: Vec<String>,
    /// Set, replacing the origin's value if it has one.
    pub headers: Vec<(&'static str, String)>,
}

impl Edits {
    /// A response that sets or clears the session cookie must not be
    /// stored by any cache; one that ends a session also clears the
    /// browser's cache of the user's pages.
    fn session_cookie(cookie: String, ends_session: bool) -> Self {
        let mut headers = vec![("cache-control", "no-store".to_owned())];
        if ends_session {
            headers.push(("clear-site-data", CLEAR_CACHE.to_owned()));
        }
        Self {
            set_cookies: vec![cookie],
            headers,
        }
    }
}

/// `Clear-Site-Data` on logout: the cache only, since `cookies` and
/// `storage` would reach every app on the registrable domain.
const CLEAR_CACHE: &str = "\"cache\"";

/// Why no session could be established for a request.
enum Denied {
    Reject {
        reason: Reason,
        clear: bool,
    },
    /// Too many bad tokens from this client: retry after this many seconds.
    Throttled(u64),
    Unavailable(StoreError),
    Unreadable(RecordError),
}

impl From<StoreError> for Denied {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e)
    }
}

struct Authenticated {
    token: Token,
    hash: IdHash,
    record: Record,
    restamp: Option<String>,
}

/// The parts of the request URL the gate uses.
struct RequestUrl<'a> {
    /// `scheme://host[:port]`
    origin: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> RequestUrl<'a> {
    fn parse(url: &'a str) -> Option<Self> {
        let host_start = url.find("://")? + 3;
        let path_start = url[host_start..]
            .find('/')
            .map_or(url.len(), |i| host_start + i);
        let rest = &url[path_start..];
        let rest = rest.split('#').next().unwrap_or_default();
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        Some(Self {
            origin: &url[..path_start],
            path: if path.is_empty() { "/" } else { path },
            query,
        })
    }
}

fn path_and_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    }
}

fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// A browser loading a page, which is better sent to the login page than
/// shown a 401.
fn is_navigation(req: &Inbound<'_>) -> bool {
    matches!(req.method, "GET" | "HEAD") && wants_html(req)
}

fn wants_html(req: &Inbound<'_>) -> bool {
    req.accept
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/html"))
}

/// DESIGN §4.4: `Sec-Fetch-Site`, when sent, must be `same-origin` or
/// `none`; else `Origin`, when sent, must be the request's own.
fn is_cross_site(req: &Inbound<'_>, own_origin: &str) -> bool {
    if let Some(site) = req.sec_fetch_site {
        let site = site.trim();
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    req.origin
        .is_some_and(|origin| !origin.trim().eq_ignore_ascii_case(own_origin))
}

fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        pair.split_once('=')
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v)
    })
}

/// The pipeline over one configuration, store and clock.
pub struct Gate<'a, S, C> {
    pub config: &'a Config,
    pub store: &'a S,
    pub clock: &'a C,
    /// `None` when `BAD_TOKEN_LIMIT` is `off`.
    pub throttle: Option<&'a Throttle>,
}

impl<S: SessionStore, C: Clock> Gate<'_, S, C> {
    /// Decides what to do with a request (DESIGN §4).
    pub async fn handle(&self, req: &Inbound<'_>) -> Decision {
        let Some(url) = RequestUrl::parse(req.url) else {
            return Decision::reply(bad_request("bad_url"), "reject", Some("bad_url"));
        };
        let path = match routes::normalise(url.path) {
            Ok(path) => path,
            Err(e) => return Decision::reply(bad_request(e.as_str()), "reject", Some(e.as_str())),
        };
        match routes::classify(&path, &self.config.public_paths) {
            Route::Reserved(endpoint) => self.endpoint(endpoint, req, &url).await,
            Route::Public => self.forward_public(req, &path, url.query),
            Route::Protected => self.forward_protected(req, &path, &url).await,
        }
    }

    fn forward_public(&self, req: &Inbound<'_>, path: &str, query: Option<&str>) -> Decision {
        let is_login_page = self.config.login_url.same_origin_path() == Some(path);
        let query = match query {
            Some(q) if is_login_page => routes::sanitise_return_to(q),
            other => other.map(Into::into),
        };
        let presented = match req
            .cookie
            .map(|h| cookie::find(h, self.config.cookie.name()))
        {
            Some(Presented::One(token)) => Some(token.to_owned()),
            _ => None,
        };
        let forward = Forward {
            url: format!(
                "{}{}",
                self.config.origin_url,
                path_and_query(path, query.as_deref())
            ),
            headers: Vec::new(),
            cookie: self.cookie_without_session(req.cookie),
            after: After {
                presented,
                ..After::default()
            },
        };
        Decision {
            action: Action::Forward(forward),
            log: Log {
                decision: "forward",
                reason: Some("public"),
                ..Log::default()
            },
        }
    }

    async fn forward_protected(
        &self,
        req: &Inbound<'_>,
        path: &str,
        url: &RequestUrl<'_>,
    ) -> Decision {
        let return_to = path_and_query(path, url.query);
        if !is_safe_method(req.method) && is_cross_site(req, url.origin) {
            return Decision::reply(forbidden("cross_site"), "reject", Some("cross_site"));
        }
        let auth = match self.authenticate(req).await {
            Ok(auth) => auth,
            Err(denied) => return self.denied(req, denied, &return_to),
        };
        let now = self.clock.now();
        let assertion = AssertionClaims {
            iss: assertion::ISSUER.to_owned(),
            aud: self.config.audience.clone(),
            sub: auth.record.uid.clone(),
            sid: auth.hash.sid(),
            iat: now,
            exp: now + assertion::LIFETIME,
            auth_time: auth.record.iat,
            htm: req.method.to_owned(),
            htu: return_to,
            claims: auth.record.claims,
        };
        let sid = assertion.sid.clone();
        let forward = Forward {
            url: format!("{}{}", self.config.origin_url, assertion.htu),
            headers: vec![
                (
                    assertion::HEADER,
                    assertion.sign(&self.config.assertion_key),
                ),
                (USER_HEADER, auth.record.uid.clone()),
            ],
            cookie: self.cookie_without_session(req.cookie),
            after: After {
                session: Some(Current {
                    hash: auth.hash,
                    uid: auth.record.uid,
                }),
                presented: None,
                restamp: auth.restamp,
            },
        };
        Decision {
            action: Action::Forward(forward),
            log: Log {
                decision: "forward",
                sid: Some(sid),
                ..Log::default()
            },
        }
    }

    fn cookie_without_session(&self, header: Option<&str>) -> CookieHeader {
        let name = self.config.cookie.name();
        match header {
            Some(h) if h.contains(name) => match cookie::without(h, name) {
                Some(rest) => CookieHeader::Replace(rest),
                None => CookieHeader::Remove,
            },
            _ => CookieHeader::Unchanged,
        }
    }

    /// [`Self::check_session`], unless the client has presented too many
    /// bad tokens lately; an invalid token counts against it.
    async fn authenticate(&self, req: &Inbound<'_>) -> Result<Authenticated, Denied> {
        if let Some(retry_after) = self.throttled(req) {
            return Err(Denied::Throttled(retry_after));
        }
        let result = self.check_session(req).await;
        if let Err(Denied::Reject {
            reason: Reason::Invalid,
            ..
        }) = result
        {
            self.count_failure(req);
        }
        result
    }

    fn throttled(&self, req: &Inbound<'_>) -> Option<u64> {
        let (throttle, client) = (self.throttle?, req.client?);
        throttle.retry_after(client, self.clock.now())
    }

    fn count_failure(&self, req: &Inbound<'_>) {
        if let (Some(throttle), Some(client)) = (self.throttle, req.client) {
            throttle.record_failure(client, self.clock.now());
        }
    }

    /// DESIGN §4.4: one cookie, its token (no I/O), one KV read, the
    /// absolute deadline. Re-stamps when due.
    async fn check_session(&self, req: &Inbound<'_>) -> Result<Authenticated, Denied> {
        let reject = |reason, clear| Denied::Reject { reason, clear };
        let now = self.clock.now();
        let raw = match req
            .cookie
            .map(|h| cookie::find(h, self.config.cookie.name()))
        {
            None | Some(Presented::Missing) => return Err(reject(Reason::Missing, false)),
            Some(Presented::Many) => return Err(reject(Reason::Invalid, true)),
            Some(Presented::One(raw)) => raw,
        };
        let keys = &self.config.session_keys;
        let token = keys
            .verify(raw, now)
            .map_err(|_| reject(Reason::Invalid, true))?;
        let policy = &self.config.policy;
        if policy.is_idle_expired(token.stamp(), now) {
            return Err(reject(Reason::Expired, true));
        }
        let hash = token.id().hash();
        let Some(stored) = self.store.get(&session::record_key(&hash)).await? else {
            return Err(reject(Reason::Revoked, true));
        };
        let record = Record::from_json(&stored).map_err(Denied::Unreadable)?;
        if record.is_expired(now) {
            // Janitorial: the record is dead whether or not this delete
            // lands, and its TTL removes it anyway.
            let _ = self.end(&hash, &record.uid).await;
            return Err(reject(Reason::Expired, true));
        }
        // A token under a retired key is re-stamped under the current one.
        let restamp = (policy.is_due_for_restamp(token.stamp(), now)
            || token.kid() != keys.primary())
        .then(|| {
            self.config
                .cookie
                .set(&keys.mint(token.id(), now), record.abs_exp - now)
        });
        Ok(Authenticated {
            token,
            hash,
            record,
            restamp,
        })
    }

    fn denied(&self, req: &Inbound<'_>, denied: Denied, return_to: &str) -> Decision {
        match denied {
            Denied::Reject { reason, clear } => {
                let mut reply = if is_navigation(req) {
                    let location = self
                        .config
                        .login_url
                        .with_return_to(&routes::percent_encode(return_to));
                    Reply::empty(303).with("location", location)
                } else {
                    Reply::json(
                        401,
                        json!({ "error": "unauthenticated", "reason": reason.as_str() }),
                    )
                    .with("www-authenticate", "Session".to_owned())
                };
                if clear {
                    reply = reply.with("set-cookie", self.config.cookie.clear());
                }
                Decision::reply(reply, "reject", Some(reason.as_str()))
            }
            Denied::Throttled(retry_after) => Decision::reply(
                Reply::error(429, "too_many_requests").with("retry-after", retry_after.to_string()),
                "reject",
                Some("throttled"),
            ),
            Denied::Unavailable(e) => unavailable(e),
            Denied::Unreadable(e) => Decision {
                action: Action::Reply(Reply::error(500, "session_record_unreadable")),
                log: Log {
                    decision: "error",
                    reason: Some("record_unreadable"),
                    detail: Some(e.to_string()),
                    ..Log::default()
                },
            },
        }
    }

    async fn endpoint(
        &self,
        endpoint: Endpoint,
        req: &Inbound<'_>,
        url: &RequestUrl<'_>,
    ) -> Decision {
        let endpoint_reply = |reply: Reply| Decision::reply(reply, "endpoint", None);
        match endpoint {
            Endpoint::Logout => self.logout(req, url).await,
            Endpoint::Session if matches!(req.method, "GET" | "HEAD") => {
                match self.authenticate(req).await {
                    Ok(auth) => {
                        let stamp = if auth.restamp.is_some() {
                            self.clock.now()
                        } else {
                            auth.token.stamp()
                        };
                        let body = json!({
                            "uid": auth.record.uid,
                            "claims": auth.record.claims,
                            "iat": auth.record.iat,
                            "abs_exp": auth.record.abs_exp,
                            "idle_exp": self.config.policy.idle_deadline(stamp),
                        });
                        let mut reply = Reply::json(200, body);
                        if let Some(cookie) = auth.restamp {
                            reply = reply.with("set-cookie", cookie);
                        }
                        let mut decision = endpoint_reply(reply);
                        decision.log.sid = Some(auth.hash.sid());
                        decision
                    }
                    Err(denied) => self.denied(req, denied, &path_and_query(url.path, url.query)),
                }
            }
            Endpoint::Health if matches!(req.method, "GET" | "HEAD") => {
                match self.store.get(HEALTH_KEY).await {
                    Ok(_) => endpoint_reply(Reply::json(200, json!({ "status": "ok" }))),
                    Err(e) => unavailable(e),
                }
            }
            Endpoint::Session | Endpoint::Health => endpoint_reply(method_not_allowed("GET, HEAD")),
            Endpoint::OwnSessions => self.own_sessions(req, url, None).await,
            Endpoint::OwnSession(sid) => self.own_sessions(req, url, Some(&sid)).await,
            Endpoint::UserSessions(uid) => self.admin(req, &uid).await,
            Endpoint::NotFound => endpoint_reply(Reply::error(404, "not_found")),
        }
    }

    /// `POST /.sessiongate/logout[?scope=all]`: idempotent; the cookie is
    /// cleared whether or not a session was found.
    async fn logout(&self, req: &Inbound<'_>, url: &RequestUrl<'_>) -> Decision {
        if req.method != "POST" {
            return Decision::reply(method_not_allowed("POST"), "endpoint", None);
        }
        if is_cross_site(req, url.origin) {
            return Decision::reply(forbidden("cross_site"), "reject", Some("cross_site"));
        }
        let all = query_param(url.query, "scope") == Some("all");
        let mut log = Log {
            decision: "endpoint",
            event: Some(if all { "logout_all" } else { "logout" }),
            ..Log::default()
        };
        match self.authenticate(req).await {
            Ok(auth) => {
                log.sid = Some(auth.hash.sid());
                let ended = if all {
                    self.end_all(&auth.record.uid).await.map(drop)
                } else {
                    self.end(&auth.hash, &auth.record.uid).await
                };
                if let Err(e) = ended {
                    return unavailable(e);
                }
            }
            Err(Denied::Reject { reason, .. }) => log.reason = Some(reason.as_str()),
            Err(denied) => return self.denied(req, denied, "/"),
        }
        let reply = if wants_html(req) {
            Reply::empty(303).with("location", "/".to_owned())
        } else {
            Reply::empty(204)
        };
        let reply = reply
            .with("set-cookie", self.config.cookie.clear())
            .with("clear-site-data", CLEAR_CACHE.to_owned());
        Decision {
            action: Action::Reply(reply),
            log,
        }
    }

    /// The current user's own sessions (ASVS V3.3.4): `GET /.sessiongate/sessions`
    /// lists them; `DELETE /.sessiongate/sessions/<sid>` ends one.
    async fn own_sessions(
        &self,
        req: &Inbound<'_>,
        url: &RequestUrl<'_>,
        sid: Option<&str>,
    ) -> Decision {
        let listing = sid.is_none();
        let allowed = if listing {
            matches!(req.method, "GET" | "HEAD")
        } else {
            req.method == "DELETE"
        };
        if !allowed {
            return Decision::reply(
                method_not_allowed(if listing { "GET, HEAD" } else { "DELETE" }),
                "endpoint",
                None,
            );
        }
        if !listing && is_cross_site(req, url.origin) {
            return Decision::reply(forbidden("cross_site"), "reject", Some("cross_site"));
        }
        let auth = match self.authenticate(req).await {
            Ok(auth) => auth,
            Err(denied) => return self.denied(req, denied, &path_and_query(url.path, url.query)),
        };
        let uid = &auth.record.uid;
        let sessions = match self.sessions_of(uid).await {
            Ok(sessions) => sessions,
            Err(e) => return unavailable(e),
        };
        let mut log = Log {
            decision: "endpoint",
            sid: Some(auth.hash.sid()),
            ..Log::default()
        };
        let Some(sid) = sid else {
            let body =
                json!({ "uid": uid, "sessions": sessions_json(&sessions, Some(&auth.hash)) });
            return Decision {
                action: Action::Reply(Reply::json(200, body)),
                log,
            };
        };
        let Some((hash, _)) = sessions.iter().find(|(hash, _)| hash.sid() == sid) else {
            return Decision {
                action: Action::Reply(Reply::error(404, "not_found")),
                log,
            };
        };
        if let Err(e) = self.end(hash, uid).await {
            return unavailable(e);
        }
        log.event = Some("revoke");
        let mut reply = Reply::empty(204);
        if *hash == auth.hash {
            reply = reply.with("set-cookie", self.config.cookie.clear());
        }
        Decision {
            action: Action::Reply(reply),
            log,
        }
    }

    /// A user's live sessions, from the index alone: no record is read.
    async fn sessions_of(&self, uid: &str) -> Result<Vec<(IdHash, IndexMetadata)>, StoreError> {
        let now = self.clock.now();
        let listed = self.store.list(&session::index_prefix(uid)).await?;
        Ok(listed
            .iter()
            .filter_map(|entry| {
                let hash = session::hash_in_index_key(uid, &entry.name)?;
                let meta: IndexMetadata = serde_json::from_str(entry.metadata.as_deref()?).ok()?;
                (meta.abs_exp > now).then_some((hash, meta))
            })
            .collect())
    }

    /// The admin API: list (`GET`) or revoke (`DELETE`) a user's sessions.
    async fn admin(&self, req: &Inbound<'_>, uid: &str) -> Decision {
        let admin =
            |reply: Reply, reason: Option<&'static str>| Decision::reply(reply, "endpoint", reason);
        let Some(expected) = &self.config.admin_token else {
            return admin(Reply::error(404, "not_found"), Some("admin_disabled"));
        };
        let Some(presented) = req.authorization.and_then(bearer) else {
            let reply = Reply::json(
                401,
                json!({ "error": "unauthenticated", "reason": "missing" }),
            )
            .with("www-authenticate", "Bearer".to_owned());
            return admin(reply, Some("admin_missing"));
        };
        if let Some(retry_after) = self.throttled(req) {
            return self.denied(req, Denied::Throttled(retry_after), "/");
        }
        if !expected.matches(presented) {
            self.count_failure(req);
            return admin(forbidden("bad_token"), Some("admin_bad_token"));
        }
        match req.method {
            "GET" | "HEAD" => match self.sessions_of(uid).await {
                Ok(sessions) => {
                    let sessions = sessions_json(&sessions, None);
                    admin(
                        Reply::json(200, json!({ "uid": uid, "sessions": sessions })),
                        None,
                    )
                }
                Err(e) => unavailable(e),
            },
            "DELETE" => match self.end_all(uid).await {
                Ok(revoked) => {
                    let mut decision = admin(
                        Reply::json(200, json!({ "uid": uid, "revoked": revoked })),
                        None,
                    );
                    decision.log.event = Some("revoke_all");
                    decision
                }
                Err(e) => unavailable(e),
            },
            _ => admin(method_not_allowed("GET, HEAD, DELETE"), None),
        }
    }

    /// Applies the origin's directives (DESIGN §6) once its response is in.
    pub async fn after_origin(
        &self,
        after: &After,
        directives: Directives<'_>,
        log: &mut Log,
    ) -> Completion {
        let mut edits = after.restamp.clone().map_or_else(Edits::default, |cookie| {
            Edits::session_cookie(cookie, false)
        });
        if let Some(scope) = directives.logout {
            // Anything but `all` ends the current session: a mistyped
            // directive should err towards logging out.
            let all = scope.trim().eq_ignore_ascii_case("all");
            log.event = Some(if all { "logout_all" } else { "logout" });
            if let Some(current) = &after.session {
                let ended = if all {
                    self.end_all(&current.uid).await.map(drop)
                } else {
                    self.end(&current.hash, &current.uid).await
                };
                if let Err(e) = ended {
                    return store_failed(e, log, self.config.cookie.clear());
                }
            }
            edits = Edits::session_cookie(self.config.cookie.clear(), true);
        }
        if let Some(token) = directives.login {
            let now = self.clock.now();
            match handoff::verify(&self.config.handoff_key, token, now) {
                Err(e) => {
                    log.event = Some("login_rejected");
                    log.detail = Some(e.as_str().to_owned());
                }
                Ok(handoff) => match self.login(after, handoff).await {
                    Ok((cookie, hash)) => {
                        log.event = Some("login");
                        log.sid = Some(hash.sid());
                        edits = Edits::session_cookie(cookie, false);
                    }
                    Err(e) => return store_failed(e, log, self.config.cookie.clear()),
                },
            }
        }
        Completion::Pass(edits)
    }

    /// Ends the session the request came with (no fixation), then starts a
    /// new one. Returns its cookie and hash.
    async fn login(&self, after: &After, handoff: Handoff) -> Result<(String, IdHash), StoreError> {
        let now = self.clock.now();
        if let Some(current) = &after.session {
            self.end(&current.hash, &current.uid).await?;
        } else if let Some(raw) = &after.presented {
            // Only a token with a valid tag names a session worth a read.
            if let Ok(token) = self.config.session_keys.verify(raw, now) {
                let hash = token.id().hash();
                if let Some(stored) = self.store.get(&session::record_key(&hash)).await? {
                    match Record::from_json(&stored) {
                        Ok(old) => self.end(&hash, &old.uid).await?,
                        Err(_) => self.store.delete(&session::record_key(&hash)).await?,
                    }
                }
            }
        }
        let id = SessionId::generate().map_err(|e| StoreError(format!("no randomness: {e}")))?;
        let hash = id.hash();
        let policy = &self.config.policy;
        let record = policy.start(handoff.uid, handoff.claims, now);
        let ttl = policy.ttl(&record, now);
        self.store
            .put(&session::record_key(&hash), &record.to_json(), None, ttl)
            .await?;
        let indexed = self
            .store
            .put(
                &session::index_key(&record.uid, &hash),
                "",
                Some(&record.index_metadata()),
                ttl,
            )
            .await;
        if let Err(e) = indexed {
            // Without its index entry, "log out everywhere" would miss it.
            let _ = self.store.delete(&session::record_key(&hash)).await;
            return Err(e);
        }
        let token = self.config.session_keys.mint(&id, now);
        Ok((self.config.cookie.set(&token, record.abs_exp - now), hash))
    }

    /// Deletes one session and its index entry.
    async fn end(&self, hash: &IdHash, uid: &str) -> Result<(), StoreError> {
        self.store.delete(&session::record_key(hash)).await?;
        self.store.delete(&session::index_key(uid, hash)).await
    }

    /// Deletes every session of `uid`; returns how many.
    async fn end_all(&self, uid: &str) -> Result<usize, StoreError> {
        let listed = self.store.list(&session::index_prefix(uid)).await?;
        let mut ended = 0;
        for hash in listed
            .iter()
            .filter_map(|entry| session::hash_in_index_key(uid, &entry.name))
        {
            self.end(&hash, uid).await?;
            ended += 1;
        }
        Ok(ended)
    }
}

/// Sessions as the session listings show them; `current` marks the
/// requester's own when it is known.
fn sessions_json(
    sessions: &[(IdHash, IndexMetadata)],
    current: Option<&IdHash>,
) -> Vec<serde_json::Value> {
    sessions
        .iter()
        .map(|(hash, meta)| {
            let mut session =
                json!({ "sid": hash.sid(), "iat": meta.iat, "abs_exp": meta.abs_exp });
            if let Some(current) = current {
                session["current"] = (hash == current).into();
            }
            session
        })
        .collect()
}

fn bad_request(reason: &str) -> Reply {
    Reply::json(400, json!({ "error": "bad_request", "reason": reason }))
}

fn forbidden(reason: &str) -> Reply {
    Reply::json(403, json!({ "error": "forbidden", "reason": reason }))
}

fn method_not_allowed(allow: &str) -> Reply {
    Reply::error(405, "method_not_allowed").with("allow", allow.to_owned())
}

fn unavailable(e: StoreError) -> Decision {
    Decision {
        action: Action::Reply(Reply::error(503, "session_store_unavailable")),
        log: Log {
            decision: "error",
            reason: Some("store_unavailable"),
            detail: Some(e.to_string()),
            ..Log::default()
        },
    }
}

fn store_failed(e: StoreError, log: &mut Log, clear: String) -> Completion {
    log.decision = "error";
    log.reason = Some("store_unavailable");
    log.detail = Some(e.to_string());
    Completion::Replace(Reply::error(503, "session_store_unavailable").with("set-cookie", clear))
}
