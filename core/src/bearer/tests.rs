use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::*;

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://id.example.com";
const AUD: &str = "https://api.example.com";

fn bearer() -> Bearer {
    Bearer {
        audience: AUD.into(),
        issuer: ISS.into(),
        max_lifetime: DEFAULT_MAX_LIFETIME,
    }
}

fn token(header: Value, claims: Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.c2ln", enc(&header), enc(&claims))
}

fn access_header() -> Value {
    json!({ "alg": "RS256", "typ": "at+jwt", "kid": "k1" })
}

fn access_claims() -> Value {
    json!({ "iss": ISS, "aud": AUD, "sub": "ci-bot", "client_id": "ci-bot",
            "scope": "deploy:write  read", "iat": NOW - 10, "exp": NOW + 600, "jti": "j1" })
}

/// `claims` with each of `changes` set, or removed where it is null.
fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

fn check(header: Value, claims: Value) -> Result<Client, TokenError> {
    let text = token(header, claims);
    bearer().check(&Bearer::parse(&text)?, &text, NOW)
}

#[test]
fn an_access_token_names_its_client_subject_and_scope() {
    let client = check(access_header(), access_claims()).unwrap();
    assert_eq!(client.sub, "ci-bot");
    assert_eq!(client.client_id, "ci-bot");
    assert_eq!(client.scope, "deploy:write read");
    assert_eq!(
        client.scopes().collect::<Vec<_>>(),
        ["deploy:write", "read"]
    );
    assert_eq!(client.issued_at, NOW - 10);
    assert_eq!(client.sid.len(), 16);
    assert!(client.sid.bytes().all(|b| b.is_ascii_hexdigit()));
    let other = check(
        access_header(),
        with(access_claims(), json!({ "jti": "j2" })),
    )
    .unwrap();
    assert_ne!(client.sid, other.sid, "the sid follows the jti");
    let no_jti = check(
        access_header(),
        with(access_claims(), json!({ "jti": null })),
    )
    .unwrap();
    assert_eq!(
        no_jti.sid.len(),
        16,
        "a token without jti is named by its hash"
    );
    let unscoped = check(
        access_header(),
        with(access_claims(), json!({ "scope": null })),
    )
    .unwrap();
    assert_eq!(unscoped.scope, "");
}

#[test]
fn only_typed_access_tokens_are_read() {
    for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let header = json!({ "alg": "ES256", "typ": typ });
        assert!(check(header, access_claims()).is_ok(), "{typ}");
    }
    // An ID token (`JWT` or untyped), a logout token: never an access token.
    for header in [
        json!({ "alg": "RS256", "typ": "JWT" }),
        json!({ "alg": "RS256" }),
        json!({ "alg": "RS256", "typ": "logout+jwt" }),
        json!({ "alg": "RS256", "typ": 7 }),
    ] {
        assert!(check(header.clone(), access_claims()).is_err(), "{header}");
    }
    assert_eq!(
        check(json!({ "alg": "RS256", "typ": "JWT" }), access_claims()).unwrap_err(),
        TokenError::NotAccessToken
    );
    for alg in ["none", "HS256", "RS512", "PS256"] {
        let header = json!({ "alg": alg, "typ": "at+jwt" });
        assert_eq!(
            check(header, access_claims()),
            Err(TokenError::AlgUnsupported),
            "{alg}"
        );
    }
    let crit = json!({ "alg": "RS256", "typ": "at+jwt", "crit": ["exp"] });
    assert_eq!(
        check(crit, access_claims()),
        Err(TokenError::AlgUnsupported)
    );
}

#[test]
fn malformed_and_oversized_tokens_are_refused_before_their_claims() {
    for text in ["", "a.b", "a.b.c.d", "!!.!!.!!", "Bearer x, Bearer y"] {
        assert_eq!(
            Bearer::parse(text).unwrap_err(),
            TokenError::Malformed,
            "{text:?}"
        );
    }
    let huge = token(
        access_header(),
        with(access_claims(), json!({ "pad": "x".repeat(17_000) })),
    );
    assert_eq!(Bearer::parse(&huge).unwrap_err(), TokenError::TooLong);
}

#[test]
fn each_claim_is_checked() {
    let max = DEFAULT_MAX_LIFETIME;
    let cases = [
        (
            json!({ "iss": "https://evil.example" }),
            TokenError::WrongIssuer,
        ),
        (json!({ "iss": format!("{ISS}/") }), TokenError::WrongIssuer),
        (json!({ "iss": null }), TokenError::WrongIssuer),
        (
            json!({ "aud": "https://other.example.com" }),
            TokenError::WrongAudience,
        ),
        (json!({ "aud": ["a", "b"] }), TokenError::WrongAudience),
        (json!({ "aud": null }), TokenError::WrongAudience),
        (json!({ "exp": null }), TokenError::NoExpiry),
        (json!({ "exp": "soon" }), TokenError::NoExpiry),
        (json!({ "exp": NOW - LEEWAY }), TokenError::Expired),
        (json!({ "iat": null }), TokenError::NoIssueTime),
        (
            json!({ "iat": NOW + LEEWAY + 1 }),
            TokenError::IssuedInFuture,
        ),
        (json!({ "nbf": NOW + LEEWAY + 1 }), TokenError::NotYetValid),
        (json!({ "nbf": "later" }), TokenError::Malformed),
        (
            json!({ "iat": NOW - 10, "exp": NOW - 10 + max + 1 }),
            TokenError::LifetimeTooLong,
        ),
        (json!({ "client_id": null }), TokenError::NoClientId),
        (json!({ "client_id": "" }), TokenError::NoClientId),
        (json!({ "client_id": 7 }), TokenError::NoClientId),
        (json!({ "sub": null }), TokenError::NoSubject),
        (json!({ "sub": "" }), TokenError::BadSubject),
        (json!({ "scope": ["a", "b"] }), TokenError::Malformed),
        (
            json!({ "cnf": { "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" } }),
            TokenError::SenderConstrained,
        ),
    ];
    for (change, reason) in cases {
        assert_eq!(
            check(access_header(), with(access_claims(), change.clone())),
            Err(reason),
            "{change}"
        );
    }
    // Within the leeway, and at the limits, a token passes.
    let edges = [
        json!({ "aud": ["https://other.example.com", AUD] }),
        json!({ "exp": NOW - LEEWAY + 1 }),
        json!({ "iat": NOW + LEEWAY, "exp": NOW + LEEWAY + 60 }),
        json!({ "nbf": NOW + LEEWAY }),
        json!({ "iat": NOW - 10, "exp": NOW - 10 + max }),
    ];
    for change in edges {
        assert!(
            check(access_header(), with(access_claims(), change.clone())).is_ok(),
            "{change}"
        );
    }
}
