//! DESIGN §6: the edge's own endpoints under `/.sessiongate/`, answered at
//! the edge and never forwarded. Unsafe methods are refused cross-site.

use serde_json::json;

use super::authenticate::{Authenticated, Denial, Denied, Purpose};
use super::reply::{self, Log, Reply, CLEAR_CACHE};
use super::request::{path_and_query, Inbound, RequestUrl};
use super::sessions::{Ending, Listing};
use super::{AfterEnding, AfterListing, Exchange, Gate, Op, Outcome, State, Step, HEALTH_KEY};
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
            Endpoint::Session | Endpoint::Health => {
                self.finish(reply::method_not_allowed("GET, HEAD"))
            }
            Endpoint::OwnSessions if !reads => self.finish(reply::method_not_allowed("GET, HEAD")),
            Endpoint::OwnSessions => {
                self.authenticate(gate, req, Purpose::OwnSessions { sid: None }, here())
            }
            Endpoint::OwnSession(_) if req.method != "DELETE" => {
                self.finish(reply::method_not_allowed("DELETE"))
            }
            Endpoint::OwnSession(_) if req.is_cross_site(url.origin) => {
                self.reject(reply::forbidden("cross_site"), "cross_site")
            }
            Endpoint::OwnSession(sid) => {
                self.authenticate(gate, req, Purpose::OwnSessions { sid: Some(sid) }, here())
            }
            Endpoint::UserSessions(uid) => self.admin(gate, req, uid),
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
        let all = url.query_param("scope") == Some("all");
        self.log.event = Some(if all { "logout_all" } else { "logout" });
        let reply = if req.wants_html() {
            Reply::empty(303).with("location", "/".to_owned())
        } else {
            Reply::empty(204)
        };
        let reply = reply
            .with("set-cookie", gate.config.cookie.clear())
            .with("clear-site-data", CLEAR_CACHE.to_owned());
        let denial = Denial::new(req, "/".to_owned());
        self.authenticate(gate, req, Purpose::Logout { all, reply }, denial)
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
            "iat": auth.record.iat,
            "abs_exp": auth.record.abs_exp,
            "idle_exp": gate.config.policy.idle_deadline(stamp),
        });
        let mut reply = Reply::json(200, body);
        if let Some(cookie) = auth.restamp {
            reply = reply.with("set-cookie", cookie);
        }
        self.finish(reply)
    }

    pub(super) fn on_health(&mut self, outcomes: Vec<Outcome>) -> Step {
        match Outcome::read(outcomes) {
            Ok(_) => self.finish(Reply::json(200, json!({ "status": "ok" }))),
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
            gate.count_failure(req, self.now);
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
            "DELETE" => self.end_sessions(Ending::all(&uid), AfterEnding::Revoked { uid }),
            _ => self.finish(reply::method_not_allowed("GET, HEAD, DELETE")),
        }
    }

    /// A user's sessions are listed: answer, or end the one asked for.
    pub(super) fn listed(&mut self, gate: Gate<'_>, listing: Listing, then: AfterListing) -> Step {
        let sessions = listing.live(self.now);
        match then {
            AfterListing::Admin { uid } => {
                let body = json!({ "uid": uid, "sessions": sessions_json(&sessions, None) });
                self.finish(Reply::json(200, body))
            }
            AfterListing::Own {
                current,
                uid,
                sid: None,
            } => {
                let body =
                    json!({ "uid": uid, "sessions": sessions_json(&sessions, Some(&current)) });
                self.finish(Reply::json(200, body))
            }
            AfterListing::Own {
                current,
                uid,
                sid: Some(sid),
            } => {
                let Some((hash, _)) = sessions.iter().find(|(hash, _)| hash.sid() == sid) else {
                    return self.finish(Reply::error(404, "not_found"));
                };
                self.log.event = Some("revoke");
                let mut reply = Reply::empty(204);
                if *hash == current {
                    reply = reply.with("set-cookie", gate.config.cookie.clear());
                }
                self.end_sessions(Ending::one(hash, &uid), AfterEnding::Reply(reply))
            }
        }
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
