"""Rate limits on signing in and on link tokens, as pure ASGI middleware.

* Signing in (``POST /coordinator/login``, ``POST /reports/login``, and HTTP Basic on the API):
  failed attempts (answers 401) are counted per e-mail address and per client address.
* Link tokens (``/s/{token}...`` and ``/api/v1/survey/{token}...``): unknown links (answers
  404) are counted per client address.  A respondent whose link works is never counted, however
  many pages they save.

Once a count reaches its limit, requests of that kind answer 429 with ``Retry-After`` until
the window ends: an HTML page for browsers, JSON under ``/api/``.  The counters live in the
database (:mod:`app.services.rate_limits`), so the limits hold in total across workers.  If
the database does not answer, requests go through unlimited and the app reports the outage
itself (the respondent pages keep the posted answers on their 503 page).

The client address is the ASGI ``client``: behind a proxy, run uvicorn with
``--forwarded-allow-ips`` set to the proxy's address so that it is the browser's own
(docs/deployment.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from urllib.parse import parse_qs

import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.coordinators import normalised_email
from app.services.rate_limits import Limit, RateLimiter, Refusal
from app.web.templating import templates

logger = logging.getLogger(__name__)

LOGIN_PATHS = frozenset({"/coordinator/login", "/reports/login"})
LINK_PATH = re.compile(r"^/(?:s|api/v1/survey)/[^/]+(?:/|$)")
LOGIN_FAILED = 401
LINK_UNKNOWN = 404
MOST_LOGIN_FORM_BYTES = 16 * 1024


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def basic_username(scope: Scope) -> str | None:
    """The user name of an ``Authorization: Basic`` header, if there is one."""
    header = _header(scope, b"authorization")
    if header is None or header[:6].lower() != b"basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def form_email(body: bytes) -> str:
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return ""
    return fields.get("email", [""])[0]


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def refusal_message(refusal: Refusal, limit_kind: str) -> str:
    wait = _minutes(refusal.retry_after)
    if limit_kind == "link":
        return (
            "there have been too many attempts to open survey links that do not exist from "
            f"your connection; wait {wait} and try again, copying the whole link from your "
            "invitation"
        )
    return (
        "there have been too many failed attempts to sign in, to this account or from your "
        f"connection; wait {wait} and try again"
    )


class RateLimitMiddleware:
    """Applies the limits of ``app.state.rate_limiter`` (set by ``create_app``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limiter: RateLimiter = scope["app"].state.rate_limiter
        path = str(scope.get("path", ""))
        address = client_address(scope)
        checks: list[tuple[Limit, str]] = []
        failure_status = LOGIN_FAILED
        kind = "login"
        username = basic_username(scope)
        if scope.get("method") == "POST" and path in LOGIN_PATHS:
            receive, username = await self._read_login_form(receive)
        if username is not None:
            checks = [
                (limiter.policy.login_per_address, address),
                (limiter.policy.login_per_email, normalised_email(username)),
            ]
        elif LINK_PATH.match(path):
            checks = [(limiter.policy.link_per_address, address)]
            failure_status, kind = LINK_UNKNOWN, "link"
        if not checks:
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(limiter, checks)
        if refusal is not None:
            await self._refuse(scope, receive, send, refusal, kind)
            return

        async def counting_send(message: Message) -> None:
            # Count a failure before the client can see the answer, so that its next request
            # is checked against a count that already includes this one.
            if message["type"] == "http.response.start" and message["status"] == failure_status:
                await self._count(limiter, checks)
            await send(message)

        await self.app(scope, receive, counting_send)

    @staticmethod
    async def _read_login_form(receive: Receive) -> tuple[Receive, str]:
        """Read the (small) login form to learn its e-mail; hand the app the same body."""
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        email = form_email(body) if len(body) <= MOST_LOGIN_FORM_BYTES else ""

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        return replay, email

    @staticmethod
    async def _refusal(limiter: RateLimiter, checks: list[tuple[Limit, str]]) -> Refusal | None:
        try:
            return await anyio.to_thread.run_sync(limiter.refusal, checks)
        except SQLAlchemyError:
            logger.warning("rate limits not checked: the database did not answer")
            return None

    @staticmethod
    async def _count(limiter: RateLimiter, checks: list[tuple[Limit, str]]) -> None:
        try:
            await anyio.to_thread.run_sync(limiter.count_failure, checks)
        except SQLAlchemyError:
            logger.warning("a failed attempt was not counted: the database did not answer")

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, refusal: Refusal, kind: str
    ) -> None:
        message = refusal_message(refusal, kind)
        logger.info("429: %s limit reached", refusal.limit.bucket)
        headers = {"Retry-After": str(refusal.retry_after), "Cache-Control": "no-store"}
        if str(scope.get("path", "")).startswith("/api/"):
            body = json.dumps({"detail": message}).encode()
            raw = [(b"content-type", b"application/json")]
            raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            raw.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": 429, "headers": raw})
            await send({"type": "http.response.body", "body": body})
            return
        response = templates.TemplateResponse(
            Request(scope, receive),
            "problem.html",
            {"message": message, "title": "Too many attempts"},
            status_code=429,
            headers=headers,
        )
        await response(scope, receive, send)
