"""JWT verification of CDS Hooks calls (CDS Hooks 2.0, "Trusting CDS Clients").

Every call carries ``Authorization: Bearer <jwt>`` signed by the EHR. Accepted only when:

- the header's ``alg`` is ES384 or RS384 (``none``, HMAC and everything else are refused);
- ``iss`` is a configured issuer (checked on the unverified token, before any key is fetched);
- the key is found by ``kid`` in the JWKS configured for the issuer, or in a JWKS fetched from the
  header's ``jku`` when that URL is on *that issuer's* allowlist (and only then: a key set
  trusted for one EHR never verifies another EHR's tokens);
- the signature verifies;
- ``aud`` is exactly the URL of the endpoint being called;
- ``exp`` is in the future, ``nbf`` (when present) is not in the future, ``iat`` is present, not
  in the future beyond the allowed skew and not older than the configured maximum age;
- ``jti`` is present and was not seen before (replay), remembered until the token expires. The
  application keeps seen ``jti``s in the database (``cds_seen_jtis``) so that every worker
  process refuses a token another one accepted.

Key sets fetched from a ``jku`` are cached for a bounded time (``jwks_cache_seconds``), and
fetched again early only when a token names a ``kid`` the cached set lacks (key rotation), at
most once per ``jwks_refresh_seconds``.

Each refusal is an :class:`AuthError` with a short machine reason and a sentence for people.
Upstream errors (a key set that cannot be fetched) are logged, never echoed to the caller.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

import httpx
import jwt
from jwt.exceptions import InvalidSignatureError, PyJWKError, PyJWTError

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("ES384", "RS384")
#: Longest ``jti`` remembered (the database column's width); a longer one is refused.
MAX_JTI_LENGTH = 255
#: Largest key set read from a ``jku`` (a JWKS of a few keys is a few kilobytes).
MAX_JWKS_BYTES = 256 * 1024


class AuthError(Exception):
    """A refused call: ``reason`` is a stable code, ``detail`` a sentence saying why."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class ReplayCheckUnavailable(Exception):
    """The replay store could not be consulted: the call is refused (503), never accepted."""


class JtiStore(Protocol):
    """Remembers token ids until they expire. A database-backed store can replace the default."""

    def seen_before(self, jti: str, issuer: str, expires_at: float) -> bool:
        """Record the id; True when it was already recorded (a replay)."""
        ...


class InMemoryJtiStore:
    """Per-process replay store; entries are dropped once their token has expired."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def seen_before(self, jti: str, issuer: str, expires_at: float) -> bool:
        now = self._clock()
        with self._lock:
            for key in [k for k, until in self._seen.items() if until < now]:
                del self._seen[key]
            if (issuer, jti) in self._seen:
                return True
            self._seen[(issuer, jti)] = expires_at
            return False


@dataclass
class JwtSettings:
    """What the CDS service trusts.

    ``issuers``: issuer (``iss``) -> its JWKS (``{"keys": [...]}``); an issuer may map to
    ``None`` when its keys come only from an allowed ``jku``. ``jku_allowlist``: issuer -> the
    JWKS URLs that may be fetched when a token *of that issuer* names them in its ``jku``
    header.
    """

    issuers: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    jku_allowlist: Mapping[str, frozenset[str]] = field(default_factory=dict)
    max_age_seconds: int = 300
    clock_skew_seconds: int = 30
    jti_store: JtiStore = field(default_factory=InMemoryJtiStore)
    clock: Callable[[], float] = time.time
    http_timeout_seconds: float = 5.0
    jwks_cache_seconds: float = 300.0
    jwks_refresh_seconds: float = 30.0
    jwks_cache: JwksCache = field(default_factory=lambda: JwksCache())


class JwksCache:
    """Key sets fetched from ``jku`` URLs, each kept for a bounded time (and at most
    ``max_entries`` of them: the URLs are allowlisted, so this only bounds a misconfiguration)."""

    def __init__(self, max_entries: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[float, Mapping[str, Any]]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self.max_entries = max_entries
        #: How many times each URL was fetched (for operators and tests).
        self.fetches: dict[str, int] = {}

    def get(
        self,
        url: str,
        fetch: Callable[[str], Mapping[str, Any]],
        *,
        lifetime: float,
        younger_than: float | None = None,
    ) -> Mapping[str, Any]:
        """The cached set while it is younger than `lifetime` (and than `younger_than`, when
        given), else a fresh fetch."""
        now = self._clock()
        with self._lock:
            cached = self._entries.get(url)
        if cached is not None:
            age = now - cached[0]
            if age < lifetime and (younger_than is None or age < younger_than):
                return cached[1]
        jwks = fetch(url)
        with self._lock:
            self.fetches[url] = self.fetches.get(url, 0) + 1
            if url not in self._entries and len(self._entries) >= self.max_entries:
                del self._entries[min(self._entries, key=lambda k: self._entries[k][0])]
            self._entries[url] = (self._clock(), jwks)
        return jwks


def verify_request_jwt(
    authorization: str | None, audience: str, settings: JwtSettings
) -> dict[str, Any]:
    """The verified claims of the bearer token, or AuthError saying why it is refused."""
    if not authorization:
        raise AuthError("missing-token", "the Authorization header with a Bearer JWT is missing")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing-token", "the Authorization header must be 'Bearer <jwt>'")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except PyJWTError as error:
        raise AuthError(
            "malformed-token", f"the token is not a well-formed JWT ({error})"
        ) from None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise AuthError(
            "algorithm-not-allowed",
            f"alg {alg!r} is not allowed; only {' or '.join(ALLOWED_ALGORITHMS)}",
        )
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or issuer not in settings.issuers:
        raise AuthError("unknown-issuer", f"iss {issuer!r} is not a trusted CDS client")
    # Only now, with the header and the issuer checked, may a key set be fetched.
    key = _key(header, issuer, settings)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[str(alg)],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except InvalidSignatureError:
        raise AuthError("bad-signature", "the signature does not verify") from None
    except PyJWTError as error:
        raise AuthError("bad-signature", f"the token cannot be verified ({error})") from None
    _check_claims(claims, audience, settings)
    return claims


def _check_claims(claims: dict[str, Any], audience: str, settings: JwtSettings) -> None:
    now = settings.clock()
    skew = settings.clock_skew_seconds
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise AuthError("wrong-audience", f"aud {aud!r} is not this service URL {audience!r}")
    exp = claims.get("exp")
    if not _is_number(exp):
        raise AuthError("missing-claim", "exp is missing")
    if exp <= now - skew:
        raise AuthError("expired", "the token has expired (exp is in the past)")
    iat = claims.get("iat")
    if not _is_number(iat):
        raise AuthError("missing-claim", "iat is missing")
    if iat > now + skew:
        raise AuthError("issued-in-future", "iat is in the future")
    nbf = claims.get("nbf")
    if nbf is not None:
        if not _is_number(nbf):
            raise AuthError("malformed-token", "nbf must be a number (seconds since the epoch)")
        if nbf > now + skew:
            raise AuthError("not-yet-valid", "the token is not valid yet (nbf is in the future)")
    if now - iat > settings.max_age_seconds + skew:
        raise AuthError(
            "too-old", f"the token was issued more than {settings.max_age_seconds} s ago"
        )
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise AuthError("missing-claim", "jti is missing")
    if len(jti) > MAX_JTI_LENGTH:
        raise AuthError("malformed-token", f"jti is longer than {MAX_JTI_LENGTH} characters")
    try:
        replayed = settings.jti_store.seen_before(jti, str(claims.get("iss")), float(exp) + skew)
    except ReplayCheckUnavailable:
        raise
    except Exception as error:  # fail closed: a token whose replay cannot be ruled out is refused
        log.exception("the jti store could not be consulted")
        raise ReplayCheckUnavailable("the replay check is unavailable") from error
    if replayed:
        raise AuthError("replayed", "this jti was already used (replay)")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _key(header: Mapping[str, Any], issuer: str, settings: JwtSettings) -> Any:
    jku = header.get("jku")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise AuthError("malformed-token", "kid must be a string")
    if jku is not None:
        if not isinstance(jku, str) or jku not in settings.jku_allowlist.get(issuer, ()):
            raise AuthError(
                "jku-not-allowed", f"jku {jku!r} is not on the allowlist of issuer {issuer!r}"
            )
        jwks = settings.jwks_cache.get(
            jku, lambda url: _fetch_jwks(url, settings), lifetime=settings.jwks_cache_seconds
        )
        if kid is not None and not _has_kid(jwks, kid):  # the EHR may have rotated its keys
            jwks = settings.jwks_cache.get(
                jku,
                lambda url: _fetch_jwks(url, settings),
                lifetime=settings.jwks_cache_seconds,
                younger_than=settings.jwks_refresh_seconds,
            )
    else:
        configured = settings.issuers.get(issuer)
        if configured is None:
            raise AuthError("unknown-key", f"no keys configured for {issuer!r} and no jku given")
        jwks = configured
    keys = [k for k in jwks.get("keys", []) if isinstance(k, Mapping)]
    candidates = [k for k in keys if kid is None or k.get("kid") == kid]
    if kid is None and len(candidates) != 1:
        raise AuthError("unknown-key", "the token has no kid and the issuer has several keys")
    if not candidates:
        raise AuthError("unknown-key", f"kid {kid!r} is not among the issuer's keys")
    try:
        return jwt.PyJWK(dict(candidates[0]), algorithm=str(header["alg"])).key
    except (PyJWKError, PyJWTError, ValueError, TypeError, KeyError) as error:
        raise AuthError("unknown-key", f"the key {kid!r} cannot be used ({error})") from None


def _has_kid(jwks: Mapping[str, Any], kid: str) -> bool:
    keys = jwks.get("keys")
    return isinstance(keys, list) and any(
        isinstance(k, Mapping) and k.get("kid") == kid for k in keys
    )


def _fetch_jwks(url: str, settings: JwtSettings) -> Mapping[str, Any]:
    try:
        response = httpx.get(url, timeout=settings.http_timeout_seconds, follow_redirects=False)
        response.raise_for_status()
        if len(response.content) > MAX_JWKS_BYTES:
            raise ValueError(f"the key set is larger than {MAX_JWKS_BYTES} bytes")
        data = response.json()
    except (httpx.HTTPError, json.JSONDecodeError, ValueError) as error:
        log.warning("the JWKS at %s cannot be fetched: %s", url, error)
        raise AuthError("unknown-key", "the key set named by jku cannot be fetched") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        log.warning("the JWKS at %s is not a key set", url)
        raise AuthError("unknown-key", "the key set named by jku is not a JWKS") from None
    return data
