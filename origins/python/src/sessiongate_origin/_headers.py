"""Header names, header lookup and the ``X-Sessiongate-User`` encoding."""

from __future__ import annotations

from typing import Any, Optional

from ._errors import InvalidAssertion, InvalidUserHeader

__all__ = [
    "ASSERTION_HEADER",
    "LOGIN_HEADER",
    "LOGOUT_ALL",
    "LOGOUT_CURRENT",
    "LOGOUT_HEADER",
    "USER_HEADER",
    "USER_HEADER_PREFIX",
    "decode_user_header",
    "encode_user_header",
]

#: Request header carrying the signed identity assertion (a JWT).
ASSERTION_HEADER = "Sessiongate-Assertion"
#: Request header carrying the user id, for convenience (see
#: :func:`decode_user_header`). The assertion's ``sub`` is the proof.
USER_HEADER = "X-Sessiongate-User"
#: Response header that logs a user in (see :func:`sign_handoff`).
LOGIN_HEADER = "Sessiongate-Login"
#: Response header that logs the user out: :data:`LOGOUT_CURRENT` or
#: :data:`LOGOUT_ALL`.
LOGOUT_HEADER = "Sessiongate-Logout"
#: ``Sessiongate-Logout`` value ending the session the request came with.
LOGOUT_CURRENT = "current"
#: ``Sessiongate-Logout`` value ending every session of the user.
LOGOUT_ALL = "all"

#: What an encoded ``X-Sessiongate-User`` value starts with (RFC 8187).
USER_HEADER_PREFIX = "UTF-8''"

# RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "."
# / "^" / "_" / "`" / "|" / "~". Every other byte is percent-encoded.
_ATTR_CHARS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~"
)
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _is_visible_ascii(value: str) -> bool:
    return all("\x21" <= c <= "\x7e" for c in value)


def encode_user_header(user_id: str) -> str:
    """The ``X-Sessiongate-User`` value the edge sends for ``user_id``: the
    id itself when every character is visible ASCII (0x21-0x7E) and it does
    not start with ``UTF-8''``; otherwise ``UTF-8''`` and the percent-encoded
    UTF-8 bytes (upper-case hex for every byte that is not an attr-char)."""
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("a user id is a non-empty string")
    if _is_visible_ascii(user_id) and not user_id.startswith(USER_HEADER_PREFIX):
        return user_id
    encoded = "".join(
        chr(b) if b in _ATTR_CHARS else f"%{b:02X}" for b in user_id.encode("utf-8")
    )
    return USER_HEADER_PREFIX + encoded


def decode_user_header(value: str | bytes) -> str:
    """The user id an ``X-Sessiongate-User`` value names.

    A plain value (visible ASCII, not starting with ``UTF-8''``) is the id
    itself; ``UTF-8''`` followed by attr-chars and ``%XX`` escapes is decoded
    as UTF-8. Anything else (an empty value, a space or non-ASCII character
    in a plain value, a bad escape, a character an encoded value may not
    hold, bytes that are not UTF-8) raises :class:`InvalidUserHeader`.

    The header is a convenience: the assertion's ``sub``
    (:attr:`Identity.sub`) is what the edge vouches for.
    """
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    if not isinstance(value, str):
        raise InvalidUserHeader("the header value is not a string")
    if not value.startswith(USER_HEADER_PREFIX):
        if not value:
            raise InvalidUserHeader("the header is empty")
        if not _is_visible_ascii(value):
            raise InvalidUserHeader(
                "a plain value holds only visible ASCII (0x21-0x7E); "
                "anything else is sent as UTF-8''<percent-encoded>"
            )
        return value
    rest = value[len(USER_HEADER_PREFIX) :]
    if not rest:
        raise InvalidUserHeader("the encoded user id is empty")
    try:
        raw = rest.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidUserHeader("an encoded value holds only ASCII") from None
    out = bytearray()
    i = 0
    while i < len(raw):
        b = raw[i]
        if b == 0x25:  # "%"
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not all(h in _HEX for h in pair):
                raise InvalidUserHeader(f"bad percent-escape at offset {i}")
            out.append(int(pair, 16))
            i += 3
        elif b in _ATTR_CHARS:
            out.append(b)
            i += 1
        else:
            raise InvalidUserHeader(
                f"{chr(b)!r} must be percent-encoded in an encoded value"
            )
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUserHeader("the decoded bytes are not UTF-8") from None


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return str(value)


def get_single_header(headers: Any, name: str) -> Optional[str]:
    """The one value of header ``name`` (case-insensitive) in ``headers``.

    ``headers`` may be any mapping (a ``dict`` in any letter case,
    Starlette's ``Headers``, Django's ``request.headers``, a WSGI-style
    ``environ`` with ``HTTP_*`` keys) or a sequence of ``(name, value)``
    pairs of ``str`` or ``bytes`` (ASGI's ``scope["headers"]``). ``None``
    when absent. A header sent twice raises ``InvalidAssertion("malformed")``
    where the container shows it (a sequence of pairs, a ``getlist``).
    """
    lname = name.lower()
    if hasattr(headers, "keys") and hasattr(headers, "__getitem__"):
        getlist = getattr(headers, "getlist", None) or getattr(headers, "get_all", None)
        if callable(getlist):
            try:
                values = list(getlist(name))
            except Exception:  # noqa: BLE001 - not the multi-value API we know
                values = None
            if values is not None:
                if len(values) > 1:
                    raise InvalidAssertion("malformed", f"more than one {name} header")
                if values:
                    return _text(values[0])
        found = []
        environ_name = "HTTP_" + lname.upper().replace("-", "_")
        for key in headers.keys():
            k = _text(key)
            if k.lower() == lname or k == environ_name:
                found.append(headers[key])
        if len(found) > 1:
            raise InvalidAssertion("malformed", f"more than one {name} header")
        return _text(found[0]) if found else None
    found = [v for k, v in headers if _text(k).lower() == lname]
    if len(found) > 1:
        raise InvalidAssertion("malformed", f"more than one {name} header")
    return _text(found[0]) if found else None
