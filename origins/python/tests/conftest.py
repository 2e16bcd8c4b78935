"""Keys, assertions signed per the wire contract, and a local JWKS server.

Assertions are signed here with ``cryptography`` and ``hmac`` directly, not
with PyJWT, so the tests check the package against the contract rather
than against the library it uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

NOW = 1_700_000_000
AUDIENCE = "my-app"
HS256_KEY = "assertion-key-of-at-least-32-chars"
JWKS_PATH = "/.sessiongate/jwks.json"

#: Leave a claim out of :func:`claims`.
DROP = object()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Signer:
    """A key of the edge: signs compact JWS per the contract."""

    def __init__(self, alg: str, kid: Optional[str], key: Any) -> None:
        self.alg = alg
        self.kid = kid
        self.key = key

    @classmethod
    def es256(cls, kid: str = "es-1") -> "Signer":
        return cls("ES256", kid, ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def ed25519(cls, kid: str = "ed-1") -> "Signer":
        return cls("EdDSA", kid, ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def hs256(cls, secret: str = HS256_KEY) -> "Signer":
        return cls("HS256", None, secret.encode("utf-8"))

    def header(self) -> Dict[str, Any]:
        header: Dict[str, Any] = {"alg": self.alg, "typ": "JWT"}
        if self.kid is not None:
            header["kid"] = self.kid
        return header

    def sign_input(self, signing_input: bytes) -> bytes:
        if self.alg == "ES256":
            der = self.key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if self.alg == "EdDSA":
            return self.key.sign(signing_input)
        if self.alg == "HS256":
            return hmac.new(self.key, signing_input, hashlib.sha256).digest()
        raise ValueError(self.alg)

    def sign(self, payload: Dict[str, Any], header: Optional[Dict[str, Any]] = None) -> str:
        head = b64url(_json(header if header is not None else self.header()))
        body = b64url(_json(payload))
        signing_input = f"{head}.{body}".encode("ascii")
        return f"{head}.{body}.{b64url(self.sign_input(signing_input))}"

    def jwk(self) -> Dict[str, Any]:
        pub = self.key.public_key()
        if self.alg == "ES256":
            numbers = pub.public_numbers()
            return {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url(numbers.x.to_bytes(32, "big")),
                "y": b64url(numbers.y.to_bytes(32, "big")),
                "kid": self.kid,
                "alg": "ES256",
                "use": "sig",
            }
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def jwks_of(*signers: Signer) -> Dict[str, Any]:
    return {"keys": [s.jwk() for s in signers]}


def claims(
    *,
    method: str = "GET",
    htu: Any = "/orders?page=2",
    at: int = NOW,
    **overrides: Any,
) -> Dict[str, Any]:
    """An assertion's claims as the edge writes them for a session, issued
    at ``at``; ``overrides`` replace claims (``DROP`` removes one)."""
    payload: Dict[str, Any] = {
        "iss": "sessiongate",
        "aud": AUDIENCE,
        "sub": "alice",
        "sid": "AbCdEfGhIjKlMnOp",
        "iat": at,
        "exp": at + 60,
        "auth_time": at - 300,
        "htm": method,
        "htu": htu,
        "claims": {},
        "groups": [],
        "device_bound": False,
        "kind": "session",
    }
    overrides["htu"] = htu
    for name, value in overrides.items():
        if value is DROP:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def assertion(signer: Signer, **kwargs: Any) -> str:
    return signer.sign(claims(**kwargs))


@pytest.fixture(scope="session")
def es256() -> Signer:
    return Signer.es256("es-1")


@pytest.fixture(scope="session")
def eddsa() -> Signer:
    return Signer.ed25519("ed-1")


@pytest.fixture(scope="session")
def hs256() -> Signer:
    return Signer.hs256()


class JwksServer:
    """A key set served on 127.0.0.1 (port 0), counting fetches."""

    def __init__(self) -> None:
        self.jwks: Dict[str, Any] = {"keys": []}
        self.status = 200
        self.body: Optional[bytes] = None  # served instead of the key set
        self.fetches = 0
        self.paths: List[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                with server._lock:
                    server.fetches += 1
                    server.paths.append(self.path)
                    body = server.body if server.body is not None else _json(server.jwks)
                    status = server.status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=300")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{JWKS_PATH}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def publish(self, *signers: Signer) -> None:
        with self._lock:
            self.jwks = jwks_of(*signers)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def jwks_server():
    server = JwksServer()
    try:
        yield server
    finally:
        server.close()
