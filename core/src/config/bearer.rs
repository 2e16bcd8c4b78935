//! Machine clients (docs/DESIGN.md §8, §15): `BEARER_AUDIENCE`, which turns
//! them on, `BEARER_ISSUER` (by default `OIDC_ISSUER`) and
//! `BEARER_MAX_LIFETIME`.

use super::value::duration_within;
use super::Vars;
use crate::bearer::{Bearer, DEFAULT_MAX_LIFETIME};
use crate::oidc::endpoint_url;

/// Longest `BEARER_MAX_LIFETIME`: a day. A bearer token is as good as a
/// password while it lives, and cannot be revoked here.
const MAX_LIFETIME: u64 = 86_400;

/// `Some(None)` when `BEARER_AUDIENCE` is unset and nothing else of the
/// section is: a half configuration is an error, never silently off.
pub(super) fn read(vars: &mut Vars) -> Option<Option<Bearer>> {
    let Some(audience) = vars.get("BEARER_AUDIENCE") else {
        for var in ["BEARER_ISSUER", "BEARER_MAX_LIFETIME"] {
            if vars.get(var).is_some() {
                vars.report(var, "is set, but BEARER_AUDIENCE is not".to_owned());
            }
        }
        return Some(None);
    };
    let settings = settings(vars)?;
    vars.check("BEARER_ISSUER", settings.for_audience(&audience))
        .map(Some)
}

/// What every app's machine clients share: `BEARER_ISSUER` (by default
/// `OIDC_ISSUER`) and `BEARER_MAX_LIFETIME`.
pub(super) struct Settings {
    issuer: Option<String>,
    max_lifetime: u64,
}

impl Settings {
    /// Machine clients whose tokens name `audience`.
    pub fn for_audience(&self, audience: &str) -> Result<Bearer, String> {
        let issuer = self
            .issuer
            .clone()
            .ok_or("is not set, and neither is OIDC_ISSUER: BEARER_AUDIENCE needs an issuer")?;
        Ok(Bearer {
            audience: audience.trim().to_owned(),
            issuer,
            max_lifetime: self.max_lifetime,
        })
    }
}

/// `None` when a setting is wrong (recorded).
pub(super) fn settings(vars: &mut Vars) -> Option<Settings> {
    let issuer = vars
        .get("BEARER_ISSUER")
        .or_else(|| vars.get("OIDC_ISSUER"))
        .map(|issuer| vars.check("BEARER_ISSUER", endpoint_url(issuer.trim())));
    let max_lifetime = match vars.get("BEARER_MAX_LIFETIME") {
        Some(v) => vars.check(
            "BEARER_MAX_LIFETIME",
            duration_within(&v, 60..=MAX_LIFETIME),
        ),
        None => Some(DEFAULT_MAX_LIFETIME),
    };
    Some(Settings {
        issuer: match issuer {
            Some(checked) => Some(checked?),
            None => None,
        },
        max_lifetime: max_lifetime?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse, problems};

    #[test]
    fn bearer_tokens_are_off_unless_an_audience_is_set() {
        assert_eq!(parse(&[]).unwrap().apps.get(0).bearer, None);
        let oidc = [
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_CLIENT_ID", "app"),
            ("OIDC_CLIENT_SECRET", "secret"),
            ("OIDC_ALLOWED_DOMAINS", "example.com"),
        ];
        let config =
            parse(&[&oidc[..], &[("BEARER_AUDIENCE", "https://api.example.com")]].concat())
                .unwrap();
        let bearer = config.apps.get(0).bearer.clone().unwrap();
        assert_eq!(bearer.issuer, "https://id.example.com");
        assert_eq!(bearer.max_lifetime, 3600);
    }

    #[test]
    fn half_or_bad_settings_name_their_variable() {
        assert_eq!(
            problems(&[("BEARER_ISSUER", "https://id.example.com")]),
            "BEARER_ISSUER: is set, but BEARER_AUDIENCE is not"
        );
        assert_eq!(
            problems(&[("BEARER_MAX_LIFETIME", "5m")]),
            "BEARER_MAX_LIFETIME: is set, but BEARER_AUDIENCE is not"
        );
        assert_eq!(
            problems(&[("BEARER_AUDIENCE", "api")]),
            "BEARER_ISSUER: is not set, and neither is OIDC_ISSUER: BEARER_AUDIENCE needs an issuer"
        );
        let audience = ("BEARER_AUDIENCE", "api");
        assert!(
            problems(&[audience, ("BEARER_ISSUER", "http://id.example.com")])
                .starts_with("BEARER_ISSUER: \"http://id.example.com\" is not an https URL")
        );
        assert_eq!(
            problems(&[
                audience,
                ("BEARER_ISSUER", "https://id.example.com"),
                ("BEARER_MAX_LIFETIME", "2d")
            ]),
            "BEARER_MAX_LIFETIME: must be between 60s and 86400s"
        );
        let config = parse(&[
            audience,
            ("BEARER_ISSUER", "http://127.0.0.1:9090"),
            ("BEARER_MAX_LIFETIME", "15m"),
        ])
        .unwrap();
        assert_eq!(config.apps.get(0).bearer.clone().unwrap().max_lifetime, 900);
    }
}
