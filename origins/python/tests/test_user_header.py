"""X-Sessiongate-User: plain visible ASCII, else UTF-8'' and percent-encoding."""

from __future__ import annotations

import pytest

from sessiongate_origin import USER_HEADER, InvalidUserHeader, decode_user_header, encode_user_header


@pytest.mark.parametrize(
    "header, user_id",
    [
        ("alice", "alice"),
        ("a,b", "a,b"),  # visible ASCII: sent plain
        ("user@example.com", "user@example.com"),
        ("%41", "%41"),  # plain: a percent sign is just a character
        ("UTF-8''zo%C3%AB", "zoë"),
        ("UTF-8''%E6%97%A5%E6%9C%AC", "日本"),
        ("UTF-8''a%20b", "a b"),
        ("UTF-8''UTF-8%27%27x", "UTF-8''x"),
        ("UTF-8''zo%c3%ab", "zoë"),  # lower-case hex is still hex
        ("UTF-8''!#$&+-.^_`|~", "!#$&+-.^_`|~"),
        (b"UTF-8''zo%C3%AB", "zoë"),  # raw header bytes
    ],
)
def test_decode(header, user_id) -> None:
    assert decode_user_header(header) == user_id


@pytest.mark.parametrize(
    "user_id, header",
    [
        ("alice", "alice"),
        ("a,b", "a,b"),
        ("zoë", "UTF-8''zo%C3%AB"),
        ("日本", "UTF-8''%E6%97%A5%E6%9C%AC"),
        ("a b", "UTF-8''a%20b"),
        ("UTF-8''x", "UTF-8''UTF-8%27%27x"),
        ("a,b c", "UTF-8''a%2Cb%20c"),
        ("50%", "50%"),
        ("50% off", "UTF-8''50%25%20off"),
    ],
)
def test_encode_is_what_the_edge_sends(user_id, header) -> None:
    assert encode_user_header(user_id) == header
    assert decode_user_header(header) == user_id


@pytest.mark.parametrize(
    "header",
    [
        "",
        "a b",  # a space is never sent plain
        "zoë",  # nor a non-ASCII character
        "a\tb",
        "UTF-8''",
        "UTF-8''zo%C3",  # truncated UTF-8
        "UTF-8''%FF",  # not UTF-8
        "UTF-8''%G1",
        "UTF-8''%4",
        "UTF-8''abc%",
        "UTF-8''a b",
        "UTF-8''a,b",  # "," is not an attr-char: it must be encoded
        "UTF-8''a'b",
        "UTF-8''zoë",
    ],
)
def test_malformed_values_raise(header) -> None:
    with pytest.raises(InvalidUserHeader):
        decode_user_header(header)


def test_invalid_user_header_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        decode_user_header("UTF-8''%ZZ")


def test_header_name() -> None:
    assert USER_HEADER == "X-Sessiongate-User"
