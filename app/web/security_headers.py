"""Pure ASGI middleware: security headers on every answer, and a limit on request bodies.

Headers (set on every HTTP answer unless the app already set them):

* ``Content-Security-Policy``: this site only.  Scripts, styles, images and fonts come from the
  app itself (the NHS.UK frontend assets are served by the app); the report charts are inline
  SVG elements, which need no exception.  ``frame-ancestors 'none'`` forbids framing.  The API
  docs page (Swagger UI, served by the app) may also set inline styles.
* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (for old browsers).
* ``Referrer-Policy: no-referrer``: respondents' links carry their token in the path.
* ``Strict-Transport-Security`` only when the request came over HTTPS (the request's scheme, or
  ``X-Forwarded-Proto: https`` from the proxy in front).
* ``Cache-Control: no-store`` on every answer but the static files (``/assets``, ``/static``),
  replacing whatever the route set: pages and API answers show answers, results, links or
  accounts, and a shared computer must not keep them (nor show them again on Back).

:class:`TrustedHostMiddleware` answers 400 to a request whose ``Host`` is not one the service
is configured for, so that a forged ``Host`` never ends up in a link the service hands out.

:class:`BodySizeLimitMiddleware` answers 413 to a request whose body is larger than its limit,
by ``Content-Length`` before reading, or while reading a body without one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import host_of

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
API_DOCS_PATH = "/api/docs"
# Swagger UI (served by the app, app/web/site_files.py) sets styles from its script.
API_DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"
STATIC_PREFIXES = ("/assets/", "/static/")
NO_STORE = b"no-store"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def _header(scope: Scope, name: bytes) -> bytes | None:
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def came_over_https(scope: Scope) -> bool:
    """Whether the browser used HTTPS: this request's scheme, or the proxy's forwarded one."""
    if scope.get("scheme") == "https":
        return True
    forwarded = _header(scope, b"x-forwarded-proto")
    return forwarded is not None and forwarded.split(b",")[0].strip().lower() == b"https"


def security_headers_for(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers to add to the answer to ``scope``."""
    path = str(scope.get("path", ""))
    policy = API_DOCS_CONTENT_SECURITY_POLICY if path == API_DOCS_PATH else CONTENT_SECURITY_POLICY
    headers = [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if came_over_https(scope):
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


def is_static(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith(STATIC_PREFIXES)


class SecurityHeadersMiddleware:
    """Adds :func:`security_headers_for` to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers_for(scope)
        no_store = not is_static(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if no_store:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", NO_STORE))
                present = {key.lower() for key, _ in headers}
                headers.extend((key, value) for key, value in extra if key not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustedHostMiddleware:
    """Answers 400 unless the request's ``Host`` is one of ``hosts`` (``*``: any).

    Starlette's own middleware of this name splits ``[::1]:8000`` at the first colon, so it
    cannot trust an IPv6 loopback address; this one reads brackets.
    """

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "*" in self.hosts:
            await self.app(scope, receive, send)
            return
        given = (_header(scope, b"host") or b"").decode("latin-1")
        if host_of(given) in self.hosts:
            await self.app(scope, receive, send)
            return
        detail = (
            f"this service does not answer to the host {given[:100]!r}; "
            "its operator can add it to ALLOWED_HOSTS"
        )
        if str(scope.get("path", "")).startswith("/api/"):
            body = json.dumps({"detail": detail}).encode()
            content_type = b"application/json"
        else:
            body = f"Bad request: {detail}.".encode()
            content_type = b"text/plain; charset=utf-8"
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class RequestBodyTooLargeError(Exception):
    """Raised inside the app when a streamed body passes the limit."""


class BodySizeLimitMiddleware:
    """Refuses request bodies larger than ``max_body_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def _refuse(self, scope: Scope, send: Send) -> None:
        limit_kib = self.max_body_bytes // 1024
        detail = f"the request body is too large: at most {limit_kib} KiB is accepted"
        is_api = str(scope.get("path", "")).startswith("/api/")
        if is_api:
            body = json.dumps({"detail": detail}).encode()
            content_type = b"application/json"
        else:
            body = f"Request too large: {detail}.".encode()
            content_type = b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_body_bytes
            except ValueError:
                too_large = False
            if too_large:
                await self._refuse(scope, send)
                return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise RequestBodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app makes of the broken body, the answer is 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(RequestBodyTooLargeError):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(scope, send)
