"""Verify, at your origin, who sessiongate says is making a request.

sessiongate forwards each authenticated request with a
``Sessiongate-Assertion`` header: a JWT, signed by the edge, naming the user
(``sub``), the session (``sid``), its claims, and the exact method, path and
query it was issued for, valid for 60 seconds. :class:`Verifier` checks all
of that against the request it arrived on, so an assertion captured on one
route is no key to any other.

.. code-block:: python

    from sessiongate_origin import Verifier

    verifier = Verifier("my-app", jwks_url="https://app.example.com/.sessiongate/jwks.json")
    identity = verifier.verify("GET", "/orders?page=2", request_headers)
    identity.sub, identity.groups, identity.auth_time

:class:`SessiongateMiddleware` (ASGI: Starlette, FastAPI, ...) and
``sessiongate_origin.django.SessiongateMiddleware`` do it for every request.
:func:`sign_handoff` makes the ``Sessiongate-Login`` header that logs a
user in.
"""

from ._errors import (
    ASSERTION_ERROR_CODES,
    ConfigurationError,
    HandoffError,
    InvalidAssertion,
    InvalidUserHeader,
    KeySetUnavailable,
    SessiongateError,
)
from ._handoff import (
    MAX_CLAIMS_BYTES,
    MAX_EMAIL_LEN,
    MAX_GROUPS,
    MAX_GROUPS_BYTES,
    MAX_HANDOFF_AHEAD,
    MAX_USER_ID_LEN,
    sign_handoff,
)
from ._headers import (
    ASSERTION_HEADER,
    LOGIN_HEADER,
    LOGOUT_ALL,
    LOGOUT_CURRENT,
    LOGOUT_HEADER,
    USER_HEADER,
    decode_user_header,
    encode_user_header,
)
from ._identity import Identity
from ._verifier import (
    DEFAULT_LEEWAY,
    ISSUER,
    JWKS_PATH,
    LIFETIME,
    MAX_ASSERTION_LEN,
    MIN_KEY_LEN,
    PUBLIC_KEY_ALGORITHMS,
    Verifier,
    verify_assertion,
)
from .asgi import SessiongateMiddleware

__version__ = "0.1.0"

__all__ = [
    "ASSERTION_ERROR_CODES",
    "ASSERTION_HEADER",
    "DEFAULT_LEEWAY",
    "ISSUER",
    "JWKS_PATH",
    "LIFETIME",
    "LOGIN_HEADER",
    "LOGOUT_ALL",
    "LOGOUT_CURRENT",
    "LOGOUT_HEADER",
    "MAX_ASSERTION_LEN",
    "MAX_CLAIMS_BYTES",
    "MAX_EMAIL_LEN",
    "MAX_GROUPS",
    "MAX_GROUPS_BYTES",
    "MAX_HANDOFF_AHEAD",
    "MAX_USER_ID_LEN",
    "MIN_KEY_LEN",
    "PUBLIC_KEY_ALGORITHMS",
    "USER_HEADER",
    "ConfigurationError",
    "HandoffError",
    "Identity",
    "InvalidAssertion",
    "InvalidUserHeader",
    "KeySetUnavailable",
    "SessiongateError",
    "SessiongateMiddleware",
    "Verifier",
    "decode_user_header",
    "encode_user_header",
    "sign_handoff",
    "verify_assertion",
]
