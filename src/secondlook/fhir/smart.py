"""SMART App Launch 2.0, EHR launch, as the OAuth client (docs/fhir.md, "SMART EHR launch").

The EHR opens ``/smart/launch?iss=...&launch=...``. SecondLook reads ``iss`` against the
configured clients (``SECONDLOOK_SMART_CLIENTS``: a JSON list, inline or in a file), discovers
``{iss}/.well-known/smart-configuration``, sends the browser to the authorization endpoint with
PKCE S256 and a one-time ``state``, exchanges the code (with the verifier) at the token endpoint
and reads the patient's record from ``iss`` with the access token, through the same reader as
CDS Hooks (``cds_data.gather``: the token goes to the ``iss`` origin only, ``next`` links on that
origin only, bounded pages, addresses never contacted refused).

The client side is three HTTP exchanges, written with httpx (already SecondLook's HTTP client)
rather than an OAuth library: each check this flow needs (origin of every endpoint, no
redirects, no upstream text echoed) is then in one place and visible.

A configuration::

    [{"iss": "https://ehr.hospital.org/fhir/r4", "client_id": "secondlook",
      "client_secret": null, "scope": "launch openid fhirUser patient/*.rs"}]
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx

from secondlook.fhir.cds_data import Gathered, PreconditionFailed, gather, never_contacted, origin

log = logging.getLogger(__name__)

ENVIRONMENT_VARIABLE: Final = "SECONDLOOK_SMART_CLIENTS"
#: SMART v2 scopes: the launch context, who the user is, and read/search of the patient's data.
DEFAULT_SCOPE: Final = "launch openid fhirUser patient/*.rs"
#: A pending launch is good for this long: the user is at the EHR's authorization page.
PENDING_SECONDS: Final = 600
#: At most this many launches wait at once (each is a few hundred bytes).
MAX_PENDING: Final = 10_000
TIMEOUT_SECONDS: Final = 10.0
_KEYS: Final = frozenset({"iss", "client_id", "client_secret", "scope"})


class SmartConfigInvalid(ValueError):
    """A configuration that cannot be used; the message names each problem."""


class LaunchRefused(Exception):
    """The launch cannot go on; the message is ours and safe to show (never upstream text)."""


@dataclass(frozen=True)
class SmartClient:
    iss: str
    client_id: str
    client_secret: str | None = None
    scope: str = DEFAULT_SCOPE


@dataclass(frozen=True)
class SmartConfig:
    clients: Mapping[str, SmartClient]
    timeout_seconds: float = TIMEOUT_SECONDS

    def client_for(self, iss: str) -> SmartClient | None:
        return self.clients.get(iss.rstrip("/"))


def parse_smart_config(data: object, source: str = ENVIRONMENT_VARIABLE) -> SmartConfig:
    problems: list[str] = []
    if not isinstance(data, list) or not data:
        raise SmartConfigInvalid(f"{source}: must be a non-empty JSON list of clients")
    clients: dict[str, SmartClient] = {}
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            problems.append(f"[{i}] must be an object")
            continue
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            problems.append(f"[{i}]: unknown keys {unknown} (known: {sorted(_KEYS)})")
        iss, client_id = item.get("iss"), item.get("client_id")
        if not (isinstance(iss, str) and _allowed_url(iss)):
            problems.append(f"[{i}].iss must be an https URL (http only on 127.0.0.1)")
            continue
        if not (isinstance(client_id, str) and client_id):
            problems.append(f"[{i}].client_id is required")
            continue
        secret = item.get("client_secret")
        if secret is not None and not (isinstance(secret, str) and secret):
            problems.append(f"[{i}].client_secret must be a string or null")
        scope = item.get("scope", DEFAULT_SCOPE)
        if not (isinstance(scope, str) and "launch" in scope.split()):
            problems.append(f"[{i}].scope must be a space-separated string that holds 'launch'")
            scope = DEFAULT_SCOPE
        clients[iss.rstrip("/")] = SmartClient(
            iss.rstrip("/"), client_id, secret if isinstance(secret, str) else None, scope
        )
    if problems:
        raise SmartConfigInvalid(f"{source}: " + "; ".join(problems))
    return SmartConfig(clients)


def load_smart_config(value: str) -> SmartConfig:
    """The setting's value: the JSON itself, or the path of a file holding it."""
    text = value
    if not value.lstrip().startswith("["):
        try:
            text = Path(value).read_text("utf-8")
        except OSError as error:
            message = f"{ENVIRONMENT_VARIABLE}: cannot read {value}: {error}"
            raise SmartConfigInvalid(message) from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise SmartConfigInvalid(f"{ENVIRONMENT_VARIABLE}: not JSON: {error}") from None
    return parse_smart_config(data)


def _allowed_url(url: str) -> bool:
    """https, or http to 127.0.0.1 (the test run's own servers); never credentials in it."""
    parts = urlsplit(url)
    if origin(url) is None or parts.query or parts.fragment:
        return False
    return parts.scheme == "https" or parts.hostname == "127.0.0.1"


# -- pending launches ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    iss: str
    launch: str
    verifier: str
    redirect_uri: str
    browser: str  # a hash of the browser's session: the callback must come from that browser
    token_endpoint: str
    expires: float


@dataclass
class PendingLaunches:
    """Launches waiting for their callback, by ``state``: one-time (taken, never read) and
    expiring. Held by the process: with several workers the callback must reach the worker
    that started the launch (sticky sessions), or the launch is refused and started again."""

    seconds: float = PENDING_SECONDS
    _items: dict[str, Pending] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, state: str, pending: Pending) -> None:
        with self._lock:
            now = time.monotonic()
            for key in [k for k, p in self._items.items() if p.expires < now]:
                del self._items[key]
            if len(self._items) >= MAX_PENDING:
                raise LaunchRefused("too many launches are waiting; try again in a few minutes")
            self._items[state] = pending

    def take(self, state: str) -> Pending | None:
        with self._lock:
            pending = self._items.pop(state, None)
        if pending is None or pending.expires < time.monotonic():
            return None
        return pending


def browser_key(session_secret: str) -> str:
    return hashlib.sha256(b"smart-launch:" + session_secret.encode()).hexdigest()


# -- the flow -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authorize:
    url: str
    state: str
    pending: Pending


def _get_json(client: httpx.Client, url: str, what: str) -> Mapping[str, Any]:
    try:
        response = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as error:
        log.warning("SMART: reading %s failed: %s", url, error)
        raise LaunchRefused(f"the EHR's {what} could not be read") from None
    if response.status_code != 200:
        log.warning("SMART: %s answered %s", url, response.status_code)
        raise LaunchRefused(f"the EHR's {what} answered {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise LaunchRefused(f"the EHR's {what} is not JSON") from None
    if not isinstance(data, Mapping):
        raise LaunchRefused(f"the EHR's {what} is not a JSON object")
    return data


def _endpoint(value: object, name: str) -> str:
    if not (isinstance(value, str) and _allowed_url(value)):
        raise LaunchRefused(f"the EHR's {name} is missing or not an https URL")
    if never_contacted(urlsplit(value).hostname or ""):
        raise LaunchRefused(f"the EHR's {name} is not an address SecondLook contacts")
    return value


def _checked_iss(iss: str) -> None:
    if never_contacted(urlsplit(iss).hostname or ""):
        raise LaunchRefused("the EHR's address (iss) is not an address SecondLook contacts")


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def start(
    config: SmartConfig, *, iss: str, launch: str, redirect_uri: str, browser: str
) -> Authorize:
    """Discover the EHR's endpoints and build the authorization redirect (LaunchRefused says
    why not: an unknown ``iss``, an endpoint that is not https, an internal address...)."""
    client_config = config.client_for(iss)
    if client_config is None:
        raise LaunchRefused("this EHR (iss) is not one SecondLook is configured to launch from")
    if not launch or len(launch) > 2000:
        raise LaunchRefused("the launch parameter is missing or too long")
    _checked_iss(client_config.iss)
    with httpx.Client(timeout=config.timeout_seconds, follow_redirects=False) as client:
        found = _get_json(
            client,
            f"{client_config.iss}/.well-known/smart-configuration",
            "SMART configuration",
        )
    authorize = _endpoint(found.get("authorization_endpoint"), "authorization_endpoint")
    token = _endpoint(found.get("token_endpoint"), "token_endpoint")
    methods = found.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise LaunchRefused("the EHR does not support PKCE S256, which SecondLook requires")
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    pending = Pending(
        iss=client_config.iss,
        launch=launch,
        verifier=verifier,
        redirect_uri=redirect_uri,
        browser=browser,
        token_endpoint=token,
        expires=time.monotonic() + PENDING_SECONDS,
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_config.client_id,
            "redirect_uri": redirect_uri,
            "launch": launch,
            "scope": client_config.scope,
            "state": state,
            "aud": client_config.iss,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in authorize else "?"
    return Authorize(f"{authorize}{separator}{query}", state, pending)


@dataclass(frozen=True)
class Granted:
    access_token: str
    patient: str


def exchange(config: SmartConfig, pending: Pending, code: str) -> Granted:
    """Trade the code (and the PKCE verifier) for the access token and the patient in context."""
    client_config = config.client_for(pending.iss)
    if client_config is None:
        raise LaunchRefused("this EHR is no longer configured")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.verifier,
    }
    auth: tuple[str, str] | None = None
    if client_config.client_secret is not None:  # a confidential client: HTTP Basic (RFC 6749)
        auth = (client_config.client_id, client_config.client_secret)
    else:
        form["client_id"] = client_config.client_id
    try:
        with httpx.Client(timeout=config.timeout_seconds, follow_redirects=False) as client:
            response = client.post(
                pending.token_endpoint,
                data=form,
                auth=auth,  # type: ignore[arg-type]
                headers={"Accept": "application/json"},
            )
    except httpx.HTTPError as error:
        log.warning("SMART: the token request failed: %s", error)
        raise LaunchRefused("the EHR's token endpoint could not be reached") from None
    if response.status_code != 200:
        log.warning("SMART: the token endpoint answered %s", response.status_code)
        raise LaunchRefused(f"the EHR refused the authorization code ({response.status_code})")
    try:
        data = response.json()
    except ValueError:
        raise LaunchRefused("the EHR's token answer is not JSON") from None
    token = data.get("access_token") if isinstance(data, Mapping) else None
    patient = data.get("patient") if isinstance(data, Mapping) else None
    if not (isinstance(token, str) and token):
        raise LaunchRefused("the EHR's token answer has no access_token")
    if not (isinstance(patient, str) and patient and len(patient) <= 64):
        raise LaunchRefused("the EHR's token answer names no patient (the launch has no patient)")
    return Granted(token, patient)


def read_record(config: SmartConfig, pending: Pending, granted: Granted, today: date) -> Gathered:
    """The patient's record from ``iss``, read with the access token (cds_data.gather: the token
    goes to that origin only, bounded pages, same-origin ``next`` links only)."""
    body = {
        "context": {"patientId": granted.patient},
        "fhirServer": pending.iss,
        "fhirAuthorization": {"access_token": granted.access_token, "token_type": "Bearer"},
        "prefetch": {},
    }
    try:
        return gather(
            body, allowed_servers=(pending.iss,), timeout=config.timeout_seconds, today=today
        )
    except PreconditionFailed as failed:
        raise LaunchRefused(str(failed)) from None
