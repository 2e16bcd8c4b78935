"""The exceptions this package raises."""

from __future__ import annotations

__all__ = [
    "ASSERTION_ERROR_CODES",
    "ConfigurationError",
    "HandoffError",
    "InvalidAssertion",
    "InvalidUserHeader",
    "KeySetUnavailable",
    "SessiongateError",
]

#: Every ``InvalidAssertion.code``.
ASSERTION_ERROR_CODES = (
    "missing",
    "malformed",
    "alg_not_allowed",
    "unknown_kid",
    "key_set_unavailable",
    "bad_signature",
    "wrong_issuer",
    "wrong_audience",
    "expired",
    "issued_in_future",
    "too_long",
    "wrong_method",
    "wrong_path",
)


class SessiongateError(Exception):
    """Base class of every error this package raises."""


class ConfigurationError(SessiongateError, ValueError):
    """A ``Verifier`` (or middleware) was set up wrongly: no key source or
    more than one, a shared key shorter than 32 characters, a key set with
    no usable key, an empty audience."""


class InvalidAssertion(SessiongateError):
    """The request's ``Sessiongate-Assertion`` was refused.

    ``code`` says why; it is one of :data:`ASSERTION_ERROR_CODES` and is
    safe to show to the client (the middlewares answer
    ``{"error": "unauthenticated", "reason": code}``).
    """

    def __init__(self, code: str, message: str | None = None) -> None:
        if code not in ASSERTION_ERROR_CODES:
            raise ValueError(f"unknown assertion error code {code!r}")
        self.code = code
        super().__init__(message or code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {str(self)!r})"


class KeySetUnavailable(InvalidAssertion):
    """The edge's key set (``jwks_url``) could not be fetched or held no
    usable key: the request may be fine, the origin cannot tell.
    ``code`` is ``"key_set_unavailable"``."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__("key_set_unavailable", message)


class InvalidUserHeader(SessiongateError, ValueError):
    """An ``X-Sessiongate-User`` value that is neither a plain visible-ASCII
    user id nor a well-formed ``UTF-8''`` percent-encoding."""


class HandoffError(SessiongateError, ValueError):
    """``sign_handoff`` was given something the edge would refuse.

    ``code`` names the problem with the edge's own reason where there is
    one (``bad_sub``, ``claims_too_large``, ``bad_email``, ``bad_groups``,
    ``too_many_groups``, ``groups_too_large``, ``bad_auth_time``,
    ``auth_time_in_future``), else ``bad_claims``, ``bad_ttl`` or
    ``weak_key``.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
