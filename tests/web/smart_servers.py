"""A SMART authorization server and an EHR FHIR server, real HTTP listeners on 127.0.0.1 for
the EHR launch tests. The authorization server issues one-time codes bound to the PKCE S256
challenge, the client and the redirect URI, and checks the verifier at the token endpoint (RFC
7636 section 4.6); its token answer names the patient in context. The FHIR server serves the
Epic-shaped record of tests/fhir/ehr and answers only the bearer token the authorization
server issued. Both record every request they received.

Imported by the test module (not a conftest.py: see tests/fhir/fhir_support.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

EPIC = Path(__file__).resolve().parents[1] / "fhir" / "ehr" / "epic_like.json"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


class _Listener:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener._handle(self, "")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                listener._handle(self, self.rfile.read(length).decode())

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _handle(self, handler: BaseHTTPRequestHandler, body: str) -> None:
        with self._lock:
            self.received.append(
                Received(
                    handler.command,
                    handler.path,
                    {k.lower(): v for k, v in handler.headers.items()},
                    body,
                )
            )
        status, headers, answer = self.answer(handler.command, handler.path, handler.headers, body)
        data = json.dumps(answer).encode() if answer is not None else b""
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def answer(
        self, method: str, path: str, headers: Any, body: str
    ) -> tuple[int, dict[str, str], Any]:
        return 404, {}, {"error": "not_found"}

    def bearer_tokens(self) -> list[str]:
        with self._lock:
            return [
                r.headers["authorization"]
                for r in self.received
                if r.headers.get("authorization", "").startswith("Bearer ")
            ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    patient: str


class AuthorizationServer(_Listener):
    """/authorize (redirects back with a code) and /token (code + verifier -> token)."""

    def __init__(self, patient: str) -> None:
        self.patient = patient
        self.codes: dict[str, Grant] = {}
        self.tokens: set[str] = set()
        self.token_requests: list[dict[str, str]] = []
        super().__init__()

    def answer(
        self, method: str, path: str, headers: Any, body: str
    ) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/authorize" and method == "GET":
            if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                return 400, {}, {"error": "invalid_request", "error_description": "PKCE S256"}
            code = secrets.token_urlsafe(16)
            self.codes[code] = Grant(
                query["client_id"],
                query["redirect_uri"],
                query["code_challenge"],
                query["code_challenge_method"],
                self.patient,
            )
            back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            return 302, {"Location": back}, None
        if parts.path == "/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body).items()}
            self.token_requests.append(form)
            grant = self.codes.pop(form.get("code", ""), None)  # one-time
            if grant is None or form.get("grant_type") != "authorization_code":
                return 400, {}, {"error": "invalid_grant"}
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                not verifier
                or expected != grant.challenge
                or form.get("redirect_uri") != grant.redirect_uri
                or form.get("client_id") != grant.client_id
            ):
                return 400, {}, {"error": "invalid_grant", "error_description": "PKCE failed"}
            token = secrets.token_urlsafe(24)
            self.tokens.add(token)
            return (
                200,
                {"Cache-Control": "no-store"},
                {
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "launch openid fhirUser patient/*.rs",
                    "patient": grant.patient,
                },
            )
        return 404, {}, {"error": "not_found"}


@dataclass
class FhirServer(_Listener):
    """The EHR's FHIR server at ``{url}/fhir/r4``: its SMART configuration (naming the
    authorization server), Patient read, searches by patient, reads of any resource; a bearer
    token from the authorization server is required for the data."""

    authorization: AuthorizationServer
    #: resource type -> a `next` link its searchset carries (to test where they lead)
    next_links: dict[str, str] = field(default_factory=dict)
    #: keys of the SMART configuration replaced (to test what SecondLook refuses in it)
    discovery: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bundle = json.loads(EPIC.read_text("utf-8"))
        self.resources = [e["resource"] for e in bundle["entry"]]
        _Listener.__init__(self)
        self.base = f"{self.url}/fhir/r4"

    def answer(
        self, method: str, path: str, headers: Any, body: str
    ) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(path)
        route = parts.path.removeprefix("/fhir/r4").strip("/").split("/")
        if route == [".well-known", "smart-configuration"]:
            auth = self.authorization.url
            return (
                200,
                {},
                {
                    "authorization_endpoint": f"{auth}/authorize",
                    "token_endpoint": f"{auth}/token",
                    "code_challenge_methods_supported": ["S256"],
                    "capabilities": ["launch-ehr", "context-ehr-patient", "client-public"],
                    **self.discovery,
                },
            )
        token = str(headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in self.authorization.tokens:
            return 401, {}, {"resourceType": "OperationOutcome", "issue": [{"code": "login"}]}
        if len(route) == 2:
            for resource in self.resources:
                if [resource["resourceType"], resource.get("id")] == route:
                    return 200, {}, resource
            return 404, {}, {"resourceType": "OperationOutcome", "issue": [{"code": "not-found"}]}
        if len(route) == 1:
            kind = route[0]
            entries = [
                {
                    "fullUrl": f"{self.base}/{kind}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in self.resources
                if r["resourceType"] == kind
            ]
            searchset: dict[str, Any] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(entries),
                "link": [{"relation": "self", "url": f"{self.base}/{kind}"}],
            }
            if entries:
                searchset["entry"] = entries
            if kind in self.next_links:
                searchset["link"].append({"relation": "next", "url": self.next_links[kind]})
            return 200, {}, searchset
        return 404, {}, {"resourceType": "OperationOutcome", "issue": [{"code": "not-found"}]}
