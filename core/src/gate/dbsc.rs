//! DESIGN §11: device-bound sessions. Registration binds a session to the
//! browser's key (one write of its record and index entry); a refresh
//! proves the key for a new bound cookie (no write); and every request of
//! a bound session shows a bound cookie, checked without I/O. A proof's
//! signature is one `Verify` step (WebCrypto, as for OpenID Connect);
//! everything else about it is checked here.

use serde_json::json;

use super::authenticate::{Authenticated, Denial, Denied, Purpose, Reason};
use super::reply::{self, Reply};
use super::request::Inbound;
use super::{Exchange, Gate, Op, Outcome, State, Step, VERIFY_KEY_INVALID, VERIFY_VALID};
use crate::dbsc::proof::{self, Proof, Unverified};
use crate::dbsc::{
    self, BoundCookieError, ChallengeError, ProofError, Refusal, Requirement, BINDING_GRACE,
    REGISTRATION_WINDOW,
};
use crate::device;
use crate::routes::Endpoint;
use crate::session::{self, Record};
use crate::spent::SpendError;
use crate::token::IdHash;

/// A registration, waiting for the session it is for.
#[derive(Debug)]
pub(super) struct Registration {
    proof: Option<String>,
    /// "Chrome on Linux", for the session's index entry, rewritten.
    device: String,
}

/// A refresh with a proof, waiting for the session's record (and its key).
#[derive(Debug)]
pub(super) struct Refresh {
    proof: String,
    /// The DBSC session the browser names: the session's `sid`.
    session: Option<String>,
}

/// A proof whose signature the driver is checking, and what it is for.
#[derive(Debug)]
pub(super) struct ProofCheck {
    hash: IdHash,
    proof: Unverified,
    then: Proven,
}

/// What a proof whose signature checks out leads to.
#[derive(Debug)]
enum Proven {
    /// Binding the session of this record to the proof's key.
    Register { record: Box<Record>, device: String },
    /// A new bound cookie.
    Refresh,
}

/// A registration whose writes are under way.
#[derive(Debug)]
pub(super) struct Registered {
    hash: IdHash,
}

impl Exchange {
    /// `POST /.sessiongate/dbsc/register` and `…/refresh`.
    pub(super) fn device_endpoint(
        &mut self,
        gate: Gate<'_>,
        endpoint: Endpoint,
        req: &Inbound<'_>,
    ) -> Step {
        if !gate.config.device_binding.is_on() {
            return self.finish(Reply::error(404, "not_found"));
        }
        if req.method != "POST" {
            return self.finish(reply::method_not_allowed("POST"));
        }
        let denial = Denial::new(req, "/".to_owned());
        // Chromium sends the proof and the session id bare; the spec's
        // examples quote them (as structured-field strings): take either.
        let unquote = |v: &str| v.trim().trim_matches('"').to_owned();
        let proof = req.device_proof.map(unquote);
        if endpoint == Endpoint::DeviceRegister {
            self.log.event = Some("device_register");
            let registration = Registration {
                proof,
                device: device::describe(req.user_agent),
            };
            return self.authenticate(gate, req, Purpose::DeviceRegister(registration), denial);
        }
        self.log.event = Some("device_refresh");
        let session = req.device_session.map(unquote);
        match proof {
            Some(proof) => {
                let refresh = Refresh { proof, session };
                self.authenticate(gate, req, Purpose::DeviceRefresh(refresh), denial)
            }
            // The first request of a refresh: a challenge, from the cookie
            // alone, so that issuing one costs no read.
            None => match self.presented_token(gate, req) {
                Ok(token) => {
                    let hash = token.id().hash();
                    let binding = &gate.config.device_binding;
                    let challenge = match binding.challenge(&hash, self.now) {
                        Ok(challenge) => challenge,
                        Err(e) => return self.no_randomness(e),
                    };
                    let header = format!("\"{challenge}\";id=\"{}\"", hash.sid());
                    self.log.sid = Some(hash.sid());
                    self.finish(
                        Reply::error(403, "proof_required").with(dbsc::CHALLENGE_HEADER, header),
                    )
                }
                Err(Denied::Reject { reason, .. }) => {
                    self.end_device_session(gate, reason.as_str())
                }
                Err(denied) => self.deny(gate, &denial, denied),
            },
        }
    }

    /// Whether the session's record lets the request in as far as its
    /// device goes; the reason to refuse it if not.
    pub(super) fn check_device(
        &mut self,
        gate: Gate<'_>,
        record: &Record,
        bound: Result<(), BoundCookieError>,
    ) -> Result<(), Reason> {
        let binding = &gate.config.device_binding;
        if record.device_key.is_some() {
            let just_bound = record
                .device_bound_at
                .is_some_and(|at| self.now.saturating_sub(at) < BINDING_GRACE);
            return match bound {
                Err(BoundCookieError::Missing) if just_bound => Ok(()),
                other => other.map_err(|e| {
                    self.log.detail = Some(e.as_str().to_owned());
                    Reason::Unbound
                }),
            };
        }
        let window_closed = self.now.saturating_sub(record.iat) >= REGISTRATION_WINDOW;
        if binding.mode == Requirement::Require && window_closed {
            return Err(Reason::Unregistered);
        }
        Ok(())
    }

    /// The session checked out: have the proof's signature checked, to
    /// bind the session to the key the proof carries.
    pub(super) fn register_device(
        &mut self,
        _gate: Gate<'_>,
        auth: Authenticated,
        registration: Registration,
    ) -> Step {
        let Registration { proof, device } = registration;
        let checked = if auth.record.device_key.is_some() {
            Err(Refusal::AlreadyRegistered)
        } else if self.now.saturating_sub(auth.record.iat) >= REGISTRATION_WINDOW {
            Err(Refusal::WindowClosed)
        } else {
            read_proof(proof.as_deref(), None)
        };
        match checked {
            Ok(proof) => {
                let then = Proven::Register {
                    record: Box::new(auth.record),
                    device,
                };
                self.verify_proof(auth.hash, proof, then)
            }
            Err(refusal) => self.refuse_device(refusal),
        }
    }

    /// The signature checked out: bind the session to the proof's key.
    fn bind_device(
        &mut self,
        gate: Gate<'_>,
        hash: IdHash,
        key: dbsc::Jwk,
        mut record: Record,
        device: &str,
    ) -> Step {
        record.device_key = Some(key);
        record.device_bound_at = Some(self.now);
        let ttl = gate.config.lifetimes.ttl(&record, self.now);
        let writes = vec![
            Op::Put {
                key: session::record_key(&hash),
                value: record.to_json(),
                metadata: None,
                ttl,
            },
            Op::Put {
                key: session::index_key(&record.uid, &hash),
                value: String::new(),
                metadata: Some(record.index_metadata(Some(device))),
                ttl,
            },
        ];
        let registered = Registered { hash };
        self.wait(State::DeviceRegistered(registered), writes)
    }

    /// The key is stored: the session instructions, and the first bound cookie.
    pub(super) fn on_device_registered(
        &mut self,
        gate: Gate<'_>,
        registered: Registered,
        outcomes: Vec<Outcome>,
    ) -> Step {
        if let Some(e) = outcomes.into_iter().find_map(super::sessions::failure) {
            return self.unavailable(e);
        }
        self.log.event = Some("device_bound");
        self.device_instructions(gate, &registered.hash)
    }

    /// The session checked out: have the proof's signature checked against
    /// its registered key, for a new bound cookie.
    pub(super) fn refresh_device(
        &mut self,
        gate: Gate<'_>,
        auth: Authenticated,
        refresh: Refresh,
    ) -> Step {
        // A DBSC session the browser kept for an earlier session of this
        // cookie (one a login replaced) is over.
        if refresh.session.is_some_and(|id| id != auth.hash.sid()) {
            return self.end_device_session(gate, Refusal::NotRegistered.as_str());
        }
        let Some(registered) = &auth.record.device_key else {
            return self.refuse_device(Refusal::NotRegistered);
        };
        match read_proof(Some(&refresh.proof), Some(registered)) {
            Ok(proof) => self.verify_proof(auth.hash, proof, Proven::Refresh),
            Err(refusal) => self.refuse_device(refusal),
        }
    }

    /// A proof read and checked but for its signature: the driver checks
    /// that with WebCrypto (DESIGN §11).
    fn verify_proof(&mut self, hash: IdHash, proof: Unverified, then: Proven) -> Step {
        let verify = Op::Verify {
            alg: proof::ALG.to_owned(),
            jwk: proof.key.to_json(),
            data: proof.signed().to_owned(),
            signature: proof.signature().to_owned(),
        };
        let check = ProofCheck { hash, proof, then };
        self.wait(State::DeviceProof(check), vec![verify])
    }

    /// WebCrypto's verdict on the proof's signature: then its payload, and
    /// the challenge it answers, spent.
    pub(super) fn on_device_proof(
        &mut self,
        gate: Gate<'_>,
        check: ProofCheck,
        outcomes: Vec<Outcome>,
    ) -> Step {
        let ProofCheck { hash, proof, then } = check;
        let signed = match outcomes.into_iter().next() {
            Some(Outcome::Value(Some(verdict))) if verdict == VERIFY_VALID => Ok(()),
            Some(Outcome::Value(Some(verdict))) if verdict == VERIFY_KEY_INVALID => {
                Err(ProofError::BadKey)
            }
            Some(Outcome::Value(None)) => Err(ProofError::BadSignature),
            // WebCrypto failed: fail closed, as for a bad signature.
            other => {
                self.log.detail = Some(format!("verify: {other:?}"));
                Err(ProofError::BadSignature)
            }
        };
        let key = match signed.and_then(|()| proof.verified()) {
            Ok(proof) => self.spend_challenge(gate, proof, &hash),
            Err(e) => Err(Refusal::Proof(e)),
        };
        match (key, then) {
            (Ok(key), Proven::Register { record, device }) => {
                self.bind_device(gate, hash, key, *record, &device)
            }
            (Ok(_), Proven::Refresh) => self.device_instructions(gate, &hash),
            (Err(refusal), _) => self.refuse_device(refusal),
        }
    }

    /// Checks the challenge a verified proof answers and spends it; the key
    /// the proof was signed with.
    fn spend_challenge(
        &self,
        gate: Gate<'_>,
        proof: Proof,
        hash: &IdHash,
    ) -> Result<dbsc::Jwk, Refusal> {
        let binding = &gate.config.device_binding;
        let challenge = binding
            .check_challenge(&proof.jti, hash, self.now)
            .map_err(Refusal::Challenge)?;
        gate.spent
            .spend(&proof.jti, challenge.expires, self.now)
            .map_err(|e| {
                Refusal::Challenge(match e {
                    SpendError::Reused => ChallengeError::Reused,
                    SpendError::Busy => ChallengeError::Busy,
                })
            })?;
        Ok(proof.key)
    }

    /// 200 with the session instructions and a fresh bound cookie.
    fn device_instructions(&mut self, gate: Gate<'_>, hash: &IdHash) -> Step {
        let binding = &gate.config.device_binding;
        let reply = Reply::json(200, binding.instructions(&hash.sid()))
            .with("set-cookie", binding.bound_cookie(hash, self.now));
        self.finish(reply)
    }

    fn refuse_device(&mut self, refusal: Refusal) -> Step {
        let body = json!({ "error": "device_binding_refused", "reason": refusal.as_str() });
        self.reject(Reply::json(403, body), refusal.as_str())
    }

    /// Tells the browser its DBSC session is over, and clears the bound cookie.
    pub(super) fn end_device_session(&mut self, gate: Gate<'_>, reason: &'static str) -> Step {
        let reply = Reply::json(200, json!({ "continue": false }))
            .with("set-cookie", gate.config.device_binding.cookie.clear());
        self.reject(reply, reason)
    }
}

/// Reads a proof and checks all but its signature.
fn read_proof(proof: Option<&str>, registered: Option<&dbsc::Jwk>) -> Result<Unverified, Refusal> {
    let proof = proof.ok_or(Refusal::Proof(ProofError::Missing))?;
    proof::read(proof, registered).map_err(Refusal::Proof)
}

impl Gate<'_> {
    /// `Set-Cookie` that drops the bound cookie, when device binding is on:
    /// a session's end is its DBSC session's end too.
    pub(super) fn bound_cookie_clear(&self) -> Option<String> {
        let binding = &self.config.device_binding;
        binding.is_on().then(|| binding.cookie.clear())
    }

    /// `Secure-Session-Registration` for a session just started, when
    /// device binding is on.
    pub(super) fn registration_offer(
        &self,
        hash: &IdHash,
        now: u64,
    ) -> Option<(&'static str, String)> {
        let binding = &self.config.device_binding;
        // Without randomness there is no challenge, and the session goes
        // unoffered: as for a browser without DBSC.
        let challenge = binding
            .is_on()
            .then(|| binding.challenge(hash, now).ok())??;
        Some((dbsc::REGISTRATION_HEADER, binding.registration(&challenge)))
    }
}
