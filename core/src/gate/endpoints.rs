//! DESIGN §6: the edge's own endpoints under `/.sessiongate/`, answered at
//! the edge and never forwarded. Unsafe methods are refused cross-site.

use serde_json::json;

use super::authenticate::{Authenticated, Denial, Denied, Purpose, Scope};
use super::reply::{self, Log, Reply, CLEAR_CACHE};
use super::request::{path_and_query, Inbound, RequestUrl};
use super::sessions::{Ending, Listing};
use super::{
    page, AfterEnding, AfterListing, Exchange, Gate, Op, Outcome, State, Step, HEALTH_KEY,
};
use crate::routes::Endpoint;
use crate::session::IndexMetadata;
use crate::token::IdHash;

impl Exchange {
    pub(super) fn endpoint(
        &mut self,
        gate: Gate<'_>,
        endpoint: Endpoint,
        req: &Inbound<'_>,
        url: &RequestUrl<'_>,
    ) -> Step {
        self.log = Log::new("endpoint", None);
        let reads = matches!(req.method, "GET" | "HEAD");
        let here = || Denial::new(req, path_and_query(url.path, url.query));
        match endpoint {
            Endpoint::Logout => self.logout(gate, req, url),
            Endpoint::Session if reads => self.authenticate(gate, req, Purpose::Session, here()),
            Endpoint::Health if reads => {
                self.wait(State::Health, vec![Op::get(HEALTH_KEY.to_owned())])
            }
            Endpoint::Jwks if reads => self.key_set(gate),
            Endpoint::Session | Endpoint::Health | Endpoint::Jwks => {
                self.finish(reply::method_not_allowed("GET, HEAD"))
            }
            Endpoint::OwnSessions if !reads => self.finish(reply::method_not_allowed("GET, HEAD")),
            Endpoint::OwnSessions => {
                // A browser asking for a page gets the page; anything else JSON.
                let purpose = Purpose::OwnSessions {
                    sid: None,
                    browser: req.wants_html(),
                };
                self.authenticate(gate, req, purpose, here())
            }
            Endpoint::OwnSession(_) if !matches!(req.method, "DELETE" | "POST") => {
                self.finish(reply::method_not_allowed("DELETE, POST"))
            }
            Endpoint::OwnSession(_) if req.is_cross_site(url.origin) => {
                self.reject(reply::forbidden("cross_site"), "cross_site")
            }
            Endpoint::OwnSession(sid) => {
                // POST is the sessions page's form; DELETE the API's.
                let purpose = Purpose::OwnSessions {
                    sid: Some(sid),
                    browser: req.method == "POST",
                };
                self.authenticate(gate, req, purpose, here())
            }
            Endpoint::UserSessions(uid) => self.admin(gate, req, uid),
            Endpoint::DeviceRegister | Endpoint::DeviceRefresh
                if !req.is_safe_method() && req.is_cross_site(url.origin) =>
            {
                self.reject(reply::forbidden("cross_site"), "cross_site")
            }
            Endpoint::DeviceRegister | Endpoint::DeviceRefresh => {
                self.device_endpoint(gate, endpoint, req)
            }
            Endpoint::OidcStart
            | Endpoint::OidcCallback
            | Endpoint::OidcBackchannel
            | Endpoint::OidcEndSession => self.oidc_endpoint(gate, endpoint, req, url),
            Endpoint::Sso => self.sso(gate, req, url),
            Endpoint::SsoCode => self.exchange_sso_code(gate, req, url),
            Endpoint::NotFound => self.finish(Reply::error(404, "not_found")),
        }
    }

    /// `POST /.sessiongate/logout[?scope=all]`: idempotent; the cookie is
    /// cleared whether or not a session was found.
    fn logout(&mut self, gate: Gate<'_>, req: &Inbound<'_>, url: &RequestUrl<'_>) -> Step {
        if req.method != "POST" {
            return self.finish(reply::method_not_allowed("POST"));
        }
        if req.is_cross_site(url.origin) {
            return self.reject(reply::forbidden("cross_site"), "cross_site");
        }
        let (scope, event) = match url.query_param("scope") {
            Some("all") => (Scope::All, "logout_all"),
            Some("app") => (Scope::App, "logout_app"),
            _ => (Scope::Current, "logout"),
        };
        self.log.event = Some(event);
        let reply = if req.wants_html() {
            // Signed in at a provider: signed out there too, if it offers it.
            let next = match gate.config.oidc {
                Some(_) => crate::oidc::END_SESSION_PATH,
                None => "/",
            };
            Reply::empty(303).with("location", next.to_owned())
        } else {
            Reply::empty(204)
        };
        let mut reply = reply
            .with("set-cookie", gate.config.cookie.clear())
            .with("clear-site-data", CLEAR_CACHE.to_owned());
        if let Some(clear) = gate.bound_cookie_clear() {
            reply = reply.with("set-cookie", clear);
        }
        let denial = Denial::new(req, "/".to_owned());
        let purpose = Purpose::Logout {
            scope,
            reply,
            browser: req.wants_html(),
        };
        self.authenticate(gate, req, purpose, denial)
    }

    /// `GET /.sessiongate/session`.
    pub(super) fn describe_session(&mut self, gate: Gate<'_>, auth: Authenticated) -> Step {
        let stamp = if auth.restamp.is_some() {
            self.now
        } else {
            auth.token.stamp()
        };
        let body = json!({
            "uid": auth.record.uid,
            "claims": auth.record.claims,
            "email": auth.record.email,
            "groups": auth.record.groups,
            "auth_time": auth.record.auth_time(),
            "iat": auth.record.iat,
            "abs_exp": auth.record.abs_exp,
            "idle_exp": gate.config.lifetimes.idle_deadline(stamp),
            "device_bound": auth.record.device_key.is_some(),
        });
        let mut reply = Reply::json(200, body);
        if let Some(cookie) = auth.restamp {
            reply = reply.with("set-cookie", cookie);
        }
        self.finish(reply)
    }

    /// The health check: KV answers, which revocation is in force, and how
    /// long a record read is kept (DESIGN §14; 0 when off).
    pub(super) fn on_health(&mut self, gate: Gate<'_>, outcomes: Vec<Outcome>) -> Step {
        let revocation = if gate.config.ledger {
            json!({ "mode": "ledger", "staleness_s": gate.config.revocation_staleness })
        } else {
            json!({ "mode": "kv" })
        };
        let record_cache_s = gate.config.record_cache_s;
        match Outcome::read(outcomes) {
            Ok(_) => self.finish(Reply::json(
                200,
                json!({
                    "status": "ok",
                    "revocation": revocation,
                    "record_cache_s": record_cache_s,
                    "in_flight": gate.in_flight,
                }),
            )),
            Err(e) => self.unavailable(e),
        }
    }

    /// The admin API: list (`GET`) or revoke (`DELETE`) a user's sessions.
    fn admin(&mut self, gate: Gate<'_>, req: &Inbound<'_>, uid: String) -> Step {
        let Some(expected) = &gate.config.admin_token else {
            self.log.reason = Some("admin_disabled");
            return self.finish(Reply::error(404, "not_found"));
        };
        let Some(presented) = req.bearer() else {
            self.log.reason = Some("admin_missing");
            let reply = Reply::json(
                401,
                json!({ "error": "unauthenticated", "reason": "missing" }),
            )
            .with("www-authenticate", "Bearer".to_owned());
            return self.finish(reply);
        };
        if let Some(retry_after) = gate.throttled(req, self.now) {
            let denial = Denial::new(req, "/".to_owned());
            return self.deny(gate, &denial, Denied::Throttled(retry_after));
        }
        if !expected.matches(presented) {
            gate.count_failure(req.client, self.now);
            self.log.reason = Some("admin_bad_token");
            return self.finish(reply::forbidden("bad_token"));
        }
        match req.method {
            "GET" | "HEAD" => {
                let (listing, read) = Listing::start(&uid);
                self.wait(
                    State::Listing(listing, AfterListing::Admin { uid }),
                    vec![read],
                )
            }
            "DELETE" => self.end_sessions(gate, Ending::all(&uid), AfterEnding::Revoked { uid }),
            _ => self.finish(reply::method_not_allowed("GET, HEAD, DELETE")),
        }
    }

    /// A user's sessions are listed: answer, or end the one asked for.
    pub(super) fn listed(&mut self, gate: Gate<'_>, listing: Listing, then: AfterListing) -> Step {
        let mut sessions = listing.live(self.now);
        sessions.sort_by_key(|(_, meta)| std::cmp::Reverse(meta.iat));
        let (current, uid, sid, auth_time, browser) = match then {
            AfterListing::Admin { uid } => {
                let body = json!({ "uid": uid, "sessions": sessions_json(&sessions, None) });
                return self.finish(Reply::json(200, body));
            }
            AfterListing::Own {
                current,
                uid,
                sid,
                auth_time,
                browser,
            } => (current, uid, sid, auth_time, browser),
        };
        let Some(sid) = sid else {
            if browser {
                return self.finish(page::sessions(&sessions, &current));
            }
            let body = json!({ "uid": uid, "sessions": sessions_json(&sessions, Some(&current)) });
            return self.finish(Reply::json(200, body));
        };
        let back = || Reply::empty(303).with("location", page::PATH.to_owned());
        let Some((hash, _)) = sessions.iter().find(|(hash, _)| hash.sid() == sid) else {
            return self.finish(if browser {
                back()
            } else {
                Reply::error(404, "not_found")
            });
        };
        // A sign-in ends with the apps' sessions it started (DESIGN §16).
        let mut ended = vec![*hash];
        ended.extend(super::sessions::started_by(
            &sessions,
            std::slice::from_ref(hash),
        ));
        let ends_current = ended.contains(&current);
        if !ends_current && self.needs_reauthentication(gate, auth_time) {
            return self.reauthenticate(gate, browser);
        }
        self.log.event = Some("revoke");
        let mut reply = match (browser, ends_current) {
            (true, true) => Reply::empty(303).with("location", "/".to_owned()),
            (true, false) => back(),
            (false, _) => Reply::empty(204),
        };
        if ends_current {
            reply = reply.with("set-cookie", gate.config.cookie.clear());
            if let Some(clear) = gate.bound_cookie_clear() {
                reply = reply.with("set-cookie", clear);
            }
        }
        self.end_sessions(gate, Ending::many(&uid, &ended), AfterEnding::Reply(reply))
    }

    /// DESIGN §6: ending the user's other sessions follows a recent login
    /// (`REAUTH_AFTER`), so a stolen session cannot shut its owner out.
    pub(super) fn needs_reauthentication(&self, gate: Gate<'_>, auth_time: u64) -> bool {
        gate.config
            .reauth_after
            .is_some_and(|max| self.now.saturating_sub(auth_time) >= max)
    }

    /// Sends a browser to log in again (and back to its sessions), or
    /// refuses an API client. The login is asked for a `max_age` of
    /// `REAUTH_AFTER`: without it, an identity provider's single sign-on
    /// could hand back the same old `auth_time`, and send the user round
    /// again.
    pub(super) fn reauthenticate(&mut self, gate: Gate<'_>, browser: bool) -> Step {
        self.log.refuse("reauthentication_required");
        let reply = if browser {
            self.sign_in(gate, page::PATH, gate.config.reauth_after)
        } else {
            reply::forbidden("reauthentication_required")
        };
        self.finish(reply)
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
            let mut session = json!({
                "sid": hash.sid(),
                "iat": meta.iat,
                "abs_exp": meta.abs_exp,
                "device": meta.device,
                "device_bound": meta.device_bound,
            });
            // With APPS: an app's session names its app and its sign-in.
            if let (Some(app), Some(signin)) = (&meta.app, &meta.signin) {
                session["app"] = app.as_str().into();
                let signin: Option<IdHash> = signin.parse().ok();
                session["signin"] = signin.map(|s| s.sid()).into();
            }
            if let Some(current) = current {
                session["current"] = (hash == current).into();
            }
            session
        })
        .collect()
}
