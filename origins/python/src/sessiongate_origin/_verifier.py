"""Verifying the ``Sessiongate-Assertion`` the edge forwards with a request."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ._errors import ConfigurationError, InvalidAssertion, KeySetUnavailable
from ._headers import ASSERTION_HEADER, get_single_header
from ._identity import Identity

__all__ = [
    "DEFAULT_LEEWAY",
    "ISSUER",
    "JWKS_PATH",
    "LIFETIME",
    "MAX_ASSERTION_LEN",
    "MIN_KEY_LEN",
    "PUBLIC_KEY_ALGORITHMS",
    "Verifier",
    "verify_assertion",
]

#: ``iss`` of every assertion.
ISSUER = "sessiongate"
#: The most seconds an assertion may live (``exp - iat``).
LIFETIME = 60
#: Seconds of clock difference tolerated on ``iat`` and ``exp``.
DEFAULT_LEEWAY = 5
#: Shortest shared key (``ASSERTION_KEY``, ``HANDOFF_KEY``), in characters.
MIN_KEY_LEN = 32
#: Longest assertion read; a longer one is refused unread (``malformed``).
MAX_ASSERTION_LEN = 8 * 1024
#: Where the edge publishes its public keys.
JWKS_PATH = "/.sessiongate/jwks.json"
#: The algorithms a public key may verify: ES256 (EC P-256) and EdDSA
#: (Ed25519). A shared key (``hs256_key``) verifies HS256 only.
PUBLIC_KEY_ALGORITHMS = ("ES256", "EdDSA")

_B64URL_ALPHABET = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)
_U64 = 2**64

KeyObject = Any  # a cryptography public key, or HMAC key bytes


class _WouldBlock(Exception):
    """Internal: the key set must be fetched, which blocks."""


def _b64url_decode(segment: str) -> bytes:
    if not segment or not set(segment) <= _B64URL_ALPHABET:
        raise InvalidAssertion("malformed", "not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidAssertion("malformed", "not base64url") from None


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate member {k!r}")
        out[k] = v
    return out


def _json_object(raw: bytes, what: str) -> Dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, duplicates
        raise InvalidAssertion("malformed", f"the {what} is not a JSON object") from None
    if not isinstance(value, dict):
        raise InvalidAssertion("malformed", f"the {what} is not a JSON object")
    return value


# ---------------------------------------------------------------------------
# Key sources


def _usable_key(jwk: jwt.PyJWK) -> Optional[Tuple[str, str, KeyObject]]:
    """``(kid, alg, public key)`` of a JWK fit to verify assertions: an EC
    P-256 key (ES256) or an Ed25519 key (EdDSA), with a ``kid``, for
    signatures, and not declared for another algorithm. ``None`` otherwise:
    RSA, symmetric (``oct``) and other keys never verify an assertion."""
    kid = jwk.key_id
    if not isinstance(kid, str) or not kid:
        return None
    if jwk.public_key_use not in (None, "sig"):
        return None
    key = jwk.key
    if isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        key = key.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        alg = "ES256"
    elif isinstance(key, ed25519.Ed25519PublicKey):
        alg = "EdDSA"
    else:
        return None
    declared = getattr(jwk, "algorithm_name", None)  # PyJWT >= 2.9
    if declared is None:
        declared = (getattr(jwk, "_jwk_data", None) or {}).get("alg") or alg
    if declared != alg:  # the JWK's "alg" names another algorithm
        return None
    return kid, alg, key


def _key_map(jwks: Any) -> Dict[str, Tuple[str, KeyObject]]:
    keys: Dict[str, Tuple[str, KeyObject]] = {}
    for jwk in jwks:
        usable = _usable_key(jwk)
        if usable is not None:
            kid, alg, key = usable
            keys.setdefault(kid, (alg, key))  # the first of a kid wins
    return keys


class _SharedKey:
    algorithms = ("HS256",)

    def __init__(self, key: Union[str, bytes]) -> None:
        if isinstance(key, str):
            long_enough = len(key) >= MIN_KEY_LEN
            key = key.encode("utf-8")
        elif isinstance(key, (bytes, bytearray)):
            key = bytes(key)
            long_enough = len(key) >= MIN_KEY_LEN
        else:
            raise ConfigurationError("hs256_key is the edge's ASSERTION_KEY, a string")
        if not long_enough:
            raise ConfigurationError(
                f"hs256_key must be at least {MIN_KEY_LEN} characters (ASSERTION_KEY)"
            )
        self._key = key

    def lookup(self, kid: Any, may_block: bool) -> Tuple[str, KeyObject]:
        return "HS256", self._key

    def describe(self) -> str:
        return "hs256_key=<secret>"


class _PinnedKeys:
    algorithms = PUBLIC_KEY_ALGORITHMS

    def __init__(self, jwks: Any) -> None:
        if isinstance(jwks, (str, bytes)):
            try:
                jwks = json.loads(jwks)
            except ValueError:
                raise ConfigurationError("jwks is not JSON") from None
        if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
            raise ConfigurationError('jwks is a key set: {"keys": [...]}')
        parsed = []
        for entry in jwks["keys"]:
            try:
                parsed.append(jwt.PyJWK(dict(entry)))
            except (jwt.PyJWTError, TypeError, ValueError):
                continue  # a key of a type this package never uses
        self._keys = _key_map(parsed)
        if not self._keys:
            raise ConfigurationError(
                "jwks holds no usable key: an EC P-256 (ES256) or Ed25519 "
                "(EdDSA) key with a kid"
            )

    def lookup(self, kid: Any, may_block: bool) -> Tuple[str, KeyObject]:
        found = self._keys.get(kid) if isinstance(kid, str) else None
        if found is None:
            raise InvalidAssertion("unknown_kid", f"no pinned key has kid {kid!r}")
        return found

    def describe(self) -> str:
        return f"jwks=<{len(self._keys)} keys>"


class _KeySetUrl:
    """The edge's key set at a URL, through PyJWT's ``PyJWKClient`` and its
    cache (kept ``lifespan`` seconds, the edge's ``max-age``). A ``kid`` not
    in the cached set fetches the set once more, unless such a refetch
    already ran in the last ``refetch_interval`` seconds: a newly published
    key is found at once, and a stream of made-up kids costs the edge at
    most one fetch per interval."""

    algorithms = PUBLIC_KEY_ALGORITHMS

    def __init__(
        self,
        url: str,
        *,
        lifespan: float,
        timeout: float,
        refetch_interval: float,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise ConfigurationError("jwks_url must be an http(s) URL")
        if refetch_interval < 0:
            raise ConfigurationError("jwks_refetch_interval must not be negative")
        try:
            self.client = jwt.PyJWKClient(
                url,
                cache_keys=False,
                cache_jwk_set=True,
                lifespan=lifespan,
                timeout=timeout,
                headers=dict(headers or {}),
            )
        except jwt.PyJWTError as e:
            raise ConfigurationError(str(e)) from None
        self.url = url
        self.refetch_interval = refetch_interval
        self._lock = threading.Lock()
        self._last_refetch: Optional[float] = None
        self._last_set: Any = None
        self._last_map: Dict[str, Tuple[str, KeyObject]] = {}

    def _cached(self) -> bool:
        cache = self.client.jwk_set_cache
        return cache is not None and cache.get() is not None

    def _keys(self, refresh: bool) -> Dict[str, Tuple[str, KeyObject]]:
        try:
            jwk_set = self.client.get_jwk_set(refresh=refresh)
        except (jwt.PyJWTError, ValueError, OSError) as e:
            raise KeySetUnavailable(f"cannot fetch the key set at {self.url}: {e}") from None
        if jwk_set is not self._last_set:
            self._last_map = _key_map(jwk_set.keys)
            self._last_set = jwk_set
        if not self._last_map:
            raise KeySetUnavailable(f"the key set at {self.url} holds no usable key")
        return self._last_map

    def lookup(self, kid: Any, may_block: bool) -> Tuple[str, KeyObject]:
        if not isinstance(kid, str) or not kid:
            raise InvalidAssertion("unknown_kid", "the assertion names no kid")
        if not self._cached():
            if not may_block:
                raise _WouldBlock
            with self._lock:  # one fetch for a crowd of first requests
                keys = self._keys(refresh=False)
        else:
            keys = self._keys(refresh=False)
        found = keys.get(kid)
        if found is not None:
            return found
        with self._lock:
            keys = self._keys(refresh=False)  # another thread may have refetched
            found = keys.get(kid)
            if found is not None:
                return found
            now = time.monotonic()
            if self._last_refetch is not None and now - self._last_refetch < self.refetch_interval:
                raise InvalidAssertion("unknown_kid", f"no published key has kid {kid!r}")
            if not may_block:
                raise _WouldBlock
            self._last_refetch = now
            found = self._keys(refresh=True).get(kid)
        if found is None:
            raise InvalidAssertion("unknown_kid", f"no published key has kid {kid!r}")
        return found

    def describe(self) -> str:
        return f"jwks_url={self.url!r}"


# ---------------------------------------------------------------------------
# The verifier


def _str(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str):
        raise InvalidAssertion("malformed", f"claim {name!r} is missing or not a string")
    return value


def _opt_str(claims: Mapping[str, Any], name: str) -> Optional[str]:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidAssertion("malformed", f"claim {name!r} is not a string")
    return value


def _seconds(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if type(value) is not int or not 0 <= value < _U64:
        raise InvalidAssertion(
            "malformed", f"claim {name!r} is missing or not a whole number of seconds"
        )
    return value


def _without_empty_query(target: str) -> str:
    """``/a?`` as ``/a``: an empty query is no query. ASGI servers (and most
    frameworks) cannot tell them apart, and a GET form without fields asks
    for ``/search?``. Nothing else is normalised."""
    if target.endswith("?") and target.count("?") == 1:
        return target[:-1]
    return target


def _identity_from(claims: Mapping[str, Any]) -> Identity:
    """The claims' shape, as the edge writes it; refuses other shapes."""
    sub = _str(claims, "sub")
    sid = _str(claims, "sid")
    extra = claims.get("claims", {})
    if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
        raise InvalidAssertion("malformed", "claim 'claims' is not an object of strings")
    groups = claims.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidAssertion("malformed", "claim 'groups' is not an array of strings")
    device_bound = claims.get("device_bound", False)
    if not isinstance(device_bound, bool):
        raise InvalidAssertion("malformed", "claim 'device_bound' is not a boolean")
    kind = claims.get("kind", "session")
    if kind not in ("session", "bearer"):
        raise InvalidAssertion("malformed", "claim 'kind' is neither session nor bearer")
    return Identity(
        sub=sub,
        sid=sid,
        kind=kind,
        email=_opt_str(claims, "email"),
        groups=tuple(groups),
        claims=dict(extra),
        client_id=_opt_str(claims, "client_id"),
        scope=_opt_str(claims, "scope"),
        auth_time=_seconds(claims, "auth_time"),
        device_bound=device_bound,
        iat=_seconds(claims, "iat"),
        exp=_seconds(claims, "exp"),
    )


class Verifier:
    """Checks assertions for one audience against one source of keys.

    Give exactly one of:

    - ``jwks_url``: the edge's published keys,
      ``https://<your host>/.sessiongate/jwks.json``, fetched with PyJWT's
      ``PyJWKClient`` and cached ``jwks_lifespan`` seconds (300, the edge's
      ``max-age``); an unknown ``kid`` fetches them once more (at most once
      per ``jwks_refetch_interval`` seconds). ES256 and EdDSA only.
    - ``jwks``: a pinned key set, ``{"keys": [...]}`` (a dict or its JSON).
      ES256 and EdDSA only.
    - ``hs256_key``: the ``ASSERTION_KEY`` shared with an older deployment
      (at least 32 characters). HS256 only.

    ``alg: none`` is never accepted, nor HS256 with a public key. Reuse one
    ``Verifier`` for every request: it holds the key set's cache, and it is
    safe to share between threads.
    """

    def __init__(
        self,
        audience: str,
        *,
        jwks_url: Optional[str] = None,
        jwks: Any = None,
        hs256_key: Union[str, bytes, None] = None,
        leeway: float = DEFAULT_LEEWAY,
        jwks_lifespan: float = 300,
        jwks_timeout: float = 5,
        jwks_refetch_interval: float = 30,
        jwks_headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not isinstance(audience, str) or not audience:
            raise ConfigurationError("audience is the edge's AUDIENCE, a non-empty string")
        given = [n for n, v in (("jwks_url", jwks_url), ("jwks", jwks), ("hs256_key", hs256_key)) if v is not None]
        if len(given) != 1:
            raise ConfigurationError(
                "give exactly one of jwks_url, jwks and hs256_key"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or leeway < 0:
            raise ConfigurationError("leeway is a number of seconds, at least 0")
        self.audience = audience
        self.leeway = leeway
        self._source: Union[_SharedKey, _PinnedKeys, _KeySetUrl]
        if hs256_key is not None:
            self._source = _SharedKey(hs256_key)
        elif jwks is not None:
            self._source = _PinnedKeys(jwks)
        else:
            self._source = _KeySetUrl(
                jwks_url,  # type: ignore[arg-type]
                lifespan=jwks_lifespan,
                timeout=jwks_timeout,
                refetch_interval=jwks_refetch_interval,
                headers=jwks_headers,
            )

    def __repr__(self) -> str:
        return f"Verifier(audience={self.audience!r}, {self._source.describe()}, leeway={self.leeway!r})"

    @property
    def algorithms(self) -> Tuple[str, ...]:
        """The algorithms this verifier's key source allows."""
        return tuple(self._source.algorithms)

    def verify(
        self,
        method: str,
        path_and_query: str,
        headers: Any,
        *,
        now: Optional[float] = None,
    ) -> Identity:
        """The identity the request's ``Sessiongate-Assertion`` vouches for.

        ``method`` and ``path_and_query`` are the request's, exactly as the
        origin received them (``/orders?page=2``: the raw path, not decoded
        or re-encoded, and the query after ``?`` when there is one).
        ``headers`` is any mapping (looked up case-insensitively) or a list
        of ``(name, value)`` pairs. Raises :class:`InvalidAssertion`.
        """
        return self._verify(method, path_and_query, headers, now=now, may_block=True)

    def verify_token(
        self,
        token: str,
        method: str,
        path_and_query: str,
        *,
        now: Optional[float] = None,
    ) -> Identity:
        """:meth:`verify` for the header's value when you have it already."""
        return self._verify_token(token, method, path_and_query, now=now, may_block=True)

    def _verify(
        self,
        method: str,
        path_and_query: str,
        headers: Any,
        *,
        now: Optional[float],
        may_block: bool,
    ) -> Identity:
        token = get_single_header(headers, ASSERTION_HEADER)
        if token is None:
            raise InvalidAssertion("missing", f"no {ASSERTION_HEADER} header")
        return self._verify_token(token, method, path_and_query, now=now, may_block=may_block)

    def _verify_token(
        self,
        token: Any,
        method: str,
        path_and_query: str,
        *,
        now: Optional[float],
        may_block: bool,
    ) -> Identity:
        if isinstance(token, (bytes, bytearray)):
            token = bytes(token).decode("latin-1")
        if not isinstance(token, str):
            raise InvalidAssertion("malformed", "the assertion is not a string")
        token = token.strip(" \t")
        if not token:
            raise InvalidAssertion("missing", f"the {ASSERTION_HEADER} header is empty")
        if len(token) > MAX_ASSERTION_LEN:
            raise InvalidAssertion("malformed", "the assertion is longer than 8 KiB")
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidAssertion("malformed", "the assertion is not a compact JWS")
        header = _json_object(_b64url_decode(parts[0]), "JWT header")

        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._source.algorithms:
            raise InvalidAssertion(
                "alg_not_allowed",
                f"alg {alg!r} is not allowed here (allowed: {', '.join(self._source.algorithms)})",
            )
        if "crit" in header or "b64" in header:
            raise InvalidAssertion("malformed", "the assertion has a critical header extension")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
            raise InvalidAssertion("malformed", f"typ {typ!r} is not JWT")
        _b64url_decode(parts[1])
        _b64url_decode(parts[2])

        key_alg, key = self._source.lookup(header.get("kid"), may_block)
        if key_alg != alg:
            raise InvalidAssertion(
                "alg_not_allowed", f"the key {header.get('kid')!r} verifies {key_alg}, not {alg}"
            )
        try:
            decoded = jwt.PyJWS().decode_complete(token, key=key, algorithms=[key_alg])
        except jwt.InvalidSignatureError:
            raise InvalidAssertion("bad_signature", "the signature does not verify") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidAssertion("alg_not_allowed", f"alg {alg!r} is not allowed") from None
        except jwt.PyJWTError as e:
            raise InvalidAssertion("malformed", f"the assertion is malformed: {e}") from None

        claims = _json_object(decoded["payload"], "JWT payload")
        iss = _str(claims, "iss")
        aud = _str(claims, "aud")
        htm = _str(claims, "htm")
        htu = _str(claims, "htu")
        identity = _identity_from(claims)

        if now is None:
            now = time.time()
        if iss != ISSUER:
            raise InvalidAssertion("wrong_issuer", f"iss {iss!r} is not {ISSUER!r}")
        if aud != self.audience:
            raise InvalidAssertion("wrong_audience", f"aud {aud!r} is not {self.audience!r}")
        if now >= identity.exp + self.leeway:
            raise InvalidAssertion("expired", "the assertion has expired")
        if identity.iat > now + self.leeway:
            raise InvalidAssertion("issued_in_future", "the assertion is issued in the future")
        if identity.exp - identity.iat > LIFETIME:
            raise InvalidAssertion("too_long", f"the assertion lives longer than {LIFETIME} s")
        if htm != method:
            raise InvalidAssertion("wrong_method", f"issued for {htm}, not {method}")
        if _without_empty_query(htu) != _without_empty_query(path_and_query):
            raise InvalidAssertion("wrong_path", "issued for another path or query")
        return identity


# verify_assertion's key sets by URL, so that one-call use still caches.
_url_sources_lock = threading.Lock()
_url_sources: Dict[str, _KeySetUrl] = {}


def verify_assertion(
    method: str,
    path_and_query: str,
    headers: Any,
    *,
    audience: str,
    jwks_url: Optional[str] = None,
    jwks: Any = None,
    hs256_key: Union[str, bytes, None] = None,
    leeway: float = DEFAULT_LEEWAY,
    now: Optional[float] = None,
) -> Identity:
    """One-call :meth:`Verifier.verify`. With ``jwks_url`` the fetched key
    set is kept (per URL) between calls; still, a :class:`Verifier` made
    once is the better habit."""
    verifier = Verifier(
        audience, jwks_url=jwks_url, jwks=jwks, hs256_key=hs256_key, leeway=leeway
    )
    if isinstance(verifier._source, _KeySetUrl):
        with _url_sources_lock:
            if jwks_url not in _url_sources and len(_url_sources) >= 16:
                _url_sources.clear()
            verifier._source = _url_sources.setdefault(verifier._source.url, verifier._source)
    return verifier.verify(method, path_and_query, headers, now=now)
