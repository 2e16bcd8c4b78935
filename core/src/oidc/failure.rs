//! Why a sign-in with the provider, or its back-channel logout, failed:
//! one variant per way, each the log's reason through `as_str()` (DESIGN
//! §12), and whose trouble it is: the provider's (502/503) or the user's.

use super::metadata::ProviderError;
use super::state::StateError;
use super::token::TokenError;
use super::Refused;
use crate::session::GroupsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigninError {
    /// `max_age` on the login URL is not a number of seconds.
    MaxAgeInvalid,
    /// The state cookie, or the `state` parameter against it.
    State(StateError),
    /// The provider answered the callback with `error=…`.
    ProviderRefused,
    /// Neither a code nor an error came back.
    CodeMissing,
    /// RFC 9207: the callback names another issuer, or none where its
    /// provider promised one (mix-up).
    IssuerMismatch,
    /// The token endpoint refused the code: replayed, expired, not ours.
    TokenExchangeRefused,
    /// The token endpoint's answer is not a token response.
    TokenResponseInvalid,
    /// The ID or logout token: read, signature or claims.
    Token(TokenError),
    /// The provider's discovery document or keys could not be had.
    Provider(ProviderError),
    /// The userinfo answer is not JSON, or names another user.
    UserinfoInvalid,
    /// The allow-list does not admit the account.
    NotAllowed(Refused),
    /// The configured claims do not fit a session record.
    ClaimsTooLarge,
    /// A verified email that is not an address.
    BadEmail,
    /// The groups claim: not a string or a list of strings, or past a
    /// session's bounds.
    Groups(GroupsError),
    /// The back-channel logout request carries no `logout_token`.
    LogoutTokenMissing,
    /// A logout token already used in this isolate.
    LogoutTokenReused,
    /// The flow resumed without a step awaited: a bug, not a user's doing.
    Internal,
}

impl SigninError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MaxAgeInvalid => "max_age_invalid",
            Self::State(e) => e.as_str(),
            Self::ProviderRefused => "provider_refused",
            Self::CodeMissing => "code_missing",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::TokenExchangeRefused => "token_exchange_refused",
            Self::TokenResponseInvalid => "token_response_invalid",
            Self::Token(e) => e.as_str(),
            Self::Provider(e) => e.as_str(),
            Self::UserinfoInvalid => "userinfo_invalid",
            Self::NotAllowed(e) => e.as_str(),
            Self::ClaimsTooLarge => "claims_too_large",
            Self::BadEmail => "bad_email",
            Self::Groups(e) => e.as_str(),
            Self::LogoutTokenMissing => "logout_token_missing",
            Self::LogoutTokenReused => "logout_token_reused",
            Self::Internal => "internal",
        }
    }

    /// The provider's trouble rather than the user's: answered 502 to a
    /// browser, 503 to the provider's back channel.
    pub fn is_providers(&self) -> bool {
        matches!(
            self,
            Self::Provider(_) | Self::TokenResponseInvalid | Self::UserinfoInvalid | Self::Internal
        )
    }
}
