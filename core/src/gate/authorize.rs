//! DESIGN §13.3, §13.4, §15: the policy's decision on a protected request
//! whose caller checked out, a session's user or a machine client, taken
//! from what was already read (no I/O) unless a `POST` must first have its
//! body read for a `_method` (§13.2). Allowed goes on to the origin;
//! refused is a 403 (a page for a browser navigating); a login, or a
//! token, too old for the rule asks for a fresh one. A session is left as
//! it is either way.

use super::authenticate::Authenticated;
use super::forward::Pending;
use super::reply::{self, Reply};
use super::{page, Exchange, Gate, Op, Outcome, State, Step};
use crate::bearer::Client;
use crate::config::Enforcement;
use crate::method_override::{Form, MAX_BODY};
use crate::oidc::token::TokenError;
use crate::policy::{self, Decision, Request, Subject};

/// Whom the policy judges. Passed along by value for one decision, and
/// boxed where it waits (`Authorizing`): a box per request would cost the
/// hot path more than the larger variant does.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum Principal {
    /// A user, by the session's record.
    Session(Authenticated),
    /// A machine client, by its access token's claims.
    Client(Client),
}

/// A `POST` whose body is read for its `_method` before the policy decides.
#[derive(Debug)]
pub(super) struct Authorizing {
    pending: Pending,
    principal: Principal,
    form: Form,
}

/// What the policy would have refused, for `MODE=report`'s verdict.
#[derive(Debug, Clone, Copy)]
pub(super) struct Refusal<'r> {
    pub reason: &'static str,
    pub rule: &'r str,
}

impl Exchange {
    /// Asks the policy, then forwards or refuses. A `POST` to a path whose
    /// rule judges methods is judged under the method its `_method` names
    /// too, from the query and from a form's body, which is read first.
    pub(super) fn authorize(
        &mut self,
        gate: Gate<'_>,
        mut pending: Pending,
        principal: Principal,
    ) -> Step {
        let policy = &self.served_app(gate).authorization;
        let people_pass = !policy.is_active();
        if people_pass && matches!(principal, Principal::Session(_)) {
            return self.admit(gate, pending, principal, None);
        }
        let judges_methods = pending.method() == "POST"
            && policy
                .rule_for(pending.path())
                .is_some_and(|rule| rule.judges_methods());
        if judges_methods {
            pending.read_query_overrides();
            match Form::of(pending.content_type()) {
                Ok(Some(form)) => {
                    let read = Op::ReadBody {
                        limit: MAX_BODY,
                        forward: true,
                    };
                    let authorizing = Authorizing {
                        pending,
                        principal,
                        form,
                    };
                    return self.wait(State::Form(Box::new(authorizing)), vec![read]);
                }
                Ok(None) => {}
                Err(e) => return self.reject(reply::bad_request(e.as_str()), e.as_str()),
            }
        }
        self.decide(gate, pending, principal)
    }

    /// The body is in: its `_method`, then the decision. One larger than
    /// the policy can judge is refused (`413`), in report mode too: what
    /// was read of it cannot be forwarded whole.
    pub(super) fn on_form(
        &mut self,
        gate: Gate<'_>,
        authorizing: Authorizing,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let Authorizing {
            mut pending,
            principal,
            form,
        } = authorizing;
        match outcomes.into_iter().next() {
            Some(Outcome::Value(Some(body))) => {
                pending.add_overrides(form.overrides(&body));
                self.decide(gate, pending, principal)
            }
            Some(Outcome::Value(None)) => {
                let reply = Reply::error(413, "body_too_large");
                self.reject(reply, "body_too_large")
            }
            other => {
                self.log.detail = super::provider::describe(other);
                self.reject(reply::bad_request("body_unreadable"), "body_unreadable")
            }
        }
    }

    /// The policy's decision under the request's method and each method
    /// it overrides to: it passes only when every one passes.
    fn decide(&mut self, gate: Gate<'_>, pending: Pending, principal: Principal) -> Step {
        let policy = &self.served_app(gate).authorization;
        let now = self.now;
        let decide = |method: &str| {
            let request = Request {
                path: pending.path(),
                method,
            };
            match &principal {
                Principal::Session(auth) => {
                    let record = &auth.record;
                    let subject = Subject {
                        uid: &record.uid,
                        email: record.email.as_deref(),
                        groups: &record.groups,
                        claims: &record.claims,
                        // Keys recorded while binding was on are not
                        // checked with it off.
                        device_bound: gate.config.device_binding.is_on()
                            && record.device_key.is_some(),
                        auth_time: record.auth_time(),
                    };
                    policy.decide(&request, &subject, now)
                }
                Principal::Client(client) => {
                    let subject = policy::MachineClient {
                        client_id: &client.client_id,
                        scope: &client.scope,
                        issued_at: client.issued_at,
                    };
                    policy.decide_client(&request, &subject, now)
                }
            }
        };
        let decision = pending
            .overrides()
            .iter()
            .fold(decide(pending.method()), |d, method| d.and(decide(method)));
        self.log.rule = Some(decision.rule.to_owned());
        self.answer(gate, pending, principal, decision)
    }

    fn answer(
        &mut self,
        gate: Gate<'_>,
        pending: Pending,
        principal: Principal,
        decision: Decision<'_>,
    ) -> Step {
        let is_client = matches!(principal, Principal::Client(_));
        let reason = match decision.outcome {
            policy::Verdict::Allow => return self.admit(gate, pending, principal, None),
            policy::Verdict::Forbidden => "forbidden",
            // A client gets a new token; there is no sign-in to send it to.
            policy::Verdict::StepUp { .. } if is_client => {
                return self.invalid_token(gate, pending, TokenError::TooOld)
            }
            policy::Verdict::StepUp { .. } => "step_up",
        };
        let refusal = Refusal {
            reason,
            rule: decision.rule,
        };
        if gate.config.mode == Enforcement::Report {
            return self.admit(gate, pending, principal, Some(refusal));
        }
        let reply = match principal {
            Principal::Client(_) => reply::refused_by(decision.rule).with(
                "www-authenticate",
                r#"Bearer error="insufficient_scope""#.to_owned(),
            ),
            Principal::Session(auth) => {
                let record = &auth.record;
                let reply = match decision.outcome {
                    policy::Verdict::StepUp { max_age } if pending.is_navigation() => {
                        self.sign_in(gate, pending.path_and_query(), Some(max_age))
                    }
                    policy::Verdict::StepUp { .. } => reply::unauthenticated("step_up"),
                    _ if pending.is_navigation() => page::forbidden(
                        record.email.as_deref().unwrap_or(&record.uid),
                        decision.rule,
                    ),
                    _ => reply::refused_by(decision.rule),
                };
                // The user is active even where refused: the idle window
                // moves on.
                match auth.restamp {
                    Some(cookie) => reply.with("set-cookie", cookie),
                    None => reply,
                }
            }
        };
        self.log.refuse(reason);
        self.finish(reply)
    }

    /// On to the origin with the identity; `refusal`, in `MODE=report`
    /// only, is what the policy would have answered.
    fn admit(
        &mut self,
        gate: Gate<'_>,
        pending: Pending,
        principal: Principal,
        refusal: Option<Refusal<'_>>,
    ) -> Step {
        match principal {
            Principal::Session(auth) => self.forward_authenticated(gate, pending, auth, refusal),
            Principal::Client(client) => self.forward_client(gate, pending, client, refusal),
        }
    }
}
