//! DESIGN §4.7, §5: forwarding to the origin. A public path goes as it is
//! (without the session cookie); a protected one once its session checks
//! out, with the assertion and the user header.

use super::authenticate::{Authenticated, Denial, Purpose};
use super::authorize::Refusal;
use super::origin::{After, Current};
use super::reply::{self, Log};
use super::request::{path_and_query, Inbound, RequestUrl};
use super::step::Sign;
use super::{CookieHeader, Exchange, Forward, Gate, State, Step, USER_HEADER, VERDICT_HEADER};
use crate::assertion::signing::Signed;
use crate::assertion::{self, AssertionClaims, Kind};
use crate::bearer::Client;
use crate::config::Enforcement;
use crate::cookie::{self, Presented};
use crate::routes;

/// A protected request's forward, waiting for its session to check out.
#[derive(Debug)]
pub(super) struct Pending {
    forward: Forward,
    method: String,
    /// The path and query as forwarded: the assertion's `htu`.
    path_and_query: String,
    /// The normalised path's length within `path_and_query`.
    path_len: usize,
    /// A browser navigating: refusals are pages and redirects, not JSON.
    navigation: bool,
    /// For a session a login handoff in the response starts.
    user_agent: Option<String>,
    /// A `POST`'s `Content-Type`: whether its body may hold a `_method`.
    content_type: Option<String>,
    /// The methods a `POST` overrides its own to, found in its query and
    /// body (DESIGN §13.2): judged as well as the method itself.
    overrides: Vec<String>,
}

impl Pending {
    /// The normalised path, without the query: what the policy matches.
    pub(super) fn path(&self) -> &str {
        &self.path_and_query[..self.path_len]
    }

    pub(super) fn method(&self) -> &str {
        &self.method
    }

    pub(super) fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    pub(super) fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    pub(super) fn overrides(&self) -> &[String] {
        &self.overrides
    }

    /// Takes in the methods the query's `_method` names.
    pub(super) fn read_query_overrides(&mut self) {
        let query = self.path_and_query[self.path_len..]
            .strip_prefix('?')
            .unwrap_or_default();
        let found: Vec<String> = crate::method_override::in_query(query).collect();
        self.add_overrides(found);
    }

    /// Takes in overriding methods, each once; `POST` itself is no override.
    pub(super) fn add_overrides(&mut self, methods: Vec<String>) {
        for method in methods {
            if method != self.method && !self.overrides.contains(&method) {
                self.overrides.push(method);
            }
        }
    }

    pub(super) fn is_navigation(&self) -> bool {
        self.navigation
    }
}

impl Exchange {
    pub(super) fn forward_public(
        &mut self,
        gate: Gate<'_>,
        req: &Inbound<'_>,
        path: &str,
        query: Option<&str>,
    ) -> Step {
        let config = gate.config;
        let app = self.served_app(gate);
        // With APPS the login page is AUTH_HOST's (`config::apps`).
        let at_login_host = !config.apps.is_multi() || self.site.auth_host;
        let is_login_page = at_login_host && config.login_url.same_origin_path() == Some(path);
        let query = match query {
            Some(q) if is_login_page => routes::sanitise_return_to(q),
            other => other.map(Into::into),
        };
        let presented = match req.cookie.map(|h| cookie::find(h, config.cookie.name())) {
            Some(Presented::One(token)) => Some(token.to_owned()),
            _ => None,
        };
        let forward = Forward {
            url: [
                app.origin_url.as_str(),
                &path_and_query(path, query.as_deref()),
            ]
            .concat(),
            remove: req.stripped(),
            headers: Vec::new(),
            cookie: cookie_without_session(gate, req.cookie),
            sign: None,
        };
        self.log = Log::new("forward", Some("public"));
        self.state = State::Origin(After {
            presented,
            user_agent: req.user_agent.map(str::to_owned),
            ..After::default()
        });
        Step::Forward(forward)
    }

    /// Refuses an unsafe cross-site request at once (no KV read), else
    /// authenticates it for forwarding.
    pub(super) fn forward_protected(
        &mut self,
        gate: Gate<'_>,
        req: &Inbound<'_>,
        path: &str,
        url: &RequestUrl<'_>,
    ) -> Step {
        // A machine client's token decides, not a cookie it may also send;
        // and a token, never sent by a browser on its own, needs no
        // cross-site check (DESIGN §15).
        let app = self.served_app(gate);
        let bearer = app.bearer.as_ref().filter(|_| req.bearer().is_some());
        let cross_site = bearer.is_none() && !req.is_safe_method() && req.is_cross_site(url.origin);
        if cross_site && gate.config.mode == Enforcement::Enforce {
            return self.reject(reply::forbidden("cross_site"), "cross_site");
        }
        let path_and_query = path_and_query(path, url.query);
        let pending = Pending {
            forward: Forward {
                url: [app.origin_url.as_str(), &path_and_query].concat(),
                remove: req.stripped(),
                headers: Vec::new(),
                cookie: cookie_without_session(gate, req.cookie),
                sign: None,
            },
            method: req.method.to_owned(),
            path_and_query: path_and_query.clone(),
            path_len: path.len(),
            navigation: req.is_navigation(),
            user_agent: req.user_agent.map(str::to_owned),
            content_type: (req.method == "POST")
                .then(|| req.content_type.map(str::to_owned))
                .flatten(),
            overrides: Vec::new(),
        };
        if let Some(bearer) = bearer {
            return self.forward_bearer(gate, bearer, req, pending);
        }
        if cross_site {
            return self.forward_denied(pending, "cross_site");
        }
        let denial = Denial::new(req, path_and_query);
        self.authenticate(gate, req, Purpose::Forward(pending), denial)
    }

    /// `MODE=report`: what enforce mode would refuse goes on to the origin,
    /// as it is, with the verdict and without any identity.
    pub(super) fn forward_denied(&mut self, pending: Pending, reason: &'static str) -> Step {
        let Pending {
            mut forward,
            user_agent,
            ..
        } = pending;
        forward.headers = vec![(VERDICT_HEADER, format!("deny; reason={reason}"))];
        self.log.refuse(reason);
        self.log.mode = Some("report");
        self.state = State::Origin(After {
            user_agent,
            ..After::default()
        });
        Step::Forward(forward)
    }

    /// Forwards with the assertion. `refusal`, in `MODE=report` only, is
    /// what the policy would have answered: the verdict says so.
    pub(super) fn forward_authenticated(
        &mut self,
        gate: Gate<'_>,
        pending: Pending,
        auth: Authenticated,
        refusal: Option<Refusal<'_>>,
    ) -> Step {
        let record = auth.record;
        let assertion = AssertionClaims {
            auth_time: record.auth_time(),
            device_bound: record.device_key.is_some(),
            claims: record.claims,
            email: record.email,
            groups: record.groups,
            ..self.assertion(gate, record.uid.clone(), auth.hash.sid())
        };
        let after = After {
            session: Some(Current {
                hash: auth.hash,
                uid: record.uid,
                signin: gate.config.apps.is_multi() && record.app.is_none(),
            }),
            restamp: auth.restamp,
            ..After::default()
        };
        self.forward_asserted(gate, pending, assertion, refusal, after)
    }

    /// [`forward_authenticated`](Self::forward_authenticated) for a
    /// machine client (DESIGN §15): its token's subject, client and scopes
    /// in the assertion, and the token itself not forwarded, unless in
    /// `MODE=report` the origin still checks it.
    pub(super) fn forward_client(
        &mut self,
        gate: Gate<'_>,
        mut pending: Pending,
        client: Client,
        refusal: Option<Refusal<'_>>,
    ) -> Step {
        if gate.config.mode == Enforcement::Enforce {
            pending.forward.remove.push("authorization".to_owned());
        }
        let assertion = AssertionClaims {
            auth_time: client.issued_at,
            kind: Kind::Bearer,
            client_id: Some(client.client_id),
            scope: Some(client.scope),
            ..self.assertion(gate, client.sub, client.sid)
        };
        self.forward_asserted(gate, pending, assertion, refusal, After::default())
    }

    /// An assertion for `sub` in session (or token) `sid` from now, for
    /// the request it is completed with in
    /// [`forward_asserted`](Self::forward_asserted).
    fn assertion(&self, gate: Gate<'_>, sub: String, sid: String) -> AssertionClaims {
        AssertionClaims {
            iss: assertion::ISSUER.to_owned(),
            aud: self.served_app(gate).audience.clone(),
            sub,
            sid,
            iat: self.now,
            exp: self.now + assertion::LIFETIME,
            auth_time: self.now,
            htm: String::new(),
            htu: String::new(),
            claims: Default::default(),
            email: None,
            groups: Vec::new(),
            device_bound: false,
            kind: Kind::Session,
            client_id: None,
            scope: None,
        }
    }

    fn forward_asserted(
        &mut self,
        gate: Gate<'_>,
        pending: Pending,
        mut assertion: AssertionClaims,
        refusal: Option<Refusal<'_>>,
        after: After,
    ) -> Step {
        let Pending {
            mut forward,
            method,
            path_and_query,
            user_agent,
            ..
        } = pending;
        assertion.htm = method;
        assertion.htu = path_and_query;
        let user = crate::user_header::encode(&assertion.sub).into_owned();
        forward.headers = match assertion.signed(&gate.config.assertion_signer) {
            Signed::Token(token) => vec![(assertion::HEADER, token)],
            // The driver signs with the first key (WebCrypto) and sets it.
            Signed::Input { kid, input } => {
                forward.sign = Some(Box::new(Sign {
                    header: assertion::HEADER,
                    kid,
                    input,
                }));
                Vec::new()
            }
        };
        forward.headers.push((USER_HEADER, user));
        self.log.decision = "forward";
        if gate.config.mode == Enforcement::Report {
            let verdict = match refusal {
                Some(Refusal { reason, rule }) => {
                    self.log.refuse(reason);
                    format!("deny; reason={reason}; rule={rule}")
                }
                None => "allow".to_owned(),
            };
            forward.headers.push((VERDICT_HEADER, verdict));
            self.log.mode = Some("report");
        }
        self.state = State::Origin(After {
            user_agent,
            ..after
        });
        Step::Forward(forward)
    }
}

/// The `Cookie` header without the session cookie and the bound cookie:
/// the origin never needs either.
fn cookie_without_session(gate: Gate<'_>, header: Option<&str>) -> CookieHeader {
    let config = gate.config;
    let nonce = config.apps.nonce_cookie().map_or("", |c| c.name());
    let names = [
        config.cookie.name(),
        config.device_binding.cookie.name(),
        nonce,
    ];
    // The bound cookie's and the nonce's names start with the session
    // cookie's.
    let Some(header) = header.filter(|h| h.contains(names[0])) else {
        return CookieHeader::Unchanged;
    };
    let names = if nonce.is_empty() {
        &names[..2]
    } else {
        &names[..]
    };
    match cookie::without(header, names) {
        Some(rest) => CookieHeader::Replace(rest),
        None => CookieHeader::Remove,
    }
}
