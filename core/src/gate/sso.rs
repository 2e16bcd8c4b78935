//! DESIGN §16: one sign-in for every app. A browser without an app's
//! session is sent to `AUTH_HOST`'s `/.sessiongate/sso`, with a nonce
//! cookie set on the app's host first; with a live sign-in there it comes
//! straight back with a one-time code (`crate::apps::code`), which the
//! app's host exchanges at `/.sessiongate/sso/code` for a session of its
//! own. Without a sign-in, it signs in first and then goes on.

use super::authenticate::{Authenticated, Denial, Purpose};
use super::origin::{AppSession, Login, LoginEnd};
use super::reply::{self, Reply};
use super::request::{Inbound, RequestUrl};
use super::sessions;
use super::{Exchange, Gate, Op, Outcome, State, Step};
use crate::apps::code::{self, CodeError, CodeRecord, CODE_LIFETIME, CODE_VERSION};
use crate::apps::Target;
use crate::cookie::{self, Presented};
use crate::oidc::state::parse_max_age;
use crate::routes;
use crate::session::{Identity, Record};
use crate::token::{IdHash, SessionId};

/// `AUTH_HOST`'s end of the redirect.
pub const SSO_PATH: &str = "/.sessiongate/sso";
/// An app host's end: where it exchanges a code.
pub const CODE_PATH: &str = "/.sessiongate/sso/code";
/// How long the nonce cookie lives: a sign-in on the way may take a
/// while (a password, a second factor).
const NONCE_MAX_AGE: u64 = 600;

/// An app's host, where a browser may have to be sent to `AUTH_HOST`.
#[derive(Debug)]
pub(super) struct Away {
    /// `host[:port]` of this request.
    authority: String,
    nonce: Option<SessionId>,
}

/// What `/.sessiongate/sso` was asked for, once the sign-in checks out.
#[derive(Debug)]
pub(super) struct SsoRequest {
    target: Target,
    /// The nonce's hash, from the app's host.
    binding: String,
    /// A step-up: the sign-in's login at most this old.
    max_age: Option<u64>,
    /// This request's own path and query: where a login comes back to.
    here: String,
}

/// A code on its way to KV, and where the browser goes once it is there.
#[derive(Debug)]
pub(super) struct Issued {
    location: String,
    restamp: Option<String>,
}

/// A code being exchanged at an app's host.
#[derive(Debug)]
pub(super) struct Exchanging {
    code: SessionId,
    nonce: Option<SessionId>,
    /// `host[:port]`, where the code must have been made for.
    authority: String,
    /// The session cookie the browser came with: that session ends.
    presented: Option<String>,
    user_agent: Option<String>,
    /// Once the code checked out, the sign-in's record is read.
    checked: Option<CodeRecord>,
}

impl Exchange {
    /// What an app's host needs to send a browser to `AUTH_HOST`: its
    /// `host[:port]`, and the nonce cookie it came with, if any.
    pub(super) fn away_from_auth_host(
        gate: Gate<'_>,
        req: &Inbound<'_>,
        authority: &str,
    ) -> Option<Box<Away>> {
        let nonce_cookie = gate.config.apps.nonce_cookie()?;
        // One browser, one nonce: a second tab going round reuses it.
        let nonce = match req.cookie.map(|h| cookie::find(h, nonce_cookie.name())) {
            Some(Presented::One(value)) => value.parse::<SessionId>().ok(),
            _ => None,
        };
        Some(Box::new(Away {
            authority: authority.to_owned(),
            nonce,
        }))
    }

    /// Where a browser without this app's session goes, when it has to
    /// (re)authenticate (`max_age`) to reach `return_to`: `AUTH_HOST`,
    /// with a nonce cookie the code will be bound to. `None` at a site
    /// that signs in itself.
    pub(super) fn via_auth_host(
        &self,
        gate: Gate<'_>,
        return_to: &str,
        max_age: Option<u64>,
    ) -> Option<Reply> {
        let apps = &gate.config.apps;
        let away = self.away.as_deref()?;
        let (auth_host, nonce_cookie) = (apps.auth_host()?, apps.nonce_cookie()?);
        let port = &away.authority[crate::apps::hostname(&away.authority).len()..];
        let nonce = match &away.nonce {
            Some(nonce) => nonce.clone(),
            None => SessionId::generate().ok()?,
        };
        // Without a scheme: the browser keeps its own (`Target`).
        let here = format!("//{}{return_to}", away.authority);
        let mut location = format!(
            "//{auth_host}{port}{SSO_PATH}?return_to={}&binding={}",
            routes::percent_encode(&here),
            code::binding(&nonce),
        );
        if let Some(max_age) = max_age {
            location.push_str(&format!("&max_age={max_age}"));
        }
        Some(
            Reply::empty(303)
                .with("location", location)
                .with(
                    "set-cookie",
                    nonce_cookie.set(&nonce.to_string(), NONCE_MAX_AGE),
                )
                .with("referrer-policy", "no-referrer".to_owned()),
        )
    }

    /// `GET /.sessiongate/sso` at `AUTH_HOST`: a code for the app the
    /// browser came from, once the sign-in checks out.
    pub(super) fn sso(&mut self, gate: Gate<'_>, req: &Inbound<'_>, url: &RequestUrl<'_>) -> Step {
        if !self.site.auth_host {
            return self.finish(Reply::error(404, "not_found"));
        }
        if !matches!(req.method, "GET" | "HEAD") {
            return self.finish(reply::method_not_allowed("GET, HEAD"));
        }
        self.log.event = Some("sso");
        let param = |name| url.query_param(name).and_then(routes::percent_decode);
        let Some(target) =
            param("return_to").and_then(|r| Target::parse(&gate.config.apps, &r, url.authority()))
        else {
            return self.reject(reply::bad_request("sso_bad_return_to"), "sso_bad_return_to");
        };
        let Some(binding) = param("binding").filter(|b| b.parse::<IdHash>().is_ok()) else {
            return self.reject(reply::bad_request("sso_bad_binding"), "sso_bad_binding");
        };
        let max_age = match param("max_age") {
            None => None,
            Some(v) => match parse_max_age(&v) {
                Some(max_age) => Some(max_age),
                None => {
                    return self.reject(reply::bad_request("max_age_invalid"), "max_age_invalid")
                }
            },
        };
        let here = super::request::path_and_query(url.path, url.query);
        // Without a sign-in: to the login, and back here.
        let denial = Denial {
            navigation: true,
            return_to: here.clone(),
        };
        let request = SsoRequest {
            target,
            binding,
            max_age,
            here,
        };
        self.authenticate(gate, req, Purpose::Sso(Box::new(request)), denial)
    }

    /// The sign-in checked out: a step-up it is too old for logs in
    /// again; otherwise a code, stored, and back to the app.
    pub(super) fn issue_code(
        &mut self,
        gate: Gate<'_>,
        auth: Authenticated,
        request: SsoRequest,
    ) -> Step {
        let SsoRequest {
            target,
            binding,
            max_age,
            here,
        } = request;
        if let Some(max_age) = max_age {
            if self.now.saturating_sub(auth.record.auth_time()) > max_age {
                self.log.reason = Some("step_up");
                // AUTH_HOST is where people sign in: straight to the login.
                return self.finish(self.sign_in(gate, &here, Some(max_age)));
            }
        }
        let code = match SessionId::generate() {
            Ok(code) => code,
            Err(e) => return self.no_randomness(e),
        };
        let app = gate.config.apps.get(target.app);
        let record = CodeRecord {
            v: CODE_VERSION,
            app: app.name.clone(),
            authority: target.authority.clone(),
            path: target.path,
            binding,
            signin: auth.hash.to_string(),
            uid: auth.record.uid,
            exp: self.now + CODE_LIFETIME,
        };
        let put = Op::Put {
            key: code::key(&code),
            value: record.to_text(),
            metadata: None,
            ttl: CODE_LIFETIME,
        };
        let issued = Issued {
            location: format!("//{}{CODE_PATH}?code={code}", target.authority),
            restamp: auth.restamp,
        };
        self.wait(State::CodeIssued(Box::new(issued)), vec![put])
    }

    pub(super) fn on_code_issued(&mut self, issued: Issued, outcomes: Vec<Outcome>) -> Step {
        if let Some(e) = outcomes.into_iter().find_map(sessions::failure) {
            return self.unavailable(e);
        }
        let mut reply = Reply::empty(303)
            .with("location", issued.location)
            .with("referrer-policy", "no-referrer".to_owned());
        if let Some(cookie) = issued.restamp {
            reply = reply.with("set-cookie", cookie);
        }
        self.finish(reply)
    }

    /// `GET /.sessiongate/sso/code` at an app's host: the code's record.
    pub(super) fn exchange_sso_code(
        &mut self,
        gate: Gate<'_>,
        req: &Inbound<'_>,
        url: &RequestUrl<'_>,
    ) -> Step {
        if self.site.app_session(&gate.config.apps).is_none() {
            return self.finish(Reply::error(404, "not_found"));
        }
        if !matches!(req.method, "GET" | "HEAD") {
            return self.finish(reply::method_not_allowed("GET, HEAD"));
        }
        self.log.event = Some("sso_code");
        let Some(code) = url
            .query_param("code")
            .and_then(|c| c.parse::<SessionId>().ok())
        else {
            return self.code_refused(CodeError::Unknown);
        };
        let find = |name: &str| match req.cookie.map(|h| cookie::find(h, name)) {
            Some(Presented::One(value)) => Some(value),
            _ => None,
        };
        let nonce = gate
            .config
            .apps
            .nonce_cookie()
            .and_then(|c| find(c.name()))
            .and_then(|n| n.parse().ok());
        let read = Op::get(code::key(&code));
        let exchanging = Exchanging {
            code,
            nonce,
            authority: url.authority().to_owned(),
            presented: find(gate.config.cookie.name()).map(str::to_owned),
            user_agent: req.user_agent.map(str::to_owned),
            checked: None,
        };
        self.wait(State::Code(Box::new(exchanging)), vec![read])
    }

    /// The code's record, then the sign-in's: checked, the code used up,
    /// then the app's session is written.
    pub(super) fn on_code(
        &mut self,
        gate: Gate<'_>,
        mut exchanging: Exchanging,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let Some(app) = self.app(gate) else {
            return self.finish(Reply::error(404, "not_found"));
        };
        let Some(record) = exchanging.checked.take() else {
            let stored = match Outcome::read(outcomes) {
                Ok(Some(stored)) => stored,
                Ok(None) => return self.code_refused(CodeError::Unknown),
                Err(e) => return self.unavailable(e),
            };
            let checked = CodeRecord::check(
                &stored,
                &app.name,
                &exchanging.authority,
                exchanging.nonce.as_ref(),
                self.now,
            );
            let record = match checked {
                Ok(record) => record,
                Err(e) => return self.code_refused(e),
            };
            // Used once: in this isolate at once, in KV by the delete.
            let key = code::key(&exchanging.code);
            if gate.spent.spend(&key, record.exp, self.now).is_err() {
                return self.code_refused(CodeError::Unknown);
            }
            let Some(signin) = record.signin() else {
                return self.code_refused(CodeError::Unknown);
            };
            let ops = vec![
                Op::delete(key),
                Op::get(crate::session::record_key(&signin)),
            ];
            exchanging.checked = Some(record);
            return self.wait(State::Code(Box::new(exchanging)), ops);
        };
        // The delete must have landed: a code is used once.
        let mut outcomes = outcomes.into_iter();
        if let Some(e) = outcomes.next().and_then(sessions::failure) {
            return self.unavailable(e);
        }
        let signin = match Outcome::read(outcomes.collect()) {
            Ok(stored) => stored.and_then(|s| Record::from_json(&s).ok()),
            Err(e) => return self.unavailable(e),
        };
        let live =
            signin.filter(|s| s.uid == record.uid && s.app.is_none() && !s.is_expired(self.now));
        let (Some(signin), Some(hash)) = (live, record.signin()) else {
            return self.code_refused(CodeError::SigninEnded);
        };
        self.log.sid = Some(hash.sid());
        let identity = Identity {
            email: signin.email.clone(),
            groups: signin.groups.clone(),
            claims: signin.claims.clone(),
            ..Identity::new(signin.uid.clone(), signin.auth_time())
        };
        let clear_nonce = gate.config.apps.nonce_cookie().map(|c| c.clear());
        let then = LoginEnd::Redirect {
            location: record.path,
            set_cookies: clear_nonce.into_iter().collect(),
        };
        let session = AppSession {
            app: app.name.clone(),
            signin: hash,
            until: signin.abs_exp,
            lifetime: app.lifetime,
        };
        let login = Login::new(identity, exchanging.user_agent.as_deref(), then).for_app(session);
        self.begin_login(gate, login, exchanging.presented)
    }

    /// A code that will not do: `400`, nothing written, and the app's
    /// nonce cookie kept for the next round.
    fn code_refused(&mut self, e: CodeError) -> Step {
        let reply = Reply::json(
            400,
            serde_json::json!({ "error": "invalid_code", "reason": e.as_str() }),
        );
        self.reject(reply, e.as_str())
    }
}
