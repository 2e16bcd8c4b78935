"""Django middleware: ``sessiongate_origin.django.SessiongateMiddleware``.

.. code-block:: python

    # settings.py
    MIDDLEWARE = [
        "sessiongate_origin.django.SessiongateMiddleware",
        # ... the rest
    ]
    SESSIONGATE = {
        "AUDIENCE": "my-app",
        "JWKS_URL": "https://app.example.com/.sessiongate/jwks.json",
        "SKIP_PATHS": ["/healthz"],
    }

Every request must carry a valid ``Sessiongate-Assertion`` for its own
method, path and query; the :class:`~sessiongate_origin.Identity` is set as
``request.sessiongate``. A refused request gets ``401`` with
``{"error": "unauthenticated", "reason": <code>}`` (``503`` with
``{"error": "unavailable", "reason": "key_set_unavailable"}`` when the key
set cannot be fetched). Paths in ``SKIP_PATHS`` (matched against
``request.path``; an exact path, or a prefix ending in ``*``) pass
unverified with ``request.sessiongate = None``.

``SESSIONGATE`` keys (upper-case): ``AUDIENCE`` (required); exactly one of
``JWKS_URL``, ``JWKS`` (a pinned key set) and ``HS256_KEY`` (the shared
``ASSERTION_KEY``); optionally ``LEEWAY``, ``SKIP_PATHS``,
``JWKS_LIFESPAN``, ``JWKS_TIMEOUT``, ``JWKS_REFETCH_INTERVAL``,
``JWKS_HEADERS``.

The path and query compared with the assertion's ``htu`` are the raw
request target where the server passes it on: under an ASGI server,
``scope["raw_path"]`` and ``scope["query_string"]``; under a WSGI server,
``RAW_URI`` (gunicorn) or ``REQUEST_URI`` (uWSGI, mod_wsgi). Otherwise
(``runserver``, the test client) ``request.get_full_path()``, which Django
rebuilds from the decoded path: it matches what the edge signed for
ordinary paths, but not for one the client encoded unusually (``%7E`` for
``~``, lower-case escapes).
"""

from __future__ import annotations

from typing import Any, Callable, Dict

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse

from ._errors import ConfigurationError, InvalidAssertion
from ._paths import PathSkipper
from ._verifier import DEFAULT_LEEWAY, Verifier
from .asgi import asgi_path_and_query, refusal

__all__ = ["SessiongateMiddleware", "django_path_and_query"]

_KEYS = {
    "AUDIENCE": "audience",
    "JWKS_URL": "jwks_url",
    "JWKS": "jwks",
    "HS256_KEY": "hs256_key",
    "LEEWAY": "leeway",
    "JWKS_LIFESPAN": "jwks_lifespan",
    "JWKS_TIMEOUT": "jwks_timeout",
    "JWKS_REFETCH_INTERVAL": "jwks_refetch_interval",
    "JWKS_HEADERS": "jwks_headers",
}


def django_path_and_query(request: HttpRequest) -> str:
    """The request's path and query as the server received them (see the
    module's notes): the ASGI scope's raw path, else ``RAW_URI`` or
    ``REQUEST_URI``, else ``request.get_full_path()``."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and scope.get("raw_path"):
        return asgi_path_and_query(scope)
    for name in ("RAW_URI", "REQUEST_URI"):
        raw = request.META.get(name)
        if isinstance(raw, str) and raw.startswith("/"):
            return raw.split("#", 1)[0]
    return str(request.get_full_path())


def _settings() -> Dict[str, Any]:
    conf = getattr(settings, "SESSIONGATE", None)
    if not isinstance(conf, dict):
        raise ImproperlyConfigured(
            'settings.SESSIONGATE must be a dict: {"AUDIENCE": ..., "JWKS_URL": ...}'
        )
    unknown = sorted(set(conf) - set(_KEYS) - {"SKIP_PATHS"})
    if unknown:
        raise ImproperlyConfigured(f"unknown SESSIONGATE settings: {', '.join(unknown)}")
    return conf


class SessiongateMiddleware:
    """Verifies every request's assertion (see the module's notes)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        conf = _settings()
        kwargs = {_KEYS[k]: v for k, v in conf.items() if k in _KEYS}
        kwargs.setdefault("leeway", DEFAULT_LEEWAY)
        audience = kwargs.pop("audience", None)
        try:
            self.verifier = Verifier(audience, **kwargs)
            self.skip = PathSkipper(conf.get("SKIP_PATHS", ()))
        except (ConfigurationError, TypeError, ValueError) as e:
            raise ImproperlyConfigured(f"settings.SESSIONGATE: {e}") from e

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.skip(request.path):
            setattr(request, "sessiongate", None)
            return self.get_response(request)
        try:
            identity = self.verifier.verify(
                request.method or "GET", django_path_and_query(request), request.headers
            )
        except InvalidAssertion as error:
            status, payload = refusal(error)
            response = JsonResponse(payload, status=status)
            response["Cache-Control"] = "no-store"
            return response
        setattr(request, "sessiongate", identity)
        return self.get_response(request)
