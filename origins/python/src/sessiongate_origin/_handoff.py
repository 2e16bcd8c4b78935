"""The login handoff: the ``Sessiongate-Login`` response header."""

from __future__ import annotations

import json
import time
import unicodedata
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import jwt

from ._errors import HandoffError
from ._verifier import MIN_KEY_LEN

__all__ = [
    "MAX_CLAIMS_BYTES",
    "MAX_EMAIL_LEN",
    "MAX_GROUPS",
    "MAX_GROUPS_BYTES",
    "MAX_HANDOFF_AHEAD",
    "MAX_USER_ID_LEN",
    "sign_handoff",
]

#: Furthest ahead a handoff's ``exp`` may lie, in seconds.
MAX_HANDOFF_AHEAD = 120
#: Longest user id, in UTF-8 bytes.
MAX_USER_ID_LEN = 256
#: Largest ``claims``, as compact JSON, in bytes.
MAX_CLAIMS_BYTES = 1024
#: Longest email address, in UTF-8 bytes.
MAX_EMAIL_LEN = 320
#: Most groups.
MAX_GROUPS = 64
#: Largest ``groups``, as compact JSON, in bytes.
MAX_GROUPS_BYTES = 2048


def _is_control(c: str) -> bool:
    # Rust's char::is_control, which the edge applies: general category Cc.
    return unicodedata.category(c) == "Cc"


def _json_size(value: Any, code: str, what: str) -> int:
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    except UnicodeEncodeError:
        raise HandoffError(code, f"{what} hold a string that is not valid Unicode") from None


def _utf8_len(value: str, code: str, what: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise HandoffError(code, f"{what} is not valid Unicode") from None


def _check_sub(sub: Any) -> str:
    if not isinstance(sub, str):
        raise HandoffError("bad_sub", "sub (the user id) must be a string")
    size = _utf8_len(sub, "bad_sub", "sub")
    if not 1 <= size <= MAX_USER_ID_LEN:
        raise HandoffError("bad_sub", f"sub must be 1 to {MAX_USER_ID_LEN} bytes of UTF-8, not {size}")
    if any(_is_control(c) for c in sub):
        raise HandoffError("bad_sub", "sub must not contain control characters")
    if sub != sub.strip():
        raise HandoffError("bad_sub", "sub must not begin or end with white space")
    return sub


def _check_claims(claims: Any) -> Dict[str, str]:
    if not isinstance(claims, Mapping):
        raise HandoffError("bad_claims", "claims must be a mapping of strings to strings")
    out: Dict[str, str] = {}
    for k, v in claims.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise HandoffError("bad_claims", "claims must map strings to strings")
        out[k] = v
    size = _json_size(out, "bad_claims", "claims")
    if size > MAX_CLAIMS_BYTES:
        raise HandoffError(
            "claims_too_large", f"claims are {size} bytes as JSON, over {MAX_CLAIMS_BYTES}"
        )
    return out


def _check_email(email: Any) -> str:
    if not isinstance(email, str):
        raise HandoffError("bad_email", "email must be a string")
    size = _utf8_len(email, "bad_email", "email")
    if not 1 <= size <= MAX_EMAIL_LEN:
        raise HandoffError("bad_email", f"email must be 1 to {MAX_EMAIL_LEN} bytes")
    if any(c.isspace() or _is_control(c) for c in email):
        raise HandoffError("bad_email", "email must not contain white space or control characters")
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain:
        raise HandoffError("bad_email", "email must be local@domain")
    return email


def _check_groups(groups: Any) -> List[str]:
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Iterable):
        raise HandoffError("bad_groups", "groups must be a list of strings")
    items = list(groups)
    if len(items) > MAX_GROUPS:
        raise HandoffError("too_many_groups", f"{len(items)} groups, over {MAX_GROUPS}")
    checked: List[str] = []
    for g in items:
        if not isinstance(g, str) or not g or any(_is_control(c) for c in g):
            raise HandoffError(
                "bad_groups", "each group must be a non-empty string without control characters"
            )
        checked.append(g)
    size = _json_size(checked, "bad_groups", "groups")
    if size > MAX_GROUPS_BYTES:
        raise HandoffError(
            "groups_too_large", f"groups are {size} bytes as JSON, over {MAX_GROUPS_BYTES}"
        )
    return checked


def sign_handoff(
    sub: str,
    *,
    key: Union[str, bytes],
    claims: Optional[Mapping[str, str]] = None,
    email: Optional[str] = None,
    groups: Optional[Iterable[str]] = None,
    auth_time: Optional[int] = None,
    ttl: int = 60,
    now: Optional[int] = None,
) -> str:
    """The ``Sessiongate-Login`` header value that starts a session for
    ``sub``: an HS256 JWT under ``key`` (the edge's ``HANDOFF_KEY``).

    Answer your login form's POST with it, once you have checked the
    credentials. ``claims`` (strings, at most 1 KiB as JSON) ride in every
    assertion of the session, as do ``email`` and ``groups`` (at most 64);
    ``auth_time`` is when the user entered credentials, if earlier than now
    (the edge takes now when it is absent). The handoff expires ``ttl``
    seconds from ``now`` (1 to 120; default 60).

    Raises :class:`HandoffError` for anything the edge would refuse.
    """
    if isinstance(key, str):
        long_enough, key_bytes = len(key) >= MIN_KEY_LEN, key.encode("utf-8")
    elif isinstance(key, (bytes, bytearray)):
        long_enough, key_bytes = len(key) >= MIN_KEY_LEN, bytes(key)
    else:
        raise HandoffError("weak_key", "key is the edge's HANDOFF_KEY, a string")
    if not long_enough:
        raise HandoffError("weak_key", f"key (HANDOFF_KEY) must be at least {MIN_KEY_LEN} characters")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_HANDOFF_AHEAD:
        raise HandoffError("bad_ttl", f"ttl must be a whole number of seconds, 1 to {MAX_HANDOFF_AHEAD}")
    if now is None:
        now = int(time.time())
    payload: Dict[str, Any] = {"sub": _check_sub(sub), "exp": int(now) + ttl}
    if claims is not None:
        payload["claims"] = _check_claims(claims)
    if email is not None:
        payload["email"] = _check_email(email)
    if groups is not None:
        payload["groups"] = _check_groups(groups)
    if auth_time is not None:
        if isinstance(auth_time, bool) or not isinstance(auth_time, int) or auth_time < 0:
            raise HandoffError("bad_auth_time", "auth_time must be whole Unix seconds")
        if auth_time > now:
            raise HandoffError("auth_time_in_future", "auth_time must not be in the future")
        payload["auth_time"] = auth_time
    token = jwt.encode(payload, key_bytes, algorithm="HS256", headers={"typ": "JWT"})
    return token if isinstance(token, str) else token.decode("ascii")
