//! The bound cookie: `<kid>.<exp>.<tag>` ([`super::tag`]): its expiry,
//! tagged for one session. Checked on every request of
//! a bound session without I/O; only a proof of the device's key renews it.

use super::{tag, Binding};
use crate::cookie::{self, Presented};
use crate::token::{parse_stamp, IdHash};
/// Seconds a bound cookie is still accepted past its expiry: the browser
/// drops it at its `Max-Age` and refreshes first, and a request already on
/// its way then must not fail.
pub const GRACE: u64 = 5;

/// Why a bound session's request has no valid bound cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundCookieError {
    Missing,
    /// Two or more: one may have been planted.
    Many,
    /// Not a bound cookie of this session (altered, or another session's).
    Invalid,
    Expired,
}

impl BoundCookieError {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "bound cookie missing",
            Self::Many => "more than one bound cookie",
            Self::Invalid => "bound cookie is not this session's",
            Self::Expired => "bound cookie expired",
        }
    }
}

impl Binding {
    /// `Set-Cookie` of a fresh bound cookie for the session `hash`.
    pub fn bound_cookie(&self, hash: &IdHash, now: u64) -> String {
        let expires = now.saturating_add(self.refresh);
        let value = tag::seal(&self.cookie_keys, hash, &[&expires.to_string()]);
        self.cookie.set(&value, self.refresh)
    }

    /// Checks the bound cookie in a `Cookie` header against the session `hash`.
    pub fn check_bound_cookie(
        &self,
        header: Option<&str>,
        hash: &IdHash,
        now: u64,
    ) -> Result<(), BoundCookieError> {
        let raw = match header.map(|h| cookie::find(h, self.cookie.name())) {
            None | Some(Presented::Missing) => return Err(BoundCookieError::Missing),
            Some(Presented::Many) => return Err(BoundCookieError::Many),
            Some(Presented::One(raw)) => raw,
        };
        let invalid = BoundCookieError::Invalid;
        let [expires] = tag::open(&self.cookie_keys, hash, raw).ok_or(invalid)?;
        let expires = parse_stamp(expires).map_err(|_| invalid)?;
        // Minted with a lifetime of at most `refresh`: a later expiry
        // would be a cookie this configuration never issued.
        if expires > now.saturating_add(self.refresh) {
            return Err(invalid);
        }
        if now >= expires.saturating_add(GRACE) {
            return Err(BoundCookieError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dbsc::tests::binding;
    use crate::token::SessionId;

    const NOW: u64 = 1_700_000_000;

    fn hash(n: u8) -> IdHash {
        SessionId::from_bytes([n; 32]).hash()
    }

    /// The `Cookie` header a browser sends back for a `Set-Cookie`.
    fn sent(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_owned()
    }

    #[test]
    fn a_bound_cookie_holds_for_its_session_until_it_expires() {
        let binding = binding();
        let set = binding.bound_cookie(&hash(1), NOW);
        assert!(set.starts_with("__Host-sg-bound=k1."), "{set}");
        assert!(set.ends_with("; Max-Age=600"), "{set}");
        let header = format!("__Host-sg=x; {}", sent(&set));
        assert_eq!(
            binding.check_bound_cookie(Some(&header), &hash(1), NOW + 599),
            Ok(())
        );
        assert_eq!(
            binding.check_bound_cookie(Some(&header), &hash(1), NOW + 600 + GRACE),
            Err(BoundCookieError::Expired)
        );
        assert_eq!(
            binding.check_bound_cookie(Some(&header), &hash(2), NOW),
            Err(BoundCookieError::Invalid)
        );
    }

    #[test]
    fn missing_doubled_or_altered_bound_cookies_are_refused() {
        let binding = binding();
        let good = sent(&binding.bound_cookie(&hash(1), NOW));
        let stretched = good.replacen(&(NOW + 600).to_string(), &(NOW + 6000).to_string(), 1);
        let cases = [
            (None, BoundCookieError::Missing),
            (Some("__Host-sg=x".to_owned()), BoundCookieError::Missing),
            (Some(format!("{good}; {good}")), BoundCookieError::Many),
            (Some(stretched), BoundCookieError::Invalid),
            (
                Some(good.replacen("k1", "k9", 1)),
                BoundCookieError::Invalid,
            ),
            (
                Some("__Host-sg-bound=garbage".to_owned()),
                BoundCookieError::Invalid,
            ),
            (
                Some(format!("__Host-sg-bound={}", "A".repeat(500))),
                BoundCookieError::Invalid,
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                binding.check_bound_cookie(header.as_deref(), &hash(1), NOW),
                Err(expected),
                "{header:?}"
            );
        }
    }

    #[test]
    fn a_cookie_minted_for_a_longer_lifetime_is_refused() {
        let long = Binding {
            refresh: 6000,
            ..binding()
        };
        let header = sent(&long.bound_cookie(&hash(1), NOW));
        assert_eq!(
            binding().check_bound_cookie(Some(&header), &hash(1), NOW),
            Err(BoundCookieError::Invalid)
        );
    }
}
