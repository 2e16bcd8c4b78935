//! DESIGN §12: signing in with the OpenID Connect provider, and its
//! back-channel logout. Every exchange with the provider is a step: the
//! discovery document and the keys (isolate memory, then the Cache API,
//! then the provider), the token exchange, the signature check (WebCrypto)
//! and the userinfo request. A sign-in ends as a login handoff does: the
//! old session ended, a new one written, and a `303` to `return_to`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::origin::{Login, LoginEnd};
use super::provider::{describe, Doc, Documents, KeyLookup};
use super::reply::{self, Reply};
use super::request::{Inbound, RequestUrl};
use super::sessions::Ending;
use super::{page, AfterEnding, Exchange, Gate, Op, Outcome, State, Step};
use crate::cookie::{self, Presented};
use crate::oidc::metadata::{Metadata, ProviderError};
use crate::oidc::state::{self, LoginState};
use crate::oidc::token::{Jwt, TokenError, LEEWAY, LOGOUT_MAX_AGE, MAX_TOKEN_LEN};
use crate::oidc::{self, Oidc, Refused, SigninError};
use crate::routes::{self, Endpoint};
use crate::session::Identity;

/// A sign-in, or a back-channel logout, on its way through the provider.
#[derive(Debug)]
pub(super) struct Flow {
    kind: Kind,
    waiting: Waiting,
    /// The provider's discovery document and keys.
    docs: Documents,
    /// The ID or logout token, once it has come.
    token: Option<Jwt>,
    verified: bool,
    /// A browser: failures are a page rather than JSON.
    browser: bool,
}

#[derive(Debug)]
enum Kind {
    /// `GET /.sessiongate/oidc/start`: to the provider.
    Start {
        login: LoginState,
        redirect_uri: String,
    },
    /// `GET /.sessiongate/oidc/callback`: back from it.
    Callback(Box<Callback>),
    /// `POST /.sessiongate/oidc/backchannel-logout`.
    Backchannel,
    /// `GET /.sessiongate/oidc/end-session`: after logout, to the
    /// provider's logout, back to `return_to`.
    EndSession { return_to: String },
}

#[derive(Debug)]
struct Callback {
    login: LoginState,
    code: String,
    /// RFC 9207's `iss` of the authorization response.
    iss: Option<String>,
    redirect_uri: String,
    /// The session cookie the browser came with: that session ends.
    presented: Option<String>,
    user_agent: Option<String>,
    access_token: Option<String>,
    /// The userinfo endpoint's claims, once asked.
    userinfo: Option<Map<String, Value>>,
}

/// What the flow waits for.
#[derive(Debug, Clone, Copy)]
enum Waiting {
    Nothing,
    /// The provider's documents (`provider.rs`).
    Doc,
    Token,
    Verify,
    Userinfo,
    Body,
}

/// Who is answered when a flow fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asker {
    /// A browser: a page.
    Browser,
    /// Any other client: JSON.
    Client,
    /// The provider, posting a logout token: Back-Channel Logout's JSON.
    Provider,
    /// A browser logged out here, on its way to the provider's logout:
    /// home, since the session has ended whatever the provider does.
    LoggedOut,
}

impl Flow {
    fn asker(&self) -> Asker {
        match (&self.kind, self.browser) {
            (Kind::Backchannel, _) => Asker::Provider,
            (Kind::EndSession { .. }, _) => Asker::LoggedOut,
            (_, true) => Asker::Browser,
            (_, false) => Asker::Client,
        }
    }
}

/// Why a flow failed, with what the log and the page add to it.
struct Failed {
    reason: SigninError,
    detail: Option<String>,
    /// The account the provider signed in, when it is the one refused:
    /// the page names it, so the user knows to switch.
    account: Option<String>,
}

impl From<SigninError> for Failed {
    fn from(reason: SigninError) -> Self {
        Self {
            reason,
            detail: None,
            account: None,
        }
    }
}

impl Failed {
    fn detailed(reason: SigninError, detail: impl Into<Option<String>>) -> Self {
        Self {
            detail: detail.into(),
            ..reason.into()
        }
    }
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct Tokens {
    id_token: String,
    access_token: Option<String>,
}

impl Exchange {
    /// `/.sessiongate/oidc/*`.
    pub(super) fn oidc_endpoint(
        &mut self,
        gate: Gate<'_>,
        endpoint: Endpoint,
        req: &Inbound<'_>,
        url: &RequestUrl<'_>,
    ) -> Step {
        let Some(oidc) = &gate.config.oidc else {
            return self.finish(Reply::error(404, "not_found"));
        };
        // With APPS, people sign in at AUTH_HOST: its callback is the one
        // redirect URI (DESIGN §16).
        let signs_in = matches!(endpoint, Endpoint::OidcStart | Endpoint::OidcCallback);
        if signs_in && gate.config.apps.is_multi() && !self.site.auth_host {
            return self.finish(Reply::error(404, "not_found"));
        }
        let reads = matches!(req.method, "GET" | "HEAD");
        let flow = |kind| Flow {
            kind,
            waiting: Waiting::Nothing,
            docs: Documents::default(),
            token: None,
            verified: false,
            browser: req.wants_html(),
        };
        let param = |name| url.query_param(name).and_then(routes::percent_decode);
        match endpoint {
            Endpoint::OidcStart if reads => {
                self.log.event = Some("oidc_start");
                let return_to = param("return_to")
                    .filter(|r| routes::is_safe_return_to(r))
                    .unwrap_or_else(|| "/".to_owned());
                // A step-up asks for a recent login: one it cannot read is
                // refused, never dropped (that would sign in without it).
                let max_age = match param("max_age") {
                    None => None,
                    Some(v) => match state::parse_max_age(&v) {
                        Some(max_age) => Some(max_age),
                        None => {
                            let asker = if req.wants_html() {
                                Asker::Browser
                            } else {
                                Asker::Client
                            };
                            return self.signin_failed(gate, asker, SigninError::MaxAgeInvalid);
                        }
                    },
                };
                let login = match LoginState::new(return_to, max_age, self.now) {
                    Ok(login) => login,
                    Err(e) => return self.no_randomness(e),
                };
                let redirect_uri = oidc.redirect_uri_for(url.origin);
                self.advance(
                    gate,
                    flow(Kind::Start {
                        login,
                        redirect_uri,
                    }),
                )
            }
            Endpoint::OidcCallback if reads => {
                self.log.event = Some("oidc_callback");
                let asker = if req.wants_html() {
                    Asker::Browser
                } else {
                    Asker::Client
                };
                let state = param("state");
                let login = match oidc.check_state(req.cookie, state.as_deref(), self.now) {
                    Ok(login) => login,
                    Err(e) => return self.signin_failed(gate, asker, SigninError::State(e)),
                };
                if let Some(error) = param("error") {
                    let detail = format!("the provider answered error={error}");
                    let failed = Failed::detailed(SigninError::ProviderRefused, detail);
                    return self.signin_failed(gate, asker, failed);
                }
                let Some(code) = param("code") else {
                    return self.signin_failed(gate, asker, SigninError::CodeMissing);
                };
                let presented = match req
                    .cookie
                    .map(|h| cookie::find(h, gate.config.cookie.name()))
                {
                    Some(Presented::One(raw)) => Some(raw.to_owned()),
                    _ => None,
                };
                let flow = flow(Kind::Callback(Box::new(Callback {
                    login,
                    code,
                    iss: param("iss"),
                    redirect_uri: oidc.redirect_uri_for(url.origin),
                    presented,
                    user_agent: req.user_agent.map(str::to_owned),
                    access_token: None,
                    userinfo: None,
                })));
                self.advance(gate, flow)
            }
            Endpoint::OidcBackchannel if req.method == "POST" => {
                self.log.event = Some("backchannel_logout");
                self.advance(gate, flow(Kind::Backchannel))
            }
            Endpoint::OidcBackchannel => self.finish(reply::method_not_allowed("POST")),
            Endpoint::OidcEndSession if reads => {
                let return_to = oidc.post_logout_uri_for(url.origin);
                self.advance(gate, flow(Kind::EndSession { return_to }))
            }
            _ => self.finish(reply::method_not_allowed("GET, HEAD")),
        }
    }

    /// Takes the flow as far as it can go without I/O; asks for the next.
    fn advance(&mut self, gate: Gate<'_>, flow: Flow) -> Step {
        let Some(oidc) = gate.config.oidc.as_ref() else {
            return self.fail(
                "internal",
                "the provider went away".to_owned(),
                Reply::internal(),
            );
        };
        if matches!(flow.kind, Kind::Backchannel) && flow.token.is_none() {
            let read = Op::ReadBody {
                limit: 2 * MAX_TOKEN_LEN,
                forward: false,
            };
            return self.wait_flow(flow, Waiting::Body, read);
        }
        let Some(metadata) = flow.docs.metadata.clone() else {
            return self.need_doc(gate, flow, Doc::Metadata);
        };
        if let Kind::Start {
            login,
            redirect_uri,
        } = &flow.kind
        {
            return self.send_to_provider(oidc, &metadata, login, redirect_uri);
        }
        if let Kind::EndSession { return_to } = &flow.kind {
            let location = match &metadata.end_session_endpoint {
                Some(endpoint) => routes::append_query(
                    endpoint,
                    &oidc::form(&[
                        ("client_id", &oidc.client_id),
                        ("post_logout_redirect_uri", return_to),
                    ]),
                ),
                None => "/".to_owned(),
            };
            return self.finish(Reply::empty(303).with("location", location));
        }
        if let Kind::Callback(callback) = &flow.kind {
            // RFC 9207: the answer names the provider that made it (mix-up).
            let named = callback.iss.as_deref();
            let required = metadata.authorization_response_iss_parameter_supported;
            if named.is_some_and(|iss| iss != oidc.issuer) || (required && named.is_none()) {
                return self.signin_failed(gate, flow.asker(), SigninError::IssuerMismatch);
            }
            if flow.token.is_none() {
                return self.exchange_code(oidc, &metadata, flow);
            }
        }
        if !flow.verified {
            return self.verify_token(gate, flow);
        }
        match &flow.kind {
            Kind::Callback(_) => self.signed_in(gate, oidc, &metadata, flow),
            _ => self.logged_out_at_provider(gate, oidc, flow),
        }
    }

    /// The provider's document, from wherever it is kept (`provider.rs`).
    fn need_doc(&mut self, gate: Gate<'_>, mut flow: Flow, doc: Doc) -> Step {
        let issuer = gate.config.oidc.as_ref().map_or("", |o| o.issuer.as_str());
        match flow.docs.need(issuer, gate.provider_cache, doc, self.now) {
            Ok(None) => self.advance(gate, flow),
            Ok(Some(op)) => self.wait_flow(flow, Waiting::Doc, op),
            Err(e) => {
                let failed = Failed::detailed(SigninError::Provider(e.reason), e.detail);
                self.signin_failed(gate, flow.asker(), failed)
            }
        }
    }

    fn wait_flow(&mut self, mut flow: Flow, waiting: Waiting, op: Op) -> Step {
        flow.waiting = waiting;
        self.wait(State::Oidc(Box::new(flow)), vec![op])
    }

    /// The flow's step is done: read what came back, and carry on.
    pub(super) fn on_oidc(
        &mut self,
        gate: Gate<'_>,
        mut flow: Flow,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let outcome = outcomes.into_iter().next();
        let waiting = std::mem::replace(&mut flow.waiting, Waiting::Nothing);
        let result = match (waiting, outcome) {
            (Waiting::Doc, outcome) => {
                let issuer = gate.config.oidc.as_ref().map_or("", |o| o.issuer.as_str());
                let cache = gate.provider_cache;
                match flow
                    .docs
                    .take(issuer, cache, outcome, self.now, &mut self.background)
                {
                    Ok(None) => Ok(()),
                    Ok(Some(op)) => return self.wait_flow(flow, Waiting::Doc, op),
                    Err(e) => Err(Failed::detailed(SigninError::Provider(e.reason), e.detail)),
                }
            }
            (Waiting::Token, Some(Outcome::Response { status: 200, body })) => {
                match serde_json::from_str::<Tokens>(&body) {
                    Ok(tokens) => self.take_token(&mut flow, &tokens.id_token).map(|()| {
                        if let Kind::Callback(callback) = &mut flow.kind {
                            callback.access_token = tokens.access_token;
                        }
                    }),
                    Err(_) => Err(SigninError::TokenResponseInvalid.into()),
                }
            }
            // The provider refused the code: replayed, expired, or not ours.
            (
                Waiting::Token,
                Some(Outcome::Response {
                    status: 400..=499,
                    body,
                }),
            ) => Err(Failed::detailed(
                SigninError::TokenExchangeRefused,
                format!("token endpoint: {}", error_code(&body)),
            )),
            (Waiting::Token, other) => Err(Failed::detailed(
                SigninError::Provider(ProviderError::Unavailable),
                describe(other),
            )),
            (Waiting::Verify, Some(Outcome::Value(Some(verdict)))) if verdict == "valid" => {
                flow.verified = true;
                Ok(())
            }
            (Waiting::Verify, other) => Err(Failed::detailed(
                SigninError::Token(TokenError::BadSignature),
                describe(other),
            )),
            (Waiting::Userinfo, Some(Outcome::Response { status: 200, body })) => {
                let claims = serde_json::from_str::<Map<String, Value>>(&body).ok();
                let sub = flow.token.as_ref().and_then(|t| t.claims.get("sub"));
                match (claims, &mut flow.kind) {
                    // OpenID Connect Core §5.3.2: the same user, or nothing.
                    (Some(claims), Kind::Callback(callback)) if claims.get("sub") == sub => {
                        callback.userinfo = Some(claims);
                        Ok(())
                    }
                    _ => Err(SigninError::UserinfoInvalid.into()),
                }
            }
            (Waiting::Userinfo, other) => Err(Failed::detailed(
                SigninError::Provider(ProviderError::Unavailable),
                describe(other),
            )),
            (Waiting::Body, Some(Outcome::Value(Some(body)))) => {
                let token = form_value(&body, "logout_token");
                match token {
                    Some(token) => self.take_token(&mut flow, &token),
                    None => Err(SigninError::LogoutTokenMissing.into()),
                }
            }
            (Waiting::Body, other) => Err(Failed::detailed(
                SigninError::LogoutTokenMissing,
                describe(other),
            )),
            (Waiting::Nothing, _) => Err(Failed::detailed(
                SigninError::Internal,
                "no step was awaited".to_owned(),
            )),
        };
        match result {
            Ok(()) => self.advance(gate, flow),
            Err(failed) => self.signin_failed(gate, flow.asker(), failed),
        }
    }

    fn take_token(&mut self, flow: &mut Flow, token: &str) -> Result<(), Failed> {
        flow.token = Some(Jwt::parse(token).map_err(|e| Failed::from(SigninError::Token(e)))?);
        Ok(())
    }

    /// `303` to the provider's authorization endpoint, the state cookie set.
    fn send_to_provider(
        &mut self,
        oidc: &Oidc,
        metadata: &Metadata,
        login: &LoginState,
        redirect_uri: &str,
    ) -> Step {
        let challenge = login.challenge();
        let max_age = login.max_age.map(|seconds| seconds.to_string());
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", &oidc.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", &oidc.scopes),
            ("state", &login.state),
            ("nonce", &login.nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        // A step-up: the user logs in again, whatever session the provider
        // has, and the ID token says when (OpenID Connect Core §3.1.2.1).
        if let Some(max_age) = &max_age {
            params.extend([("prompt", "login"), ("max_age", max_age.as_str())]);
        }
        let query = oidc::form(&params);
        let location = routes::append_query(&metadata.authorization_endpoint, &query);
        let reply = Reply::empty(303)
            .with("location", location)
            .with("set-cookie", oidc.state_cookie(login));
        self.finish(reply)
    }

    /// The code for tokens, at the token endpoint, with the PKCE verifier
    /// and the client's secret.
    fn exchange_code(&mut self, oidc: &Oidc, metadata: &Metadata, flow: Flow) -> Step {
        let Kind::Callback(callback) = &flow.kind else {
            return self.fail(
                "internal",
                "no code to exchange".to_owned(),
                Reply::internal(),
            );
        };
        let body = oidc::form(&[
            ("grant_type", "authorization_code"),
            ("code", &callback.code),
            ("redirect_uri", &callback.redirect_uri),
            ("code_verifier", &callback.login.verifier),
        ]);
        let fetch = Op::Fetch {
            url: metadata.token_endpoint.clone(),
            method: "POST".to_owned(),
            headers: vec![
                (
                    "content-type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ),
                ("accept".to_owned(), "application/json".to_owned()),
                ("authorization".to_owned(), oidc.basic_auth()),
            ],
            body: Some(body),
            shared: false,
        };
        self.wait_flow(flow, Waiting::Token, fetch)
    }

    /// The token's signature, with the provider key its header names (the
    /// keys fetched once more, rate-limited, for a `kid` they lack).
    fn verify_token(&mut self, gate: Gate<'_>, mut flow: Flow) -> Step {
        if flow.docs.jwks.is_none() {
            return self.need_doc(gate, flow, Doc::Jwks);
        }
        let Some(token) = &flow.token else {
            return self.fail(
                "internal",
                "no token to verify".to_owned(),
                Reply::internal(),
            );
        };
        let key = match flow.docs.key(gate.provider_cache, token, self.now) {
            KeyLookup::Found(key) => key,
            KeyLookup::Refetch(op) => return self.wait_flow(flow, Waiting::Doc, op),
            KeyLookup::Unknown => {
                return self.signin_failed(
                    gate,
                    flow.asker(),
                    SigninError::Token(TokenError::UnknownKid),
                )
            }
        };
        let verify = Op::Verify {
            alg: token.alg.to_owned(),
            jwk: key.jwk.clone(),
            data: token.signed.clone(),
            signature: token.signature.clone(),
        };
        self.wait_flow(flow, Waiting::Verify, verify)
    }

    /// The ID token is the provider's: check it, ask userinfo for what it
    /// lacks, check the allow-list, and start the session.
    fn signed_in(
        &mut self,
        gate: Gate<'_>,
        oidc: &Oidc,
        metadata: &Metadata,
        mut flow: Flow,
    ) -> Step {
        let (Some(token), Kind::Callback(callback)) = (&flow.token, &mut flow.kind) else {
            return self.fail("internal", "no ID token".to_owned(), Reply::internal());
        };
        let sub = match token.check_id_token(
            &oidc.issuer,
            &oidc.client_id,
            |n| callback.login.nonce_matches(n),
            self.now,
        ) {
            Ok(sub) => sub,
            Err(e) => return self.signin_failed(gate, flow.asker(), SigninError::Token(e)),
        };
        let auth_time = match token.auth_time(callback.login.max_age, self.now) {
            Ok(auth_time) => auth_time,
            Err(e) => return self.signin_failed(gate, flow.asker(), SigninError::Token(e)),
        };
        let mut claims = token.claims.clone();
        let lacking = oidc
            .allow
            .needs()
            .chain(oidc.allow.identity_claims())
            .chain(oidc.claims.iter().map(String::as_str))
            .any(|name| !claims.contains_key(name));
        if lacking && callback.userinfo.is_none() {
            if let (Some(endpoint), Some(access)) =
                (&metadata.userinfo_endpoint, &callback.access_token)
            {
                let fetch = Op::Fetch {
                    url: endpoint.clone(),
                    method: "GET".to_owned(),
                    headers: vec![
                        ("accept".to_owned(), "application/json".to_owned()),
                        ("authorization".to_owned(), format!("Bearer {access}")),
                    ],
                    body: None,
                    shared: false,
                };
                return self.wait_flow(flow, Waiting::Userinfo, fetch);
            }
        }
        // The ID token's own claims win over userinfo's.
        for (name, value) in callback.userinfo.take().unwrap_or_default() {
            claims.entry(name).or_insert(value);
        }
        if let Err(refusal) = oidc.allow.admits(&claims) {
            let account = claims.get("email").and_then(Value::as_str).unwrap_or(&sub);
            let failed = Failed {
                account: Some(account.to_owned()),
                ..SigninError::NotAllowed(refusal).into()
            };
            return self.signin_failed(gate, flow.asker(), failed);
        }
        let session_claims = match oidc::session_claims(&oidc.claims, &claims) {
            Ok(c) => c,
            Err(_) => {
                return self.signin_failed(gate, flow.asker(), SigninError::ClaimsTooLarge);
            }
        };
        let email = oidc::verified_email(&claims);
        let groups = oidc.allow.groups_of(&claims).map_err(SigninError::Groups);
        let (email, groups) = match (email, groups) {
            (Ok(email), Ok(groups)) => (email, groups),
            (Err(reason), _) | (_, Err(reason)) => {
                return self.signin_failed(gate, flow.asker(), reason)
            }
        };
        let identity = Identity {
            uid: sub,
            email,
            groups,
            claims: session_claims,
            auth_time,
        };
        let then = LoginEnd::Redirect {
            location: callback.login.return_to.clone(),
            set_cookies: vec![oidc.clear_state_cookie()],
        };
        let login = Login::new(identity, callback.user_agent.as_deref(), then);
        self.begin_login(gate, login, callback.presented.take())
    }

    /// A verified logout token: end every session of its subject.
    fn logged_out_at_provider(&mut self, gate: Gate<'_>, oidc: &Oidc, flow: Flow) -> Step {
        let Some(token) = &flow.token else {
            return self.fail("internal", "no logout token".to_owned(), Reply::internal());
        };
        let sub = match token.check_logout_token(&oidc.issuer, &oidc.client_id, self.now) {
            Ok(sub) => sub,
            Err(e) => return self.signin_failed(gate, flow.asker(), SigninError::Token(e)),
        };
        // A logout token is used once: a replay is refused, not repeated.
        let jti = format!("logout:{}", token.jti().unwrap_or_default());
        let expires = self.now + LOGOUT_MAX_AGE + 2 * LEEWAY;
        if gate.spent.spend(&jti, expires, self.now).is_err() {
            return self.signin_failed(gate, flow.asker(), SigninError::LogoutTokenReused);
        }
        let reply = Reply::empty(200);
        self.end_sessions(gate, Ending::all(&sub), AfterEnding::Reply(reply))
    }

    /// A sign-in (or back-channel logout) that failed: logged, and
    /// answered with a page for a browser, JSON otherwise; the state
    /// cookie is cleared, since a sign-in is answered once.
    fn signin_failed(&mut self, gate: Gate<'_>, asker: Asker, failed: impl Into<Failed>) -> Step {
        let Failed {
            reason,
            detail,
            account,
        } = failed.into();
        let provider = reason.is_providers();
        self.log.refuse(reason.as_str());
        if provider {
            self.log.decision = "error";
        }
        self.log.detail = detail;
        if asker == Asker::LoggedOut {
            return self.finish(Reply::empty(303).with("location", "/".to_owned()));
        }
        if asker == Asker::Provider {
            // Back-Channel Logout §2.8: 400 for a token refused.
            let (status, error) = if provider {
                (503, "temporarily_unavailable")
            } else {
                (400, "invalid_request")
            };
            return self.finish(Reply::json(
                status,
                json!({ "error": error, "error_description": reason.as_str() }),
            ));
        }
        let status = match reason {
            _ if provider => 502,
            SigninError::NotAllowed(_) => 403,
            _ => 400,
        };
        let mut reply = if asker == Asker::Browser {
            failure_page(status, reason, account.as_deref())
        } else {
            Reply::json(
                status,
                json!({ "error": "sign_in_failed", "reason": reason.as_str() }),
            )
        };
        if let Some(oidc) = &gate.config.oidc {
            reply = reply.with("set-cookie", oidc.clear_state_cookie());
        }
        self.finish(reply)
    }
}

/// What went wrong, in words, on the edge's page (DESIGN §13.3 gives
/// every edge page one look), with the reason code for a support request.
fn failure_page(status: u16, reason: SigninError, account: Option<&str>) -> Reply {
    let message = match reason {
        SigninError::NotAllowed(Refused::NotAllowed) => "This account may not sign in here.",
        SigninError::NotAllowed(Refused::EmailNotVerified) => {
            "Your email address is not verified with your identity provider."
        }
        SigninError::Token(TokenError::AuthTimeTooOld | TokenError::AuthTimeMissing) => {
            "The identity provider did not confirm that you signed in again just now."
        }
        SigninError::State(_) => "This sign-in was started in another browser or has expired.",
        _ if status == 502 => {
            "The identity provider could not be reached, or answered in a way we could not use."
        }
        _ => "The sign-in could not be completed.",
    };
    page::signin_failed(status, message, reason.as_str(), account)
}

/// The `error` of an OAuth error response, for the log.
fn error_code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "no error code".to_owned())
}

/// One field of an `application/x-www-form-urlencoded` body.
fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n == name)
            .then(|| routes::percent_decode(&v.replace('+', " ")))
            .flatten()
    })
}
