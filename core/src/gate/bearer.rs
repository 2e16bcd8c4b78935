//! DESIGN §15: a machine client's request, admitted by its access token
//! instead of a session. The token's header and claims are checked without
//! I/O; its issuer's key comes through `provider.rs` (memory, Cache API,
//! issuer), its signature is checked by the driver (WebCrypto), and the
//! policy decides from the client and its scopes. No session is read,
//! started or written.

use super::authorize::Principal;
use super::forward::Pending;
use super::provider::{describe, Doc, Documents, KeyLookup, Unavailable};
use super::reply::{self, Reply};
use super::request::Inbound;
use super::{Exchange, Gate, Op, Outcome, State, Step, VERIFY_VALID};
use crate::bearer::{Bearer, Client};
use crate::config::Enforcement;
use crate::oidc::token::{Jwt, TokenError};

/// A bearer request on its way to the origin.
#[derive(Debug)]
pub(super) struct TokenCheck {
    /// `BEARER_ISSUER` (the app's), whose documents hold the key.
    issuer: String,
    pending: Pending,
    token: Jwt,
    client: Client,
    /// `CF-Connecting-IP`, which a bad signature counts against.
    sender: Option<String>,
    /// The issuer's documents; when they await no step, the signature's
    /// check does.
    docs: Documents,
}

impl Exchange {
    /// Checks the `Authorization: Bearer` token of a protected request;
    /// every refusal is a `401 invalid_token`, never a login. Bad tokens
    /// count against the sender as bad session cookies do
    /// (`BAD_TOKEN_LIMIT`).
    pub(super) fn forward_bearer(
        &mut self,
        gate: Gate<'_>,
        bearer: &Bearer,
        req: &Inbound<'_>,
        pending: Pending,
    ) -> Step {
        if let Some(retry_after) = gate.throttled(req, self.now) {
            return self.reject(reply::throttled(retry_after), "throttled");
        }
        let token = req.bearer().unwrap_or_default();
        let checked =
            Bearer::parse(token).and_then(|jwt| Ok((bearer.check(&jwt, token, self.now)?, jwt)));
        let (client, token) = match checked {
            Ok(checked) => checked,
            Err(reason) => {
                gate.count_failure(req.client, self.now);
                return self.invalid_token(gate, pending, reason);
            }
        };
        let check = TokenCheck {
            issuer: bearer.issuer.clone(),
            pending,
            token,
            client,
            sender: req.client.map(str::to_owned),
            docs: Documents::default(),
        };
        self.find_key(gate, check)
    }

    /// The issuer's key for the token, then its signature's check.
    fn find_key(&mut self, gate: Gate<'_>, mut check: TokenCheck) -> Step {
        let cache = gate.provider_cache;
        let doc = match (&check.docs.metadata, &check.docs.jwks) {
            (None, _) => Some(Doc::Metadata),
            (_, None) => Some(Doc::Jwks),
            _ => None,
        };
        if let Some(doc) = doc {
            return match check.docs.need(&check.issuer, cache, doc, self.now) {
                Ok(None) => self.find_key(gate, check),
                Ok(Some(op)) => self.wait_token(check, op),
                Err(e) => self.issuer_unavailable(gate, check, e),
            };
        }
        let key = match check.docs.key(cache, &check.token, self.now) {
            KeyLookup::Found(key) => key,
            KeyLookup::Refetch(op) => return self.wait_token(check, op),
            KeyLookup::Unknown => {
                gate.count_failure(check.sender.as_deref(), self.now);
                return self.invalid_token(gate, check.pending, TokenError::UnknownKid);
            }
        };
        let verify = Op::Verify {
            alg: check.token.alg.to_owned(),
            jwk: key.jwk,
            data: check.token.signed.clone(),
            signature: check.token.signature.clone(),
        };
        self.wait_token(check, verify)
    }

    fn wait_token(&mut self, check: TokenCheck, op: Op) -> Step {
        self.wait(State::Token(Box::new(check)), vec![op])
    }

    /// The issuer's document, or the signature's verdict, has come.
    pub(super) fn on_token(
        &mut self,
        gate: Gate<'_>,
        mut check: TokenCheck,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let outcome = outcomes.into_iter().next();
        if check.docs.is_waiting() {
            let cache = gate.provider_cache;
            let taken = check.docs.take(
                &check.issuer,
                cache,
                outcome,
                self.now,
                &mut self.background,
            );
            return match taken {
                Ok(None) => self.find_key(gate, check),
                Ok(Some(op)) => self.wait_token(check, op),
                Err(e) => self.issuer_unavailable(gate, check, e),
            };
        }
        match outcome {
            Some(Outcome::Value(Some(verdict))) if verdict == VERIFY_VALID => {
                self.authorize_client(gate, check)
            }
            other => {
                self.log.detail = describe(other);
                gate.count_failure(check.sender.as_deref(), self.now);
                self.invalid_token(gate, check.pending, TokenError::BadSignature)
            }
        }
    }

    /// The signature is the issuer's: the client is named, and the
    /// policy decides (DESIGN §13, §15).
    fn authorize_client(&mut self, gate: Gate<'_>, check: TokenCheck) -> Step {
        let TokenCheck {
            pending, client, ..
        } = check;
        // Named only once the signature is the issuer's: a forged token's
        // claims are no one's.
        self.log.sid = Some(client.sid.clone());
        self.log.client = Some(client.client_id.clone());
        self.authorize(gate, pending, Principal::Client(client))
    }

    /// Fail closed: without the issuer's keys, no token passes. A token
    /// that cannot be checked counts against its sender as an invalid one
    /// does, so a storm of forged tokens is throttled while the issuer is
    /// down as when it is up.
    fn issuer_unavailable(&mut self, gate: Gate<'_>, check: TokenCheck, e: Unavailable) -> Step {
        gate.count_failure(check.sender.as_deref(), self.now);
        let detail = e.detail.unwrap_or_else(|| e.reason.as_str().to_owned());
        let reply = Reply::error(503, "token_issuer_unavailable");
        self.fail(e.reason.as_str(), detail, reply)
    }

    /// RFC 6750 §3.1: the token does not do. In `MODE=report`, the request
    /// goes on as it came, with the verdict and without an identity.
    pub(super) fn invalid_token(
        &mut self,
        gate: Gate<'_>,
        pending: Pending,
        reason: TokenError,
    ) -> Step {
        if gate.config.mode == Enforcement::Report {
            return self.forward_denied(pending, reason.as_str());
        }
        self.log.refuse(reason.as_str());
        // The body is fixed: the reason is the log's, not the client's.
        let reply = Reply {
            body: r#"{"error":"unauthenticated","reason":"invalid_token"}"#.to_owned(),
            ..Reply::json(401, serde_json::Value::Null)
        }
        .with(
            "www-authenticate",
            r#"Bearer error="invalid_token""#.to_owned(),
        );
        self.finish(reply)
    }
}
