"""A real SMTP server on loopback (aiosmtpd) and a loopback HTTP server speaking GOV.UK
Notify's API, for the mail tests.  Nothing here stands in for smtplib or the Notify client:
they talk to these servers over TCP."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

LINK = re.compile(r"https?://\S+/s/[A-Za-z0-9_-]+")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    recipient: str
    message: Message
    peer: str

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode(self.message.get_content_charset() or "utf-8")

    def links(self) -> list[str]:
        return LINK.findall(self.body)


def _peer(session: Session) -> str:
    peer = session.peer
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


async def until(event: threading.Event, timeout: float = 60) -> None:
    """Wait for a thread's event without blocking the server's event loop."""
    waited = 0.0
    while not event.is_set() and waited < timeout:
        await asyncio.sleep(0.01)
        waited += 0.01


@dataclass
class MailHandler:
    """Accepts everything, except: a recipient whose name holds ``permfail`` is refused at
    RCPT with 550; one holding ``tempfail`` gets 451 at the end of DATA for its first
    ``temporary_failures`` attempts (the attempt's Message-ID is recorded in ``attempts``).
    ``before_rcpt(address, peer)`` and ``before_data(address, peer)`` are awaited (in the
    server's event loop: they must not block it) before a RCPT or DATA is answered;
    ``before_data`` runs after the message is stored, before the reply."""

    temporary_failures: int = 2
    received: list[Received] = field(default_factory=list)
    attempts: list[tuple[str, str]] = field(default_factory=list)  # (recipient, Message-ID)
    before_rcpt: Callable[[str, str], Awaitable[None]] | None = None
    before_data: Callable[[str, str], Awaitable[None]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.before_rcpt is not None:
            await self.before_rcpt(address, _peer(session))
        if "permfail" in address:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = message_from_bytes(content)
        recipient = envelope.rcpt_tos[0]
        with self.arrived:
            self.attempts.append((recipient, str(message["Message-ID"])))
            tried = sum(1 for address, _ in self.attempts if address == recipient)
            if "tempfail" in recipient and tried <= self.temporary_failures:
                return "451 4.3.0 Try again later"
            self.received.append(Received(recipient, message, _peer(session)))
            self.arrived.notify_all()
        if self.before_data is not None:
            await self.before_data(recipient, _peer(session))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        """Block until ``count`` messages have been accepted (or fail the test)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                pytest.fail(f"{len(self.received)} of {count} messages arrived")
            return list(self.received)

    def to(self, recipient: str) -> list[Received]:
        with self.lock:
            return [item for item in self.received if item.recipient == recipient]


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: MailHandler


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An aiosmtpd server on 127.0.0.1 (plain SMTP, no login) for one test."""
    handler = MailHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


# -- GOV.UK Notify ---------------------------------------------------------------------------

NOTIFY_SERVICE_ID = str(uuid.UUID(int=1))
NOTIFY_SECRET = str(uuid.UUID(int=2))
NOTIFY_API_KEY = f"test_key-{NOTIFY_SERVICE_ID}-{NOTIFY_SECRET}"
NOTIFY_TEMPLATE_ID = str(uuid.UUID(int=3))


@dataclass
class NotifyState:
    """What the loopback Notify received, and how it answers: an address holding
    ``permfail`` gets Notify's 400 ValidationError; one holding ``ratelimit`` 429 once."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    rate_limited: set[str] = field(default_factory=set)


class _NotifyHandler(BaseHTTPRequestHandler):
    state: NotifyState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, kind: str, message: str) -> None:
        self.state.rejected.append((status, message))
        self._answer(
            status, {"status_code": status, "errors": [{"error": kind, "message": message}]}
        )

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            self._error(401, "AuthError", "Unauthorized: authentication token must be provided")
            return False
        try:
            claims = jwt.decode(header[7:], NOTIFY_SECRET, algorithms=["HS256"])
        except jwt.PyJWTError:
            self._error(403, "AuthError", "Invalid token: signature, api token not found")
            return False
        if claims.get("iss") != NOTIFY_SERVICE_ID or "iat" not in claims:
            self._error(403, "AuthError", "Invalid token: iss field not provided")
            return False
        return True

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if self.path != "/v2/notifications/email":
            self._error(404, "NotFoundError", "Not found")
            return
        length = int(self.headers.get("Content-Length", "0"))
        document = json.loads(self.rfile.read(length))
        address = str(document.get("email_address", ""))
        if document.get("template_id") != NOTIFY_TEMPLATE_ID:
            self._error(400, "BadRequestError", "Template not found")
            return
        if "permfail" in address or "@" not in address:
            self._error(400, "ValidationError", "email_address Not a valid email address")
            return
        if "ratelimit" in address and address not in self.state.rate_limited:
            self.state.rate_limited.add(address)
            self._error(429, "RateLimitError", "Exceeded rate limit for key type LIVE")
            return
        notification_id = str(uuid.uuid4())
        personalisation = document.get("personalisation") or {}
        self.state.sent.append({"id": notification_id, **document})
        self.state.statuses[notification_id] = (
            "permanent-failure" if "bounce" in address else "delivered"
        )
        self._answer(
            201,
            {
                "id": notification_id,
                "reference": document.get("reference"),
                "content": {
                    "subject": personalisation.get("subject", ""),
                    "body": personalisation.get("body", ""),
                    "from_email": "trust.survey@notifications.service.gov.uk",
                },
                "uri": f"/v2/notifications/{notification_id}",
                "template": {"id": NOTIFY_TEMPLATE_ID, "version": 1, "uri": "/v2/template"},
            },
        )

    def do_GET(self) -> None:
        if not self._authorised():
            return
        notification_id = self.path.rsplit("/", 1)[-1]
        status = self.state.statuses.get(notification_id)
        if status is None:
            self._error(404, "NoResultFound", "No result found")
            return
        self._answer(200, {"id": notification_id, "type": "email", "status": status})


@dataclass
class NotifyServer:
    base_url: str
    state: NotifyState


@pytest.fixture
def notify_server() -> Iterator[NotifyServer]:
    state = NotifyState()
    handler = type("NotifyHandler", (_NotifyHandler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield NotifyServer(f"http://127.0.0.1:{server.server_address[1]}", state)
    finally:
        server.shutdown()
        server.server_close()
