//! Sign-in at the edge with an OpenID Connect provider (DESIGN §12): the
//! authorization code flow with PKCE, the ID token checked against the
//! provider's keys, a session started as a login handoff starts one, and
//! back-channel logout.
//!
//! Everything here is pure. The gate's `oidc` stage asks for the provider's
//! documents, the token exchange and the signature checks as steps; the
//! driver fetches and verifies (WebCrypto), and this module reads what
//! comes back: [`metadata`] (discovery and keys), [`state`] (the state
//! cookie), [`token`] (ID and logout tokens).

pub mod failure;
pub mod metadata;
pub mod state;
pub mod token;

use serde_json::{Map, Value};

use crate::key::HmacKey;
use crate::session::{check_claims, check_email, check_groups, Claims, GroupsError, MAX_GROUPS};

use crate::token::KeyRing;
pub use failure::SigninError;

/// The edge's endpoints.
pub const START_PATH: &str = "/.sessiongate/oidc/start";
pub const CALLBACK_PATH: &str = "/.sessiongate/oidc/callback";
pub const BACKCHANNEL_PATH: &str = "/.sessiongate/oidc/backchannel-logout";
/// Where a browser goes after logging out, to be sent on to the
/// provider's logout (RP-Initiated Logout) when it has one.
pub const END_SESSION_PATH: &str = "/.sessiongate/oidc/end-session";
pub const DEFAULT_SCOPES: &str = "openid email profile";
pub const DEFAULT_CLAIMS: &str = "email,name";
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// The provider and who may sign in through it, checked.
#[derive(Debug, Clone)]
pub struct Oidc {
    /// Exactly as configured: discovery and every token must name it.
    pub issuer: String,
    pub client_id: String,
    client_secret: String,
    /// Space-separated, `openid` among them.
    pub scopes: String,
    /// The callback URL registered with the provider; `None`: the
    /// request's origin with [`CALLBACK_PATH`].
    pub redirect_uri: Option<String>,
    pub allow: AllowList,
    /// ID-token (or userinfo) claims that become session claims.
    pub claims: Vec<String>,
    /// Key of the state cookie's tag, derived from the session keys.
    pub(crate) state_key: HmacKey,
}

impl Oidc {
    /// Reads the `OIDC_*` variables: `Ok(None)` when `OIDC_ISSUER` and
    /// `OIDC_CLIENT_ID` are both unset; each problem names its variable.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        keys: Option<&KeyRing>,
    ) -> Result<Option<Self>, Vec<(&'static str, String)>> {
        let (issuer, client_id) = (get("OIDC_ISSUER"), get("OIDC_CLIENT_ID"));
        if issuer.is_none() && client_id.is_none() {
            return Ok(None);
        }
        Self::read(issuer, client_id, &get, keys).map(Some)
    }

    /// The rest of [`Oidc::from_lookup`], once a provider is named. Out of
    /// line: wasm functions are compiled on their first call, so an
    /// isolate without a provider never compiles this (bench/RESULTS.md).
    #[inline(never)]
    fn read(
        issuer: Option<String>,
        client_id: Option<String>,
        get: &dyn Fn(&str) -> Option<String>,
        keys: Option<&KeyRing>,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let mut check = |var: &'static str, result: Result<String, String>| {
            result.map_err(|problem| errors.push((var, problem))).ok()
        };
        let half = "is not set, but OIDC_ISSUER or OIDC_CLIENT_ID is";
        let issuer = check(
            "OIDC_ISSUER",
            issuer
                .ok_or_else(|| half.to_owned())
                .and_then(|v| endpoint_url(v.trim())),
        );
        let client_id = check("OIDC_CLIENT_ID", client_id.ok_or_else(|| half.to_owned()));
        let client_secret = check(
            "OIDC_CLIENT_SECRET",
            get("OIDC_CLIENT_SECRET").ok_or_else(|| half.to_owned()),
        );
        let scopes = check(
            "OIDC_SCOPES",
            Ok(get("OIDC_SCOPES").unwrap_or_else(|| DEFAULT_SCOPES.to_owned())).and_then(|v| {
                let scopes: Vec<&str> = v.split_whitespace().collect();
                if scopes.contains(&"openid") {
                    Ok(scopes.join(" "))
                } else {
                    Err("must include openid".to_owned())
                }
            }),
        );
        let redirect_uri = match get("OIDC_REDIRECT_URI") {
            Some(v) => check(
                "OIDC_REDIRECT_URI",
                endpoint_url(v.trim()).and_then(|url| {
                    if url.ends_with(CALLBACK_PATH) {
                        Ok(url)
                    } else {
                        Err(format!("must end with {CALLBACK_PATH}"))
                    }
                }),
            )
            .map(Some),
            None => Some(None),
        };
        let list = |var: &str| -> Vec<String> {
            get(var)
                .unwrap_or_default()
                .split(',')
                .map(|v| v.trim().to_ascii_lowercase())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let allow = AllowList {
            emails: list("OIDC_ALLOWED_EMAILS"),
            domains: list("OIDC_ALLOWED_DOMAINS"),
            groups: get("OIDC_ALLOWED_GROUPS")
                .unwrap_or_default()
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect(),
            groups_claim: get("OIDC_GROUPS_CLAIM")
                .unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.to_owned()),
        };
        if allow.is_empty() {
            errors.push((
                "OIDC_ALLOWED_EMAILS",
                "no one may sign in: set OIDC_ALLOWED_EMAILS, OIDC_ALLOWED_DOMAINS (* for any verified email) or OIDC_ALLOWED_GROUPS".to_owned(),
            ));
        }
        let claims: Vec<String> = get("OIDC_CLAIMS")
            .unwrap_or_else(|| DEFAULT_CLAIMS.to_owned())
            .split(',')
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
        match (issuer, client_id, client_secret, scopes, redirect_uri, keys) {
            (
                Some(issuer),
                Some(client_id),
                Some(client_secret),
                Some(scopes),
                Some(redirect_uri),
                Some(keys),
            ) if errors.is_empty() => Ok(Self {
                issuer,
                client_id,
                client_secret,
                scopes,
                redirect_uri,
                allow,
                claims,
                state_key: keys
                    .derive(b"sessiongate oidc state v1")
                    .primary_key()
                    .clone(),
            }),
            _ => Err(errors),
        }
    }

    /// `Authorization: Basic …` for the token endpoint (RFC 6749 §2.3.1:
    /// both parts form-encoded first).
    pub fn basic_auth(&self) -> String {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine as _;
        let pair = format!(
            "{}:{}",
            form_encode(&self.client_id),
            form_encode(&self.client_secret)
        );
        format!("Basic {}", STANDARD.encode(pair))
    }

    /// The callback URL, given the request's origin (`scheme://host`).
    pub fn redirect_uri_for(&self, origin: &str) -> String {
        match &self.redirect_uri {
            Some(uri) => uri.clone(),
            None => format!("{origin}{CALLBACK_PATH}"),
        }
    }

    /// Where the provider sends the browser after its logout: this site's
    /// root, on the origin of the registered callback when one is set
    /// (the URL a worker sees may not be the browser's).
    pub fn post_logout_uri_for(&self, origin: &str) -> String {
        let site = self
            .redirect_uri
            .as_deref()
            .and_then(|uri| uri.strip_suffix(CALLBACK_PATH))
            .unwrap_or(origin);
        format!("{site}/")
    }
}

/// `<issuer>/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// An `https` URL, or `http` on the loopback only (for local development
/// and tests): an identity provider is never trusted over plain HTTP.
pub fn endpoint_url(v: &str) -> Result<String, String> {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|prefix| {
            v.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    let https = v
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    let clean = !v.bytes().any(|b| b <= b' ' || b == b'#' || b == 0x7f);
    if (https || loopback) && clean {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "{v:?} is not an https URL (http is allowed on the loopback only)"
        ))
    }
}

/// Who may sign in: any rule that matches lets the user in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    /// Lower-cased addresses.
    pub emails: Vec<String>,
    /// Lower-cased domains; `*` is any.
    pub domains: Vec<String>,
    pub groups: Vec<String>,
    /// The claim that lists the user's groups.
    pub groups_claim: String,
}

/// Why a user who signed in at the provider may not sign in here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// An email rule would match, but the provider has not verified it.
    EmailNotVerified,
    NotAllowed,
}

impl Refused {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::EmailNotVerified => "email_not_verified",
            Self::NotAllowed => "not_allowed",
        }
    }
}

impl AllowList {
    fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.domains.is_empty() && self.groups.is_empty()
    }

    /// Whether the user these claims describe may sign in. Email rules
    /// count only for an address the provider says it verified.
    pub fn admits(&self, claims: &Map<String, Value>) -> Result<(), Refused> {
        let in_group = claims.get(&self.groups_claim).is_some_and(|groups| {
            let named = |g: &Value| {
                g.as_str()
                    .is_some_and(|g| self.groups.iter().any(|a| a == g))
            };
            match groups {
                Value::Array(list) => list.iter().any(named),
                one => named(one),
            }
        });
        if in_group {
            return Ok(());
        }
        let Some(email) = claims.get("email").and_then(Value::as_str) else {
            return Err(Refused::NotAllowed);
        };
        let email = email.to_ascii_lowercase();
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        let listed = self.emails.contains(&email)
            || (!domain.is_empty() && self.domains.iter().any(|d| d == "*" || d == domain));
        if !listed {
            return Err(Refused::NotAllowed);
        }
        if email_verified(claims) {
            Ok(())
        } else {
            Err(Refused::EmailNotVerified)
        }
    }

    /// Whether admitting needs claims beyond `sub`: an email, or groups.
    pub fn needs(&self) -> impl Iterator<Item = &str> {
        let email = !(self.emails.is_empty() && self.domains.is_empty());
        email
            .then_some(["email", "email_verified"])
            .into_iter()
            .flatten()
            .chain((!self.groups.is_empty()).then_some(self.groups_claim.as_str()))
    }

    /// The claims the session's identity is made of: the email, whether it
    /// is verified, and the groups.
    pub fn identity_claims(&self) -> [&str; 3] {
        ["email", "email_verified", self.groups_claim.as_str()]
    }

    /// The user's groups, from [`groups_claim`](Self::groups_claim): a list
    /// of strings, or one string for one group; none when absent or null.
    /// Anything else, or a list past the bounds of `session::check_groups`,
    /// is refused.
    pub fn groups_of(&self, claims: &Map<String, Value>) -> Result<Vec<String>, GroupsError> {
        let groups = match claims.get(&self.groups_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(list)) if list.len() > MAX_GROUPS => {
                return Err(GroupsError::TooMany)
            }
            Some(Value::Array(list)) => list
                .iter()
                .map(|g| g.as_str().map(str::to_owned).ok_or(GroupsError::Bad))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(GroupsError::Bad),
        };
        check_groups(&groups)?;
        Ok(groups)
    }
}

/// Whether the provider says it verified the user's email. Some providers
/// send the flag as a string.
fn email_verified(claims: &Map<String, Value>) -> bool {
    matches!(claims.get("email_verified"), Some(Value::Bool(true)))
        || claims.get("email_verified").and_then(Value::as_str) == Some("true")
}

/// The user's email for the session: only one the provider says it
/// verified, as the allow-list counts only those. A verified address that
/// is not one (`session::check_email`) is refused.
pub fn verified_email(claims: &Map<String, Value>) -> Result<Option<String>, SigninError> {
    match claims.get("email").and_then(Value::as_str) {
        Some(email) if email_verified(claims) => match check_email(email) {
            Ok(()) => Ok(Some(email.to_owned())),
            Err(_) => Err(SigninError::BadEmail),
        },
        _ => Ok(None),
    }
}

/// The session claims: each configured claim the user has, as a string
/// (a list of strings is joined with commas; objects are left out).
pub fn session_claims(
    names: &[String],
    claims: &Map<String, Value>,
) -> Result<Claims, &'static str> {
    let mut out = Claims::new();
    for name in names {
        let value = match claims.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => continue,
        };
        out.insert(name.clone(), value);
    }
    check_claims(&out)?;
    Ok(out)
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `name=value&…`, each encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn keys() -> KeyRing {
        KeyRing::new(vec![(
            crate::token::Kid::parse("k1").unwrap(),
            HmacKey::new(&[1; 32]),
        )])
        .unwrap()
    }

    const FULL: [(&str, &str); 4] = [
        ("OIDC_ISSUER", "https://id.example.com"),
        ("OIDC_CLIENT_ID", "app"),
        ("OIDC_CLIENT_SECRET", "s3cret"),
        ("OIDC_ALLOWED_DOMAINS", "Example.com"),
    ];

    #[test]
    fn unset_is_off_and_a_full_configuration_reads_with_defaults() {
        assert!(Oidc::from_lookup(lookup(&[]), Some(&keys()))
            .unwrap()
            .is_none());
        let oidc = Oidc::from_lookup(lookup(&FULL), Some(&keys()))
            .unwrap()
            .unwrap();
        assert_eq!(oidc.scopes, "openid email profile");
        assert_eq!(oidc.claims, ["email", "name"]);
        assert_eq!(oidc.allow.domains, ["example.com"]);
        assert_eq!(
            discovery_url(&oidc.issuer),
            "https://id.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            oidc.redirect_uri_for("https://app.example.com"),
            "https://app.example.com/.sessiongate/oidc/callback"
        );
        assert_eq!(oidc.basic_auth(), "Basic YXBwOnMzY3JldA==");
    }

    #[test]
    fn half_or_wrong_configurations_name_each_variable() {
        let errors = Oidc::from_lookup(
            lookup(&[("OIDC_ISSUER", "http://id.example.com")]),
            Some(&keys()),
        )
        .unwrap_err();
        let vars: Vec<&str> = errors.iter().map(|(v, _)| *v).collect();
        assert_eq!(
            vars,
            [
                "OIDC_ISSUER",
                "OIDC_CLIENT_ID",
                "OIDC_CLIENT_SECRET",
                "OIDC_ALLOWED_EMAILS"
            ]
        );
        let mut no_openid = FULL.to_vec();
        no_openid.push(("OIDC_SCOPES", "email profile"));
        let errors = Oidc::from_lookup(lookup(&no_openid), Some(&keys())).unwrap_err();
        assert_eq!(errors[0].0, "OIDC_SCOPES");
        let mut bad_redirect = FULL.to_vec();
        bad_redirect.push(("OIDC_REDIRECT_URI", "https://app.example.com/callback"));
        assert_eq!(
            Oidc::from_lookup(lookup(&bad_redirect), Some(&keys())).unwrap_err()[0].0,
            "OIDC_REDIRECT_URI"
        );
    }

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        for good in [
            "https://id.example.com",
            "https://id.example.com/realms/x",
            "http://127.0.0.1:9000",
            "http://localhost",
        ] {
            assert!(endpoint_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://id.example.com",
            "http://127.0.0.1.evil.example",
            "https://",
            "ftp://x",
            "https://a b",
            "https:///x",
        ] {
            assert!(endpoint_url(bad).is_err(), "{bad}");
        }
    }

    fn allow(emails: &[&str], domains: &[&str], groups: &[&str]) -> AllowList {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        AllowList {
            emails: own(emails),
            domains: own(domains),
            groups: own(groups),
            groups_claim: "groups".into(),
        }
    }

    #[test]
    fn the_allow_list_admits_verified_emails_domains_and_groups() {
        let verified = |email: &str| {
            json!({ "email": email, "email_verified": true })
                .as_object()
                .unwrap()
                .clone()
        };
        let rules = allow(&["carol@partner.example"], &["example.com"], &["staff"]);
        assert_eq!(rules.admits(&verified("Alice@Example.com")), Ok(()));
        assert_eq!(rules.admits(&verified("carol@partner.example")), Ok(()));
        assert_eq!(
            rules.admits(&verified("dave@partner.example")),
            Err(Refused::NotAllowed)
        );
        assert_eq!(
            rules.admits(&verified("eve@example.com.evil.example")),
            Err(Refused::NotAllowed)
        );
        let unverified = json!({ "email": "mallory@example.com", "email_verified": false });
        assert_eq!(
            rules.admits(unverified.as_object().unwrap()),
            Err(Refused::EmailNotVerified)
        );
        let staff = json!({ "groups": ["staff"] });
        assert_eq!(rules.admits(staff.as_object().unwrap()), Ok(()));
        assert_eq!(rules.admits(&Map::new()), Err(Refused::NotAllowed));
        assert_eq!(
            allow(&[], &["*"], &[]).admits(&verified("x@anywhere.example")),
            Ok(())
        );
        assert_eq!(
            rules.needs().collect::<Vec<_>>(),
            ["email", "email_verified", "groups"]
        );
    }

    #[test]
    fn the_identity_takes_only_a_verified_email() {
        let of = |v: Value| verified_email(v.as_object().unwrap()).map_err(|e| e.as_str());
        assert_eq!(
            of(json!({ "email": "alice@example.com", "email_verified": true })),
            Ok(Some("alice@example.com".into()))
        );
        assert_eq!(
            of(json!({ "email": "alice@example.com", "email_verified": "true" })),
            Ok(Some("alice@example.com".into()))
        );
        for unverified in [
            json!({ "email": "mallory@example.com", "email_verified": false }),
            json!({ "email": "mallory@example.com" }),
            json!({ "email_verified": true }),
        ] {
            assert_eq!(of(unverified.clone()), Ok(None), "{unverified}");
        }
        assert_eq!(
            of(json!({ "email": "not an address", "email_verified": true })),
            Err("bad_email")
        );
    }

    #[test]
    fn groups_come_from_the_groups_claim_within_bounds() {
        let rules = AllowList {
            groups_claim: "roles".into(),
            ..allow(&[], &["*"], &[])
        };
        let of = |v: Value| {
            rules
                .groups_of(v.as_object().unwrap())
                .map_err(|e| e.as_str())
        };
        assert_eq!(
            of(json!({ "roles": ["admins", "staff"], "groups": ["x"] })),
            Ok(vec!["admins".into(), "staff".into()])
        );
        assert_eq!(of(json!({ "roles": "admins" })), Ok(vec!["admins".into()]));
        assert_eq!(of(json!({ "groups": ["x"] })), Ok(Vec::new()));
        assert_eq!(of(json!({ "roles": null })), Ok(Vec::new()));
        assert_eq!(of(json!({ "roles": ["a", 1] })), Err("bad_groups"));
        assert_eq!(of(json!({ "roles": { "a": 1 } })), Err("bad_groups"));
        assert_eq!(of(json!({ "roles": [""] })), Err("bad_groups"));
        let many: Vec<String> = (0..65).map(|i| format!("g{i}")).collect();
        assert_eq!(of(json!({ "roles": many })), Err("too_many_groups"));
        let wide: Vec<String> = (0..64).map(|i| format!("{i:0>40}")).collect();
        assert_eq!(of(json!({ "roles": wide })), Err("groups_too_large"));
        assert_eq!(
            rules.identity_claims(),
            ["email", "email_verified", "roles"]
        );
    }

    #[test]
    fn session_claims_are_strings_within_the_limit() {
        let claims = json!({ "email": "a@b.c", "email_verified": true, "groups": ["x", "y"], "address": { "x": 1 } });
        let names: Vec<String> = ["email", "email_verified", "groups", "address", "absent"]
            .map(String::from)
            .to_vec();
        let out = session_claims(&names, claims.as_object().unwrap()).unwrap();
        assert_eq!(out.get("groups").map(String::as_str), Some("x,y"));
        assert_eq!(out.get("email_verified").map(String::as_str), Some("true"));
        assert_eq!(out.len(), 3);
        let big = json!({ "email": "a".repeat(2000) });
        assert!(session_claims(&names, big.as_object().unwrap()).is_err());
    }

    #[test]
    fn forms_encode_everything_but_unreserved_characters() {
        assert_eq!(form(&[("a b", "c&d=é/")]), "a%20b=c%26d%3D%C3%A9%2F");
    }
}
