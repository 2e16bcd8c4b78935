"""The pure ASGI middleware, under Starlette's TestClient and a real uvicorn."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time

import pytest
from conftest import AUDIENCE, HS256_KEY, JwksServer, Signer, claims, jwks_of
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from sessiongate_origin import ConfigurationError, SessiongateMiddleware, Verifier
from sessiongate_origin.asgi import asgi_path_and_query


def fresh(signer: Signer, method: str, htu: str, **overrides) -> str:
    """An assertion issued now (the middleware checks against the clock)."""
    return signer.sign(claims(method=method, htu=htu, at=int(time.time()), **overrides))


async def whoami(request: Request) -> JSONResponse:
    who = request.state.sessiongate
    return JSONResponse(
        None if who is None else {"sub": who.sub, "kind": who.kind, "groups": list(who.groups)}
    )


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok " + repr(request.state.sessiongate))


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.state.sessiongate.sub)
    await websocket.close()


def make_app(**middleware) -> Starlette:
    app = Starlette(
        routes=[
            Route("/orders", whoami, methods=["GET", "POST"]),
            Route("/files/{name:path}", whoami),
            Route("/search", whoami),
            Route("/healthz", health),
            Route("/static/{name:path}", health),
            WebSocketRoute("/ws", ws),
        ]
    )
    app.add_middleware(SessiongateMiddleware, **middleware)
    return app


@pytest.fixture
def client(es256: Signer, eddsa: Signer):
    verifier = Verifier(AUDIENCE, jwks=jwks_of(es256, eddsa))
    with TestClient(make_app(verifier=verifier, skip_paths=["/healthz", "/static/*"])) as c:
        yield c


@pytest.mark.parametrize("signer_name", ["es256", "eddsa"])
def test_a_verified_request_reaches_the_app_with_its_identity(request, client: TestClient, signer_name: str) -> None:
    signer = request.getfixturevalue(signer_name)
    token = fresh(signer, "GET", "/orders?page=2", sub="zoë", groups=["staff"])
    response = client.get("/orders?page=2", headers={"Sessiongate-Assertion": token})
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": "zoë", "kind": "session", "groups": ["staff"]}


def test_a_request_without_an_assertion_gets_401(client: TestClient) -> None:
    response = client.get("/orders?page=2")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"error": "unauthenticated", "reason": "missing"}


def test_an_assertion_replayed_elsewhere_gets_401_with_the_reason(client: TestClient, es256: Signer) -> None:
    token = fresh(es256, "GET", "/orders?page=2")
    for method, url, reason in (
        ("GET", "/orders?page=3", "wrong_path"),
        ("GET", "/orders", "wrong_path"),
        ("POST", "/orders?page=2", "wrong_method"),
    ):
        response = client.request(method, url, headers={"Sessiongate-Assertion": token})
        assert response.status_code == 401
        assert response.json() == {"error": "unauthenticated", "reason": reason}
    other = Signer.es256(es256.kid)  # type: ignore[arg-type]
    response = client.get("/orders?page=2", headers={"Sessiongate-Assertion": fresh(other, "GET", "/orders?page=2")})
    assert response.json()["reason"] == "bad_signature"


def test_the_raw_path_and_query_are_compared(client: TestClient, es256: Signer) -> None:
    raw = "/files/a%20b%7Ec?x=%2F&y=%c3%a9"
    response = client.get(raw, headers={"Sessiongate-Assertion": fresh(es256, "GET", raw)})
    assert response.status_code == 200, response.text
    decoded = "/files/a b~c?x=%2F&y=%c3%a9"
    response = client.get(raw, headers={"Sessiongate-Assertion": fresh(es256, "GET", decoded)})
    assert response.json() == {"error": "unauthenticated", "reason": "wrong_path"}


def test_skipped_paths_pass_unverified(client: TestClient) -> None:
    assert client.get("/healthz").text == "ok None"
    assert client.get("/static/app.css").text == "ok None"
    assert client.get("/healthz/more").status_code == 401, "exact entries match exactly"


def test_a_websocket_handshake_is_verified(client: TestClient, eddsa: Signer) -> None:
    with client.websocket_connect("/ws", headers={"Sessiongate-Assertion": fresh(eddsa, "GET", "/ws")}) as socket_:
        assert socket_.receive_text() == "alice"
    with pytest.raises(WebSocketDenialResponse) as info:
        with client.websocket_connect("/ws"):
            pass
    assert info.value.status_code == 401
    assert info.value.json() == {"error": "unauthenticated", "reason": "missing"}


def test_without_the_denial_extension_a_websocket_is_closed() -> None:
    async def app(scope, receive, send):  # pragma: no cover - never reached
        raise AssertionError("the app must not run")

    middleware = SessiongateMiddleware(app, audience=AUDIENCE, hs256_key=HS256_KEY)
    sent = []

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "raw_path": b"/ws", "query_string": b"", "headers": []}
    asyncio.run(middleware(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_keywords_build_the_verifier(hs256: Signer) -> None:
    with TestClient(make_app(audience=AUDIENCE, hs256_key=HS256_KEY)) as c:
        ok = c.get("/orders", headers={"Sessiongate-Assertion": fresh(hs256, "GET", "/orders")})
        assert ok.status_code == 200 and ok.json()["sub"] == "alice"
    with pytest.raises(ConfigurationError):
        SessiongateMiddleware(whoami, Verifier(AUDIENCE, hs256_key=HS256_KEY), audience=AUDIENCE)


def test_the_key_set_is_fetched_off_the_event_loop(jwks_server: JwksServer, es256: Signer) -> None:
    jwks_server.publish(es256)
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)
    fetch_threads = []
    fetch_data = verifier._source.client.fetch_data

    def recording_fetch_data():
        fetch_threads.append(threading.get_ident())
        return fetch_data()

    verifier._source.client.fetch_data = recording_fetch_data
    loop_threads = []

    async def loop_thread(request: Request) -> PlainTextResponse:
        loop_threads.append(threading.get_ident())
        return PlainTextResponse("ok")

    app = make_app(verifier=verifier, skip_paths=["/loop"])
    app.router.routes.append(Route("/loop", loop_thread))
    with TestClient(app) as c:
        assert c.get("/loop").status_code == 200
        for _ in range(3):
            response = c.get("/orders", headers={"Sessiongate-Assertion": fresh(es256, "GET", "/orders")})
            assert response.status_code == 200, response.text
        new = Signer.ed25519("ed-new")
        jwks_server.publish(es256, new)
        response = c.get("/orders", headers={"Sessiongate-Assertion": fresh(new, "GET", "/orders")})
        assert response.status_code == 200, response.text
    assert jwks_server.fetches == 2
    assert len(fetch_threads) == 2 and loop_threads[0] not in fetch_threads


def test_an_unavailable_key_set_gets_503(jwks_server: JwksServer, es256: Signer) -> None:
    jwks_server.status, jwks_server.body = 500, b"{}"
    with TestClient(make_app(audience=AUDIENCE, jwks_url=jwks_server.url)) as c:
        response = c.get("/orders", headers={"Sessiongate-Assertion": fresh(es256, "GET", "/orders")})
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "reason": "key_set_unavailable"}


@pytest.mark.parametrize(
    "scope, expected",
    [
        ({"raw_path": b"/a%2Fb", "path": "/a/b", "query_string": b"x=1"}, "/a%2Fb?x=1"),
        ({"raw_path": b"/a", "path": "/a", "query_string": b""}, "/a"),
        ({"raw_path": b"/a?x=1", "path": "/a", "query_string": b"x=1"}, "/a?x=1"),
        ({"path": "/caf\u00e9 x", "query_string": b"q=1"}, "/caf%C3%A9%20x?q=1"),
    ],
    ids=["raw", "no-query", "query-in-raw-path", "no-raw-path"],
)
def test_asgi_path_and_query(scope, expected) -> None:
    assert asgi_path_and_query(scope) == expected


def test_under_uvicorn_the_raw_request_target_is_what_counts(es256: Signer) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    app = make_app(verifier=Verifier(AUDIENCE, jwks=jwks_of(es256)))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 10
        while not server.started and time.time() < deadline:
            time.sleep(0.02)
        assert server.started

        def get(target: str, htu: str):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", target, headers={"Sessiongate-Assertion": fresh(es256, "GET", htu)})
                response = conn.getresponse()
                return response.status, json.loads(response.read())
            finally:
                conn.close()

        target = "/files/%7Ealice/r%C3%A9sum%c3%a9.pdf?v=%2F1&x"
        assert get(target, target) == (200, {"sub": "alice", "kind": "session", "groups": []})
        status, body = get(target, "/files/~alice/résumé.pdf?v=%2F1&x")
        assert (status, body["reason"]) == (401, "wrong_path")
        assert get("/search?", "/search?")[0] == 200, "an empty query is no query"
        assert get("/search?", "/search")[0] == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
