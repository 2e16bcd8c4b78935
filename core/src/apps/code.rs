//! The one-time code that carries a sign-in from `AUTH_HOST` to an app's
//! host (DESIGN §16). It is 32 random bytes, kept in KV only as its hash
//! (`c:<hash>`) for at most [`CODE_LIFETIME`] seconds, and bound to the
//! app, the host and the path it was made for, to the sign-in it comes
//! from, and to the browser that asked for it: the app's host set a
//! nonce cookie before sending the browser to `AUTH_HOST`, and the code
//! holds the nonce's hash. A code stolen from a URL is no use without
//! that cookie, and it is used once.

use crate::token::{IdHash, SessionId};

/// Seconds a code lives: KV's shortest `expirationTtl`, and far longer
/// than the redirect it rides on.
pub const CODE_LIFETIME: u64 = 60;
/// The record format this code writes and reads.
pub const CODE_VERSION: u8 = 1;

/// What a code stands for, as stored under [`key`]: its fields, one a
/// line, in this order (none can hold a line break: an app name, an
/// origin, a path that is a safe `return_to`, base64url, a user id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    pub v: u8,
    /// The app it may be exchanged at.
    pub app: String,
    /// `host[:port]` it may be exchanged at.
    pub authority: String,
    /// Where the browser lands once it is exchanged.
    pub path: String,
    /// The hash of the nonce cookie of the browser that asked for it.
    pub binding: String,
    /// The sign-in's id hash.
    pub signin: String,
    /// Its user, checked against the sign-in's record.
    pub uid: String,
    /// Unix seconds after which it is refused, whatever KV still holds.
    pub exp: u64,
}

/// Why a code is refused; each is a log reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// No code, or one KV does not hold: made up, used, or expired there.
    Unknown,
    /// Past its [`CODE_LIFETIME`].
    Expired,
    /// Made for another app, or another of the app's hosts.
    WrongApp,
    /// The browser lacks the nonce cookie the code is bound to.
    OtherBrowser,
    /// The sign-in it comes from has ended.
    SigninEnded,
}

impl CodeError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Unknown => "code_unknown",
            Self::Expired => "code_expired",
            Self::WrongApp => "code_wrong_app",
            Self::OtherBrowser => "code_other_browser",
            Self::SigninEnded => "code_signin_ended",
        }
    }
}

/// KV key of a code.
pub fn key(code: &SessionId) -> String {
    format!("c:{}", code.hash())
}

/// The binding of a nonce: its hash, as a code keeps it.
pub fn binding(nonce: &SessionId) -> String {
    nonce.hash().to_string()
}

impl CodeRecord {
    /// The stored form.
    pub fn to_text(&self) -> String {
        let exp = self.exp.to_string();
        let version = self.v.to_string();
        let fields = [
            version.as_str(),
            &self.app,
            &self.authority,
            &self.path,
            &self.binding,
            &self.signin,
            &self.uid,
            &exp,
        ];
        fields.join("\n")
    }

    fn from_text(stored: &str) -> Option<Self> {
        let mut fields = stored.split('\n').map(str::to_owned);
        let mut next = || fields.next();
        let record = Self {
            v: next()?.parse().ok()?,
            app: next()?,
            authority: next()?,
            path: next()?,
            binding: next()?,
            signin: next()?,
            uid: next()?,
            exp: next()?.parse().ok()?,
        };
        next().is_none().then_some(record)
    }

    /// Reads a stored code and checks it may be exchanged now, at
    /// `authority` (`host[:port]`) of `app`, by the browser holding `nonce`.
    pub fn check(
        stored: &str,
        app: &str,
        authority: &str,
        nonce: Option<&SessionId>,
        now: u64,
    ) -> Result<Self, CodeError> {
        let record = Self::from_text(stored)
            .filter(|record| record.v == CODE_VERSION)
            .ok_or(CodeError::Unknown)?;
        if now >= record.exp {
            return Err(CodeError::Expired);
        }
        if record.app != app || !record.authority.eq_ignore_ascii_case(authority) {
            return Err(CodeError::WrongApp);
        }
        let bound = nonce.is_some_and(|nonce| {
            subtle::ConstantTimeEq::ct_eq(binding(nonce).as_bytes(), record.binding.as_bytes())
                .into()
        });
        if !bound {
            return Err(CodeError::OtherBrowser);
        }
        Ok(record)
    }

    /// The sign-in's id hash.
    pub fn signin(&self) -> Option<IdHash> {
        self.signin.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn nonce(byte: u8) -> SessionId {
        SessionId::from_bytes([byte; 32])
    }

    fn stored() -> String {
        CodeRecord {
            v: CODE_VERSION,
            app: "wiki".into(),
            authority: "wiki.example.com".into(),
            path: "/page".into(),
            binding: binding(&nonce(1)),
            signin: SessionId::from_bytes([9; 32]).hash().to_string(),
            uid: "alice".into(),
            exp: NOW + CODE_LIFETIME,
        }
        .to_text()
    }

    #[test]
    fn a_code_is_exchanged_only_where_when_and_by_whom_it_was_made_for() {
        let at = |app, origin, nonce: Option<&SessionId>, now| {
            CodeRecord::check(&stored(), app, origin, nonce, now)
        };
        let wiki = "wiki.example.com";
        assert_eq!(
            at("wiki", wiki, Some(&nonce(1)), NOW).unwrap().path,
            "/page"
        );
        assert_eq!(
            at("wiki", wiki, Some(&nonce(1)), NOW + CODE_LIFETIME),
            Err(CodeError::Expired)
        );
        assert_eq!(
            at("tools", wiki, Some(&nonce(1)), NOW),
            Err(CodeError::WrongApp)
        );
        assert_eq!(
            at(
                "wiki",
                "https://docs.example-tools.net",
                Some(&nonce(1)),
                NOW
            ),
            Err(CodeError::WrongApp)
        );
        assert_eq!(
            at("wiki", wiki, Some(&nonce(2)), NOW),
            Err(CodeError::OtherBrowser)
        );
        assert_eq!(at("wiki", wiki, None, NOW), Err(CodeError::OtherBrowser));
        let (whole, extra) = (stored(), format!("{}\nextra", stored()));
        for garbled in ["", "{}", &extra, &whole[1..]] {
            assert_eq!(
                CodeRecord::check(garbled, "wiki", wiki, Some(&nonce(1)), NOW),
                Err(CodeError::Unknown),
                "{garbled:?}"
            );
        }
    }

    #[test]
    fn only_hashes_are_stored() {
        let code = nonce(7);
        assert!(!key(&code).contains(&code.to_string()));
        assert!(!stored().contains(&nonce(1).to_string()));
    }
}
