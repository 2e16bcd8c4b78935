//! DESIGN §13.3, §13.4: the policy's decision on an authenticated request
//! for a protected path, taken from the record already read (no I/O).
//! Allowed goes on to the origin; refused is a 403 (a page for a browser
//! navigating); a login too old for the rule asks for a fresh one. The
//! session itself is left as it is either way.

use super::authenticate::{login_location, Authenticated};
use super::forward::Pending;
use super::reply::{self, Reply};
use super::{page, Exchange, Gate, Step};
use crate::config::Mode;
use crate::policy::{Outcome, Request, Subject};

impl Exchange {
    /// Asks the policy, then forwards or refuses.
    pub(super) fn authorize(
        &mut self,
        gate: Gate<'_>,
        pending: Pending,
        auth: Authenticated,
    ) -> Step {
        let policy = &gate.config.authorization;
        if !policy.is_active() {
            return self.forward_authenticated(gate, pending, auth, None);
        }
        let record = &auth.record;
        let subject = Subject {
            uid: &record.uid,
            email: record.email.as_deref(),
            groups: &record.groups,
            claims: &record.claims,
            // Keys recorded while binding was on are not checked with it off.
            device_bound: gate.config.device_binding.is_on() && record.device_key.is_some(),
            auth_time: record.auth_time(),
        };
        let request = Request {
            path: pending.path(),
            method: pending.method(),
        };
        let decision = policy.decide(&request, &subject, self.now);
        self.log.rule = Some(decision.rule.to_owned());
        let refusal = match decision.outcome {
            Outcome::Allow => return self.forward_authenticated(gate, pending, auth, None),
            Outcome::Forbidden => "forbidden",
            Outcome::StepUp { .. } => "step_up",
        };
        if gate.config.mode == Mode::Report {
            return self.forward_authenticated(gate, pending, auth, Some(refusal));
        }
        let mut reply = match decision.outcome {
            Outcome::StepUp { max_age } => step_up(gate, &pending, max_age),
            _ if pending.is_navigation() => page::forbidden(
                record.email.as_deref().unwrap_or(&record.uid),
                decision.rule,
            ),
            _ => reply::refused_by(decision.rule),
        };
        // The user is active even where refused: the idle window moves on.
        if let Some(cookie) = auth.restamp {
            reply = reply.with("set-cookie", cookie);
        }
        self.log.decision = "reject";
        self.log.reason = Some(refusal);
        self.finish(reply)
    }
}

/// A login older than the rule allows: a browser goes to sign in again
/// and comes back; anything else is told why.
fn step_up(gate: Gate<'_>, pending: &Pending, max_age: u64) -> Reply {
    if !pending.is_navigation() {
        return reply::unauthenticated("step_up");
    }
    let location = login_location(gate.config, pending.path_and_query(), Some(max_age));
    Reply::empty(303).with("location", location)
}
