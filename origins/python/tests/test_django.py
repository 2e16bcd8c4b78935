"""The Django middleware, under Django's test client and under ASGI."""

from __future__ import annotations

import time

import django
import pytest
from conftest import AUDIENCE, HS256_KEY, JwksServer, Signer, claims, jwks_of
from django.conf import settings

ES256 = Signer.es256("dj-es")
EDDSA = Signer.ed25519("dj-ed")

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test-secret-key-not-for-production",
        ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["sessiongate_origin.django.SessiongateMiddleware"],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
        SESSIONGATE={
            "AUDIENCE": AUDIENCE,
            "JWKS": jwks_of(ES256, EDDSA),
            "SKIP_PATHS": ["/healthz", "/public/*"],
        },
    )
    django.setup()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import Client, RequestFactory, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from sessiongate_origin.django import SessiongateMiddleware, django_path_and_query  # noqa: E402


def whoami(request: HttpRequest, **kwargs: str) -> JsonResponse:
    who = request.sessiongate
    return JsonResponse(None if who is None else {"sub": who.sub, "groups": list(who.groups)}, safe=False)


urlpatterns = [
    path("me", whoami),
    path("files/<path:name>", whoami),
    path("healthz", whoami),
    path("public/<path:name>", whoami),
]


def fresh(signer: Signer, method: str, htu: str, **overrides) -> str:
    return signer.sign(claims(method=method, htu=htu, at=int(time.time()), **overrides))


@pytest.mark.parametrize("signer", [ES256, EDDSA], ids=["ES256", "EdDSA"])
def test_a_verified_request_sets_request_sessiongate(signer: Signer) -> None:
    token = fresh(signer, "GET", "/me?tab=orders", sub="zoë", groups=["staff"])
    response = Client().get("/me?tab=orders", HTTP_SESSIONGATE_ASSERTION=token)
    assert response.status_code == 200, response.content
    assert response.json() == {"sub": "zoë", "groups": ["staff"]}


def test_refusals_get_401_with_the_reason() -> None:
    client = Client()
    response = client.get("/me")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {"error": "unauthenticated", "reason": "missing"}
    token = fresh(ES256, "GET", "/me")
    assert client.post("/me", HTTP_SESSIONGATE_ASSERTION=token).json()["reason"] == "wrong_method"
    assert client.get("/me?x=1", HTTP_SESSIONGATE_ASSERTION=token).json()["reason"] == "wrong_path"
    stale = ES256.sign(claims(method="GET", htu="/me", at=int(time.time()) - 120))
    assert client.get("/me", HTTP_SESSIONGATE_ASSERTION=stale).json()["reason"] == "expired"
    stranger = Signer.es256("dj-es")
    assert client.get("/me", HTTP_SESSIONGATE_ASSERTION=fresh(stranger, "GET", "/me")).json()["reason"] == "bad_signature"


def test_skipped_paths_pass_unverified() -> None:
    client = Client()
    assert client.get("/healthz").json() is None
    assert client.get("/public/logo.png").json() is None


def test_the_raw_uri_of_a_wsgi_server_is_preferred() -> None:
    client = Client()
    raw = "/files/a%7Eb?q=%c3%a9"
    ok = client.get("/files/a~b", {"q": "é"}, RAW_URI=raw, HTTP_SESSIONGATE_ASSERTION=fresh(ES256, "GET", raw))
    assert ok.status_code == 200, ok.content
    rebuilt = client.get(
        "/files/a~b", {"q": "é"}, RAW_URI=raw, HTTP_SESSIONGATE_ASSERTION=fresh(ES256, "GET", "/files/a~b?q=%C3%A9")
    )
    assert rebuilt.json()["reason"] == "wrong_path"
    uwsgi = client.get("/me", REQUEST_URI="/m%65", HTTP_SESSIONGATE_ASSERTION=fresh(ES256, "GET", "/m%65"))
    assert uwsgi.status_code == 200


def test_without_a_raw_uri_the_full_path_is_used() -> None:
    request = RequestFactory().get("/files/a b", {"q": "é"})
    assert django_path_and_query(request) == "/files/a%20b?q=%C3%A9"
    request = RequestFactory().get("/files/x", RAW_URI="http://evil.example/other")
    assert django_path_and_query(request) == "/files/x", "only an origin-form RAW_URI counts"


def test_under_asgi_the_raw_path_is_compared() -> None:
    from django.core.asgi import get_asgi_application
    from starlette.testclient import TestClient

    raw = "/files/a%7Eb/r%C3%A9sum%c3%a9?v=%2F1"
    client = TestClient(get_asgi_application())  # no lifespan: Django has none
    ok = client.get(raw, headers={"Sessiongate-Assertion": fresh(EDDSA, "GET", raw)})
    assert ok.status_code == 200, ok.text
    assert ok.json()["sub"] == "alice"
    # What get_full_path() would rebuild is not what was received.
    rebuilt_htu = "/files/a~b/r%C3%A9sum%C3%A9?v=%2F1"
    rebuilt = client.get(raw, headers={"Sessiongate-Assertion": fresh(EDDSA, "GET", rebuilt_htu)})
    assert rebuilt.status_code == 401
    assert rebuilt.json() == {"error": "unauthenticated", "reason": "wrong_path"}


def test_hs256_settings(hs256: Signer) -> None:
    with override_settings(SESSIONGATE={"AUDIENCE": AUDIENCE, "HS256_KEY": HS256_KEY}):
        response = Client().get("/me", HTTP_SESSIONGATE_ASSERTION=fresh(hs256, "GET", "/me"))
        assert response.status_code == 200, response.content
        es = Client().get("/me", HTTP_SESSIONGATE_ASSERTION=fresh(ES256, "GET", "/me"))
        assert es.json()["reason"] == "alg_not_allowed"


def test_jwks_url_settings_and_an_unavailable_key_set(jwks_server: JwksServer) -> None:
    jwks_server.publish(EDDSA)
    with override_settings(SESSIONGATE={"AUDIENCE": AUDIENCE, "JWKS_URL": jwks_server.url}):
        client = Client()
        for _ in range(2):
            response = client.get("/me", HTTP_SESSIONGATE_ASSERTION=fresh(EDDSA, "GET", "/me"))
            assert response.status_code == 200, response.content
        assert jwks_server.fetches == 1
        jwks_server.status, jwks_server.body = 500, b"{}"
        response = Client().get("/me", HTTP_SESSIONGATE_ASSERTION=fresh(EDDSA, "GET", "/me"))
        assert response.status_code == 503
        assert response.json() == {"error": "unavailable", "reason": "key_set_unavailable"}


@pytest.mark.parametrize(
    "conf",
    [
        None,
        {"AUDIENCE": AUDIENCE},
        {"AUDIENCE": AUDIENCE, "HS256_KEY": "short"},
        {"AUDIENCE": AUDIENCE, "HS256_KEY": HS256_KEY, "JWKS_URL": "https://x.example/jwks"},
        {"AUDIENCE": AUDIENCE, "HS256_KEY": HS256_KEY, "AUDIENCES": ["x"]},
        {"HS256_KEY": HS256_KEY},
        {"AUDIENCE": AUDIENCE, "HS256_KEY": HS256_KEY, "SKIP_PATHS": "/healthz"},
    ],
    ids=["unset", "no-key", "short-key", "two-sources", "unknown-setting", "no-audience", "skip-paths-a-string"],
)
def test_misconfiguration_is_improperly_configured(conf) -> None:
    with override_settings(SESSIONGATE=conf):
        with pytest.raises(ImproperlyConfigured):
            SessiongateMiddleware(whoami)
