"""Real receivers for the notification tests: an SMTP server (aiosmtpd) and an HTTP server for
the webhook, each started by the test on 127.0.0.1 and recording every message it got."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import Engine

from secondlook.store import db, migrate
from secondlook.store.pgtemp import TempPostgres


# A fresh database per test, on SQLite and on the PostgreSQL the test run starts: the worker
# drains the whole outbox, so each test has an outbox of its own. Test modules import these.
@pytest.fixture
def notify_url(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('notify')}/secondlook.db"
    server: TempPostgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"notify_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def notify_engine(notify_url: str) -> Iterator[Engine]:
    engine = db.make_engine(notify_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server accepted, in order. ``delay``: how long it takes over each message
    (so a worker can be killed while a burst is being delivered); ``refuse``: answer every
    message with this reply instead (a relay that is down)."""

    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[bool] = field(default_factory=list)
    delay: float = 0.0
    refuse: str | None = None
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse is not None:
            return self.refuse
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.arrived:
            self.messages.append(parsed)
            self.arrived.notify_all()
        return "250 OK"

    def keys(self) -> list[str]:
        return [str(m["X-SecondLook-Idempotency-Key"]) for m in self.messages]

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Block until ``count`` messages have arrived (a condition, not a timed sleep)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.messages) >= count, timeout), (
                f"only {len(self.messages)} of {count} messages arrived"
            )


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, for an SMTP server with STARTTLS; a client
    trusts it through SSL_CERT_FILE (OpenSSL's default verify paths read it)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@contextmanager
def smtp_server(
    *, tls: tuple[Path, Path] | None = None, login: tuple[str, str] | None = None, **options: Any
) -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on 127.0.0.1; with ``tls`` (certificate, key) it requires STARTTLS, with
    ``login`` (username, password) it requires that sign-in (over TLS only)."""
    box = Mailbox(**options)
    port = free_port()
    extra: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        extra |= {"tls_context": context, "require_starttls": True}
    if login is not None:

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            box.logins.append(ok)
            return AuthResult(success=ok, handled=False)  # the server answers 235 or 535

        extra |= {"authenticator": authenticate, "auth_require_tls": True}
    controller = Controller(box, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Hook:
    """What the webhook receiver got: each request's headers and body."""

    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 204

    def keys(self) -> list[str]:
        return [h["idempotency-key"] for h, _ in self.calls]

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(b) for _, b in self.calls]

    def signed(self, secret: str) -> bool:
        return all(
            h.get("x-secondlook-signature")
            == "sha256=" + hmac.new(secret.encode(), b, hashlib.sha256).hexdigest()
            for h, b in self.calls
        )


@contextmanager
def webhook_receiver(status: int = 204) -> Iterator[tuple[Hook, str]]:
    hook = Hook(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(hook.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook, f"http://127.0.0.1:{server.server_address[1]}/page"
    finally:
        server.shutdown()
        server.server_close()
