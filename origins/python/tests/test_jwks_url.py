"""Keys fetched from the edge's /.sessiongate/jwks.json (a local server)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from conftest import AUDIENCE, NOW, JwksServer, Signer, assertion

from sessiongate_origin import InvalidAssertion, KeySetUnavailable, Verifier, verify_assertion


def verify(verifier: Verifier, token: str):
    return verifier.verify("GET", "/orders?page=2", {"Sessiongate-Assertion": token}, now=NOW)


def refusal(verifier: Verifier, token: str) -> InvalidAssertion:
    with pytest.raises(InvalidAssertion) as info:
        verify(verifier, token)
    return info.value


def test_the_key_set_is_fetched_once_and_cached(jwks_server: JwksServer, es256: Signer, eddsa: Signer) -> None:
    jwks_server.publish(es256, eddsa)
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)
    assert jwks_server.fetches == 0, "nothing is fetched before the first request"
    for _ in range(3):
        assert verify(verifier, assertion(es256)).sub == "alice"
        assert verify(verifier, assertion(eddsa)).sub == "alice"
    assert jwks_server.fetches == 1
    assert jwks_server.paths == ["/.sessiongate/jwks.json"]


def test_an_unknown_kid_refetches_once_and_finds_a_newly_published_key(
    jwks_server: JwksServer, es256: Signer
) -> None:
    jwks_server.publish(es256)
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)
    assert verify(verifier, assertion(es256)).sub == "alice"
    assert jwks_server.fetches == 1

    new = Signer.ed25519("ed-2")
    jwks_server.publish(es256, new)
    assert verify(verifier, assertion(new)).sub == "alice"
    assert jwks_server.fetches == 2, "exactly one refetch"
    assert verify(verifier, assertion(new)).sub == "alice"
    assert verify(verifier, assertion(es256)).sub == "alice"
    assert jwks_server.fetches == 2


def test_made_up_kids_cost_at_most_one_refetch_per_interval(jwks_server: JwksServer, es256: Signer) -> None:
    jwks_server.publish(es256)
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)  # interval 30 s
    assert verify(verifier, assertion(es256)).sub == "alice"
    for i in range(5):
        assert refusal(verifier, assertion(Signer.ed25519(f"made-up-{i}"))).code == "unknown_kid"
    assert jwks_server.fetches == 2, "the first unknown kid refetched; the others waited"

    eager = Verifier(AUDIENCE, jwks_url=jwks_server.url, jwks_refetch_interval=0)
    before = jwks_server.fetches
    for i in range(3):
        assert refusal(eager, assertion(Signer.ed25519(f"made-up-{i}"))).code == "unknown_kid"
    assert jwks_server.fetches == before + 1 + 3, "first fetch, then one refetch per unknown kid"


def test_rotation_old_and_new_keys_verify_while_both_are_published(
    jwks_server: JwksServer,
) -> None:
    old, new = Signer.es256("2024-01"), Signer.es256("2024-02")
    jwks_server.publish(old)
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url, jwks_lifespan=0.3)
    assert verify(verifier, assertion(old)).sub == "alice"

    jwks_server.publish(old, new)  # the edge publishes the new key beside the old
    assert verify(verifier, assertion(new)).sub == "alice"
    assert verify(verifier, assertion(old)).sub == "alice"
    assert jwks_server.fetches == 2

    jwks_server.publish(new)  # the old key is withdrawn
    time.sleep(0.35)  # the cached set expires (max-age)
    assert verify(verifier, assertion(new)).sub == "alice"
    assert jwks_server.fetches == 3
    assert refusal(verifier, assertion(old)).code == "unknown_kid"


def test_a_signature_by_another_key_under_a_published_kid_is_refused(
    jwks_server: JwksServer, eddsa: Signer
) -> None:
    jwks_server.publish(eddsa)
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)
    impostor = Signer.ed25519(eddsa.kid)  # type: ignore[arg-type]
    assert refusal(verifier, assertion(impostor)).code == "bad_signature"
    hs = Signer("HS256", eddsa.kid, b"x" * 32)
    assert refusal(verifier, assertion(hs)).code == "alg_not_allowed"


@pytest.mark.parametrize(
    "status, body",
    [(500, b'{"error":"boom"}'), (200, b"<html>not json</html>"), (200, b"[1, 2]"), (200, b'{"keys": []}')],
    ids=["http-500", "not-json", "not-an-object", "no-keys"],
)
def test_an_unusable_key_set_is_key_set_unavailable(
    jwks_server: JwksServer, es256: Signer, status: int, body: bytes
) -> None:
    jwks_server.status, jwks_server.body = status, body
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)
    error = refusal(verifier, assertion(es256))
    assert isinstance(error, KeySetUnavailable) and error.code == "key_set_unavailable"
    assert jwks_server.fetches >= 1


def test_a_key_set_of_other_key_types_is_key_set_unavailable(jwks_server: JwksServer, es256: Signer) -> None:
    jwks_server.jwks = {"keys": [{"kty": "oct", "kid": es256.kid, "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAx"}]}
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)
    assert refusal(verifier, assertion(es256)).code == "key_set_unavailable"


def test_an_unreachable_key_set_is_key_set_unavailable(es256: Signer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    verifier = Verifier(AUDIENCE, jwks_url=f"http://127.0.0.1:{port}/.sessiongate/jwks.json", jwks_timeout=2)
    assert refusal(verifier, assertion(es256)).code == "key_set_unavailable"


def test_the_key_set_recovers_after_an_outage(jwks_server: JwksServer, es256: Signer) -> None:
    jwks_server.status, jwks_server.body = 503, b"{}"
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)
    assert refusal(verifier, assertion(es256)).code == "key_set_unavailable"
    jwks_server.status, jwks_server.body = 200, None
    jwks_server.publish(es256)
    assert verify(verifier, assertion(es256)).sub == "alice"


def test_concurrent_first_requests_fetch_once(jwks_server: JwksServer, es256: Signer) -> None:
    jwks_server.publish(es256)
    verifier = Verifier(AUDIENCE, jwks_url=jwks_server.url)
    token = assertion(es256)
    results = []

    def worker() -> None:
        results.append(verify(verifier, token).sub)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == ["alice"] * 8
    assert jwks_server.fetches == 1


def test_verify_assertion_keeps_the_key_set_between_calls(jwks_server: JwksServer, eddsa: Signer) -> None:
    jwks_server.publish(eddsa)
    for _ in range(3):
        identity = verify_assertion(
            "GET",
            "/orders?page=2",
            {"sessiongate-assertion": assertion(eddsa)},
            audience=AUDIENCE,
            jwks_url=jwks_server.url,
            now=NOW,
        )
        assert identity.sub == "alice"
    assert jwks_server.fetches == 1
