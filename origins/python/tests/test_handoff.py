"""sign_handoff: the Sessiongate-Login header value, checked with PyJWT."""

from __future__ import annotations

import time

import jwt
import pytest

from sessiongate_origin import LOGIN_HEADER, LOGOUT_ALL, LOGOUT_CURRENT, LOGOUT_HEADER, HandoffError, sign_handoff

KEY = "handoff-key-of-at-least-32-chars!"
NOW = 1_700_000_000


def read(token: str, now: int = NOW) -> dict:
    """What the edge reads: HS256 under HANDOFF_KEY, exp checked."""
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"require": ["sub", "exp"], "verify_exp": False})
    assert now < claims["exp"] <= now + 120
    return claims


def code(**kwargs) -> str:
    kwargs.setdefault("key", KEY)
    kwargs.setdefault("now", NOW)
    sub = kwargs.pop("sub", "alice")
    with pytest.raises(HandoffError) as info:
        sign_handoff(sub, **kwargs)
    return info.value.code


def test_a_bare_handoff_names_the_user_and_expires_in_a_minute() -> None:
    assert read(sign_handoff("alice", key=KEY, now=NOW)) == {"sub": "alice", "exp": NOW + 60}


def test_a_full_handoff_carries_claims_email_groups_and_auth_time() -> None:
    token = sign_handoff(
        "zoë 日本",
        key=KEY,
        claims={"role": "admin", "tenant": "t1"},
        email="zoe@example.com",
        groups=("admins", "staff"),
        auth_time=NOW - 120,
        ttl=120,
        now=NOW,
    )
    assert read(token) == {
        "sub": "zoë 日本",
        "exp": NOW + 120,
        "claims": {"role": "admin", "tenant": "t1"},
        "email": "zoe@example.com",
        "groups": ["admins", "staff"],
        "auth_time": NOW - 120,
    }


def test_the_clock_is_the_default_now() -> None:
    before = int(time.time())
    claims = jwt.decode(sign_handoff("alice", key=KEY), KEY, algorithms=["HS256"])  # checks exp
    assert before + 60 <= claims["exp"] <= int(time.time()) + 60


def test_another_key_does_not_verify_it() -> None:
    token = sign_handoff("alice", key=KEY, now=NOW)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-key-of-at-least-32-chars!!", algorithms=["HS256"], options={"verify_exp": False})


def test_keys_shorter_than_32_characters_are_refused() -> None:
    assert code(key="short") == "weak_key"
    assert code(key="k" * 31) == "weak_key"
    token = sign_handoff("alice", key="k" * 32, now=NOW)
    assert jwt.decode(token, "k" * 32, algorithms=["HS256"], options={"verify_exp": False})["sub"] == "alice"


@pytest.mark.parametrize("sub", ["", " alice", "alice ", "a\nb", "a\x00b", "a\x7fb", "a\u0085b", "é" * 129, 7, None])
def test_bad_user_ids_are_refused(sub) -> None:
    assert code(sub=sub) == "bad_sub"


@pytest.mark.parametrize("sub", ["a", "é" * 128, "x" * 256, "a b", "user@example.com", "UTF-8''x"])
def test_user_ids_within_bounds_are_signed(sub) -> None:
    assert read(sign_handoff(sub, key=KEY, now=NOW))["sub"] == sub


@pytest.mark.parametrize("ttl", [0, -1, 121, 60.0, True, "60"])
def test_ttl_is_1_to_120_seconds(ttl) -> None:
    assert code(ttl=ttl) == "bad_ttl"


def test_claims_are_strings_within_1_kib() -> None:
    assert code(claims={"role": 1}) == "bad_claims"
    assert code(claims={1: "x"}) == "bad_claims"
    assert code(claims=["role"]) == "bad_claims"
    # {"k":"<v>"} is 8 bytes of JSON around the value.
    assert read(sign_handoff("a", key=KEY, claims={"k": "v" * 1016}, now=NOW))["claims"]["k"] == "v" * 1016
    assert code(claims={"k": "v" * 1017}) == "claims_too_large"
    assert code(claims={"k": "é" * 509}) == "claims_too_large", "bytes of UTF-8, not characters"


@pytest.mark.parametrize("email", ["ada", "a@b@c", "a b@c.d", "@example.com", "ada@", "a\t@b", "", 5])
def test_bad_emails_are_refused(email) -> None:
    assert code(email=email) == "bad_email"


def test_groups_are_at_most_64_non_empty_strings_within_2_kib() -> None:
    assert code(groups="admins") == "bad_groups"
    assert code(groups=["admins", ""]) == "bad_groups"
    assert code(groups=["a\nb"]) == "bad_groups"
    assert code(groups=["a", 1]) == "bad_groups"
    assert code(groups=[f"g{i}" for i in range(65)]) == "too_many_groups"
    assert len(read(sign_handoff("a", key=KEY, groups=[f"g{i}" for i in range(64)], now=NOW))["groups"]) == 64
    assert code(groups=["x" * 40] * 50) == "groups_too_large"
    assert read(sign_handoff("a", key=KEY, groups=[], now=NOW))["groups"] == []


def test_auth_time_is_whole_seconds_not_in_the_future() -> None:
    assert read(sign_handoff("a", key=KEY, auth_time=NOW, now=NOW))["auth_time"] == NOW
    assert code(auth_time=NOW + 1) == "auth_time_in_future"
    assert code(auth_time=NOW - 0.5) == "bad_auth_time"
    assert code(auth_time=True) == "bad_auth_time"
    assert code(auth_time=-1) == "bad_auth_time"


def test_header_names() -> None:
    assert (LOGIN_HEADER, LOGOUT_HEADER, LOGOUT_CURRENT, LOGOUT_ALL) == (
        "Sessiongate-Login",
        "Sessiongate-Logout",
        "current",
        "all",
    )
