"""Verifier: good assertions, and every refusal, with pinned keys and HS256."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json

import jwt
import pytest
from conftest import (
    AUDIENCE,
    DROP,
    HS256_KEY,
    NOW,
    Signer,
    assertion,
    b64url,
    claims,
    jwks_of,
)

from sessiongate_origin import (
    ASSERTION_HEADER,
    ConfigurationError,
    Identity,
    InvalidAssertion,
    Verifier,
    verify_assertion,
)


def headers_with(token: str) -> dict:
    return {"sessiongate-assertion": token}


def code_of(verifier: Verifier, token: str, method: str = "GET", target: str = "/orders?page=2", now: int = NOW) -> str:
    with pytest.raises(InvalidAssertion) as info:
        verifier.verify(method, target, headers_with(token), now=now)
    return info.value.code


@pytest.fixture(scope="module")
def other_es256() -> Signer:
    return Signer.es256("es-1")  # same kid, another key


@pytest.fixture
def pinned(es256: Signer, eddsa: Signer) -> Verifier:
    return Verifier(AUDIENCE, jwks=jwks_of(es256, eddsa))


@pytest.fixture
def shared() -> Verifier:
    return Verifier(AUDIENCE, hs256_key=HS256_KEY)


# --- Good assertions ---------------------------------------------------------


@pytest.mark.parametrize("signer_name", ["es256", "eddsa"])
def test_a_good_assertion_verifies_for_each_public_key_alg(request, pinned: Verifier, signer_name: str) -> None:
    signer = request.getfixturevalue(signer_name)
    token = signer.sign(
        claims(
            sub="zoë 日本",
            email="zoe@example.com",
            groups=["admins", "staff"],
            claims={"role": "admin", "tenant": "t1"},
            device_bound=True,
            auth_time=NOW - 900,
        )
    )
    identity = pinned.verify("GET", "/orders?page=2", headers_with(token), now=NOW + 10)
    assert identity == Identity(
        sub="zoë 日本",
        sid="AbCdEfGhIjKlMnOp",
        kind="session",
        email="zoe@example.com",
        groups=("admins", "staff"),
        claims={"role": "admin", "tenant": "t1"},
        client_id=None,
        scope=None,
        auth_time=NOW - 900,
        device_bound=True,
        iat=NOW,
        exp=NOW + 60,
    )
    assert identity.in_group("admins") and not identity.in_group("admin")
    assert not identity.is_bearer and not identity.has_scope("read")


def test_absent_optional_claims_read_as_their_defaults(pinned: Verifier, es256: Signer) -> None:
    token = es256.sign(claims(claims=DROP, groups=DROP, device_bound=DROP, kind=DROP))
    identity = pinned.verify("GET", "/orders?page=2", headers_with(token), now=NOW)
    assert (identity.claims, identity.groups, identity.device_bound, identity.kind, identity.email) == (
        {},
        (),
        False,
        "session",
        None,
    )


def test_a_machine_clients_identity_names_the_client_and_its_scopes(pinned: Verifier, eddsa: Signer) -> None:
    token = eddsa.sign(
        claims(method="POST", htu="/api/deploy", sub="ci-bot", kind="bearer", client_id="ci-bot", scope="deploy:write read")
    )
    identity = pinned.verify("POST", "/api/deploy", headers_with(token), now=NOW)
    assert identity.is_bearer and identity.client_id == "ci-bot"
    assert identity.scopes == ("deploy:write", "read")
    assert identity.has_scope("deploy:write") and identity.has_scope("read")
    assert not identity.has_scope("deploy"), "whole scopes only"
    assert not identity.has_scope("")


def test_identity_is_frozen(pinned: Verifier, es256: Signer) -> None:
    identity = pinned.verify("GET", "/orders?page=2", headers_with(assertion(es256)), now=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.sub = "mallory"  # type: ignore[misc]


# --- Refusals ----------------------------------------------------------------


def test_another_keys_signature_is_refused(pinned: Verifier, other_es256: Signer) -> None:
    assert code_of(pinned, assertion(other_es256)) == "bad_signature"


def test_a_tampered_payload_is_refused(pinned: Verifier, eddsa: Signer) -> None:
    head, _, sig = assertion(eddsa).split(".")
    forged = b64url(json.dumps(claims(sub="mallory")).encode())
    assert code_of(pinned, f"{head}.{forged}.{sig}") == "bad_signature"


@pytest.mark.parametrize("signer_name", ["es256", "eddsa"])
def test_hs256_signed_with_the_public_key_is_refused(request, pinned: Verifier, signer_name: str) -> None:
    """Algorithm confusion: an attacker who knows the public key signs HS256
    with its bytes, hoping the verifier feeds that key to HMAC."""
    signer = request.getfixturevalue(signer_name)
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signer.kid}).encode())
    body = b64url(json.dumps(claims()).encode())
    for key_bytes in (signer.public_pem(), json.dumps(signer.jwk()).encode()):
        sig = hmac.new(key_bytes, f"{head}.{body}".encode(), hashlib.sha256).digest()
        assert code_of(pinned, f"{head}.{body}.{b64url(sig)}") == "alg_not_allowed"
    # PyJWT itself, asked to check HS256 under a PEM public key, refuses too.
    sig = hmac.new(signer.public_pem(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    with pytest.raises(jwt.InvalidKeyError):
        jwt.decode(f"{head}.{body}.{b64url(sig)}", signer.public_pem(), algorithms=["HS256"])


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "", None, "HS512", "RS256", "ES384"])
def test_other_algs_are_refused_before_any_key_is_used(pinned: Verifier, es256: Signer, alg) -> None:
    header = {"alg": alg, "typ": "JWT", "kid": es256.kid}
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims()).encode())
    assert code_of(pinned, f"{head}.{body}.") == "alg_not_allowed"
    assert code_of(pinned, f"{head}.{body}.c2ln") == "alg_not_allowed"


def test_a_kid_of_another_algorithm_is_refused(pinned: Verifier, es256: Signer, eddsa: Signer) -> None:
    """An EdDSA signature naming the EC key's kid: the key decides the alg."""
    token = eddsa.sign(claims(), header={"alg": "EdDSA", "typ": "JWT", "kid": es256.kid})
    assert code_of(pinned, token) == "alg_not_allowed"


def test_unknown_and_missing_kids_are_refused(pinned: Verifier) -> None:
    stranger = Signer.ed25519("ed-unknown")
    assert code_of(pinned, assertion(stranger)) == "unknown_kid"
    no_kid = Signer.ed25519(None)  # type: ignore[arg-type]
    assert code_of(pinned, assertion(no_kid)) == "unknown_kid"


def test_the_wrong_audience_or_issuer_is_refused(pinned: Verifier, es256: Signer) -> None:
    assert code_of(pinned, assertion(es256, aud="other-app")) == "wrong_audience"
    assert code_of(pinned, assertion(es256, iss="sessiongate2")) == "wrong_issuer"
    assert code_of(pinned, assertion(es256, iss="https://id.example.com")) == "wrong_issuer"


def test_an_assertion_replayed_to_another_request_is_refused(pinned: Verifier, es256: Signer) -> None:
    token = assertion(es256, method="GET", htu="/orders?page=2")
    assert code_of(pinned, token, method="POST") == "wrong_method"
    assert code_of(pinned, token, method="get") == "wrong_method"
    assert code_of(pinned, token, target="/orders?page=3") == "wrong_path"
    assert code_of(pinned, token, target="/orders") == "wrong_path"
    assert code_of(pinned, token, target="/admin?page=2") == "wrong_path"
    encoded = assertion(es256, htu="/files/a%7Eb")
    assert code_of(pinned, encoded, target="/files/a~b") == "wrong_path", "raw, not re-encoded"
    assert pinned.verify("GET", "/files/a%7Eb", headers_with(encoded), now=NOW).sub == "alice"


def test_an_empty_query_is_no_query(pinned: Verifier, es256: Signer) -> None:
    token = assertion(es256, htu="/search?")
    assert pinned.verify("GET", "/search", headers_with(token), now=NOW).sub == "alice"
    token = assertion(es256, htu="/search")
    assert pinned.verify("GET", "/search?", headers_with(token), now=NOW).sub == "alice"
    assert code_of(pinned, assertion(es256, htu="/search?q"), target="/search") == "wrong_path"


def test_expiry_and_leeway(es256: Signer) -> None:
    pinned = Verifier(AUDIENCE, jwks=jwks_of(es256))
    token = assertion(es256)  # iat NOW, exp NOW + 60
    assert pinned.verify("GET", "/orders?page=2", headers_with(token), now=NOW + 64).sub == "alice"
    assert code_of(pinned, token, now=NOW + 65) == "expired"
    strict = Verifier(AUDIENCE, jwks=jwks_of(es256), leeway=0)
    assert strict.verify("GET", "/orders?page=2", headers_with(token), now=NOW + 59).sub == "alice"
    assert code_of(strict, token, now=NOW + 60) == "expired"


def test_assertions_issued_in_the_future_are_refused(pinned: Verifier, es256: Signer) -> None:
    assert pinned.verify("GET", "/orders?page=2", headers_with(assertion(es256, at=NOW + 5)), now=NOW).sub == "alice"
    assert code_of(pinned, assertion(es256, at=NOW + 6)) == "issued_in_future"


def test_a_lifetime_over_60_seconds_is_refused(pinned: Verifier, es256: Signer) -> None:
    assert code_of(pinned, assertion(es256, exp=NOW + 61)) == "too_long"
    assert code_of(pinned, assertion(es256, exp=NOW + 3600)) == "too_long"


def test_verification_uses_the_clock_when_now_is_not_given(pinned: Verifier, es256: Signer) -> None:
    with pytest.raises(InvalidAssertion) as info:
        pinned.verify("GET", "/orders?page=2", headers_with(assertion(es256)))
    assert info.value.code == "expired"  # NOW is in 2023


def test_a_missing_or_empty_header_is_missing(pinned: Verifier) -> None:
    for headers in ({}, {"authorization": "Bearer x"}, {"sessiongate-assertion": ""}, {"sessiongate-assertion": "  "}):
        with pytest.raises(InvalidAssertion) as info:
            pinned.verify("GET", "/", headers, now=NOW)
        assert info.value.code == "missing"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t + ".x",
        lambda t: t.rsplit(".", 1)[0],
        lambda t: "!!!." + t.split(".", 1)[1],
        lambda t: b64url(b"not json") + "." + t.split(".", 1)[1],
        lambda t: b64url(b"[1]") + "." + t.split(".", 1)[1],
        lambda t: "a" * 9000,
    ],
    ids=["four-parts", "two-parts", "bad-base64", "header-not-json", "header-not-object", "over-8KiB"],
)
def test_malformed_tokens_are_malformed(pinned: Verifier, es256: Signer, mutate) -> None:
    assert code_of(pinned, mutate(assertion(es256))) == "malformed"


@pytest.mark.parametrize(
    "overrides",
    [
        {"sid": DROP},
        {"sub": DROP},
        {"sub": 7},
        {"htu": DROP},
        {"auth_time": DROP},
        {"iat": "1700000000"},
        {"exp": 1700000060.5},
        {"iat": True},
        {"exp": -1},
        {"aud": ["my-app"]},
        {"groups": "admins"},
        {"groups": ["a", 1]},
        {"groups": None},
        {"claims": {"role": 1}},
        {"claims": ["role"]},
        {"device_bound": "yes"},
        {"kind": "robot"},
        {"email": 5},
        {"scope": ["read"]},
    ],
)
def test_claims_of_another_shape_are_malformed(pinned: Verifier, es256: Signer, overrides) -> None:
    assert code_of(pinned, assertion(es256, **overrides)) == "malformed"


def test_assertions_over_8_kib_are_refused_unread(pinned: Verifier, es256: Signer) -> None:
    big = assertion(es256, claims={"k": "v" * 8000})
    assert len(big) > 8 * 1024
    assert code_of(pinned, big) == "malformed"
    fits = assertion(es256, claims={"k": "v" * 5000})
    assert pinned.verify("GET", "/orders?page=2", headers_with(fits), now=NOW).claims["k"] == "v" * 5000


def test_a_payload_with_a_duplicate_claim_is_malformed(pinned: Verifier, es256: Signer) -> None:
    head = b64url(json.dumps(es256.header()).encode())
    text = json.dumps(claims())[:-1] + ', "sub": "mallory"}'
    body = b64url(text.encode())
    sig = b64url(es256.sign_input(f"{head}.{body}".encode()))
    assert code_of(pinned, f"{head}.{body}.{sig}") == "malformed"


def test_critical_header_extensions_and_other_types_are_refused(pinned: Verifier, es256: Signer) -> None:
    crit = es256.sign(claims(), header={**es256.header(), "crit": ["exp"], "exp": 1})
    assert code_of(pinned, crit) == "malformed"
    # RFC 7797's b64 (which PyJWT understands) is no more welcome.
    b64 = es256.sign(claims(), header={**es256.header(), "crit": ["b64"], "b64": True})
    assert code_of(pinned, b64) == "malformed"
    at_jwt = es256.sign(claims(), header={**es256.header(), "typ": "at+jwt"})
    assert code_of(pinned, at_jwt) == "malformed"
    no_typ = es256.sign(claims(), header={"alg": "ES256", "kid": es256.kid})
    assert pinned.verify("GET", "/orders?page=2", headers_with(no_typ), now=NOW).sub == "alice"


# --- Headers -----------------------------------------------------------------


def test_headers_may_be_any_mapping_or_list_of_pairs(pinned: Verifier, es256: Signer) -> None:
    token = assertion(es256)
    for headers in (
        {"Sessiongate-Assertion": token},
        {"SESSIONGATE-ASSERTION": token, "Accept": "*/*"},
        {"HTTP_SESSIONGATE_ASSERTION": token},  # a WSGI environ
        [(b"host", b"x"), (b"sessiongate-assertion", token.encode())],  # ASGI
        [("Sessiongate-Assertion", " " + token + " ")],
    ):
        assert pinned.verify("GET", "/orders?page=2", headers, now=NOW).sub == "alice", headers


def test_a_repeated_assertion_header_is_malformed(pinned: Verifier, es256: Signer) -> None:
    token = assertion(es256).encode()
    with pytest.raises(InvalidAssertion) as info:
        pinned.verify("GET", "/orders?page=2", [(b"sessiongate-assertion", token)] * 2, now=NOW)
    assert info.value.code == "malformed"


def test_verify_token_takes_the_header_value(pinned: Verifier, eddsa: Signer) -> None:
    assert pinned.verify_token(assertion(eddsa), "GET", "/orders?page=2", now=NOW).sub == "alice"
    assert ASSERTION_HEADER == "Sessiongate-Assertion"


# --- HS256 deployments ---------------------------------------------------------


def test_hs256_mode_verifies_shared_key_assertions(shared: Verifier, hs256: Signer) -> None:
    assert shared.algorithms == ("HS256",)
    assert shared.verify("GET", "/orders?page=2", headers_with(assertion(hs256)), now=NOW).sub == "alice"
    wrong = Signer.hs256("another-key-of-at-least-32-chars!!")
    assert code_of(shared, assertion(wrong)) == "bad_signature"
    assert code_of(shared, assertion(hs256, aud="other")) == "wrong_audience"


def test_hs256_mode_refuses_public_key_algs_and_none(shared: Verifier, es256: Signer, eddsa: Signer) -> None:
    assert code_of(shared, assertion(es256)) == "alg_not_allowed"
    assert code_of(shared, assertion(eddsa)) == "alg_not_allowed"
    head = b64url(b'{"alg":"none","typ":"JWT"}')
    assert code_of(shared, head + "." + b64url(json.dumps(claims()).encode()) + ".") == "alg_not_allowed"


def test_public_key_mode_refuses_hs256_even_under_the_right_secret(pinned: Verifier, hs256: Signer) -> None:
    assert pinned.algorithms == ("ES256", "EdDSA")
    assert code_of(pinned, assertion(hs256)) == "alg_not_allowed"


# --- Configuration -------------------------------------------------------------


def test_exactly_one_key_source(es256: Signer) -> None:
    with pytest.raises(ConfigurationError):
        Verifier(AUDIENCE)
    with pytest.raises(ConfigurationError):
        Verifier(AUDIENCE, jwks=jwks_of(es256), hs256_key=HS256_KEY)
    with pytest.raises(ConfigurationError):
        Verifier(AUDIENCE, jwks_url="https://x.example/.sessiongate/jwks.json", jwks=jwks_of(es256))
    with pytest.raises(ConfigurationError):
        Verifier("", hs256_key=HS256_KEY)


def test_bad_keys_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="32"):
        Verifier(AUDIENCE, hs256_key="short")
    with pytest.raises(ConfigurationError):
        Verifier(AUDIENCE, hs256_key="x" * 31)
    assert Verifier(AUDIENCE, hs256_key="x" * 32).algorithms == ("HS256",)
    with pytest.raises(ConfigurationError):
        Verifier(AUDIENCE, jwks_url="file:///etc/passwd")
    with pytest.raises(ConfigurationError):
        Verifier(AUDIENCE, jwks={"keys": []})
    rsa = {"kty": "RSA", "kid": "r", "n": b64url(b"\x01" * 256), "e": "AQAB"}
    secret = {"kty": "oct", "kid": "o", "k": b64url(b"k" * 32)}
    with pytest.raises(ConfigurationError):
        Verifier(AUDIENCE, jwks={"keys": [rsa, secret]})


def test_pinned_sets_skip_keys_that_never_verify_assertions(es256: Signer, eddsa: Signer) -> None:
    enc = {**eddsa.jwk(), "use": "enc"}
    mislabelled = {**es256.jwk(), "kid": "es-as-384", "alg": "ES384"}
    secret = {"kty": "oct", "kid": "o", "k": b64url(HS256_KEY.encode()), "alg": "HS256"}
    verifier = Verifier(AUDIENCE, jwks=json.dumps({"keys": [enc, mislabelled, secret, es256.jwk()]}))
    assert code_of(verifier, assertion(eddsa)) == "unknown_kid"
    assert verifier.verify("GET", "/orders?page=2", headers_with(assertion(es256)), now=NOW).sub == "alice"
    hs = Signer("HS256", "o", HS256_KEY.encode())
    assert code_of(verifier, assertion(hs)) == "alg_not_allowed"


def test_the_repr_keeps_the_shared_key_secret() -> None:
    assert HS256_KEY not in repr(Verifier(AUDIENCE, hs256_key=HS256_KEY))


def test_verify_assertion_is_the_one_call_form(es256: Signer, hs256: Signer) -> None:
    identity = verify_assertion(
        "GET", "/orders?page=2", headers_with(assertion(es256)), audience=AUDIENCE, jwks=jwks_of(es256), now=NOW
    )
    assert identity.sub == "alice"
    identity = verify_assertion(
        "GET", "/orders?page=2", headers_with(assertion(hs256)), audience=AUDIENCE, hs256_key=HS256_KEY, now=NOW
    )
    assert identity.sub == "alice"
    with pytest.raises(InvalidAssertion) as info:
        verify_assertion(
            "GET", "/orders?page=2", headers_with(assertion(es256)), audience=AUDIENCE, jwks=jwks_of(es256), leeway=0, now=NOW + 60
        )
    assert info.value.code == "expired"
