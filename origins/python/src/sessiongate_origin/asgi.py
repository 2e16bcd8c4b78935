"""A pure ASGI middleware: Starlette, FastAPI, or any other ASGI app.

.. code-block:: python

    app.add_middleware(SessiongateMiddleware, verifier=verifier)
    # then, in a handler: request.state.sessiongate -> Identity

Every HTTP request (and WebSocket handshake) must carry a valid
``Sessiongate-Assertion`` for its own method, raw path and query
(``scope["raw_path"]`` and ``scope["query_string"]``, exactly as the server
received them). The :class:`~sessiongate_origin.Identity` goes into
``scope["state"]["sessiongate"]``, which Starlette shows as
``request.state.sessiongate``. A refused request gets ``401`` with
``{"error": "unauthenticated", "reason": <code>}``; when the key set cannot
be fetched, ``503`` with ``{"error": "unavailable", "reason":
"key_set_unavailable"}``. Paths in ``skip_paths`` pass unverified, with
``state["sessiongate"]`` set to ``None``.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any, Awaitable, Callable, Dict, Iterable, MutableMapping, Optional, Tuple, Union
from urllib.parse import quote

from ._errors import ConfigurationError, InvalidAssertion
from ._paths import PathSkipper
from ._verifier import DEFAULT_LEEWAY, Verifier, _WouldBlock

__all__ = ["STATE_KEY", "SessiongateMiddleware", "asgi_path_and_query", "refusal"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The key of ``scope["state"]`` (``request.state``) holding the Identity.
STATE_KEY = "sessiongate"


def asgi_path_and_query(scope: Scope) -> str:
    """The request's path and query as the server received them: the raw
    path (``scope["raw_path"]``, not the decoded ``scope["path"]``), then
    ``?`` and ``scope["query_string"]`` when there is a query.

    A server that puts the query in ``raw_path`` too is handled. One that
    gives no ``raw_path`` at all (it is optional in ASGI) gets
    ``scope["path"]`` percent-encoded again, which matches what the edge
    signed only when the client's encoding was the usual one.
    """
    raw = scope.get("raw_path")
    if raw:
        raw = bytes(raw).split(b"?", 1)[0]
        path = raw.decode("latin-1")
    else:
        path = quote(scope.get("path") or "/", safe="/!$&'()*+,;=:@~-._")
    query = scope.get("query_string") or b""
    if isinstance(query, str):
        query = query.encode("latin-1")
    return path + "?" + bytes(query).decode("latin-1") if query else path


def refusal(error: InvalidAssertion) -> Tuple[int, Dict[str, str]]:
    """The status and JSON body a middleware answers a refused request with."""
    if error.code == "key_set_unavailable":
        return 503, {"error": "unavailable", "reason": error.code}
    return 401, {"error": "unauthenticated", "reason": error.code}


async def _run_blocking(fn: Callable[[], Any]) -> Any:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not asyncio (trio, say): block, as a sync app would
        return fn()
    return await loop.run_in_executor(None, fn)


class SessiongateMiddleware:
    """Verifies every request's assertion before the app sees it.

    Pass a :class:`~sessiongate_origin.Verifier` (``verifier=``), or the
    same keywords a Verifier takes (``audience=`` and one of ``jwks_url=``,
    ``jwks=``, ``hs256_key=``). ``skip_paths`` (matched against
    ``scope["path"]``): an exact path, or a prefix ending in ``*``.

    With ``jwks_url``, a request that must wait for the key set to be
    fetched verifies in a worker thread, so the event loop never blocks on
    the network.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Optional[Verifier] = None,
        *,
        skip_paths: Iterable[str] = (),
        audience: Optional[str] = None,
        jwks_url: Optional[str] = None,
        jwks: Any = None,
        hs256_key: Union[str, bytes, None] = None,
        leeway: float = DEFAULT_LEEWAY,
    ) -> None:
        self.app = app
        if verifier is None:
            verifier = Verifier(
                audience,  # type: ignore[arg-type]
                jwks_url=jwks_url,
                jwks=jwks,
                hs256_key=hs256_key,
                leeway=leeway,
            )
        elif any(v is not None for v in (audience, jwks_url, jwks, hs256_key)):
            raise ConfigurationError("give either a verifier or its settings, not both")
        self.verifier = verifier
        self.skip = PathSkipper(skip_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if self.skip(scope.get("path") or ""):
            state[STATE_KEY] = None
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        target = asgi_path_and_query(scope)
        headers = scope.get("headers") or []
        try:
            try:
                identity = self.verifier._verify(
                    method, target, headers, now=None, may_block=False
                )
            except _WouldBlock:
                identity = await _run_blocking(
                    functools.partial(self.verifier.verify, method, target, headers)
                )
        except InvalidAssertion as error:
            await self._refuse(scope, receive, send, error)
            return
        state[STATE_KEY] = identity
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: InvalidAssertion
    ) -> None:
        status, payload = refusal(error)
        body = json.dumps(payload).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"cache-control", b"no-store"),
        ]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        # A WebSocket handshake: refuse it with the same answer where the
        # server can send one (the websocket.http.response extension), else
        # close it (which the server answers with 403).
        message = await receive()
        if message.get("type") != "websocket.connect":
            return
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})
