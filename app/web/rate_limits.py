"""Rate limits on signing in, on link tokens and on open links, as pure ASGI middleware.

* **Signing in** (``POST /sign-in``, and HTTP Basic on the
  API): failed attempts (answers 401) are counted.  A browser that has signed in to the
  account before carries a signed device cookie for it and is limited only by its own
  failures, so an attacker's failures never lock the real person's usual browser out.  Any
  other attempt is slowed progressively per (e-mail, client address) and per e-mail (each
  failure beyond a few doubles the wait, capped), and limited per client address.  The
  e-mail counted is the one the app reads: the form is parsed by Starlette's own parser, and
  a form with the ``email`` field more than once is refused (400).
* **Link tokens** (``/s/{token}...`` and ``/api/v1/survey/{token}...``): unknown links
  (answers 404) are counted per client address.  When the count is reached, a request is
  refused only if its link does not work: a respondent whose link works is never refused by
  this limit, however many strangers share their address.
* **Open links**: each start from an open link (``POST /s/{open}/start``, which makes a
  personal link) and each submission through it on the API
  (``POST /api/v1/survey/{open}/response``) takes one from three limits: per browser and
  round (a signed browser cookie, set where an open link is first read; personal links set
  no cookie; clients without it share one allowance per address), per client address and
  round (sized for an office behind one proxy address), and per round.  A use whose answer
  is not a success (a form to correct) is given back.

Once a limit is reached, requests of that kind answer 429 with ``Retry-After``: a page that
says which limit and how long to wait for browsers (keeping the posted answers in a form
that sends them again, on respondent pages), JSON under ``/api/`` (``detail``, ``limit``,
``retry_after``).  The counters live in the database (:mod:`app.services.rate_limits`), so
the limits hold in total across workers.  If the database does not answer, requests go
through unlimited and the app reports the outage itself (the respondent pages keep the
posted answers on their 503 page).

The client address is the ASGI ``client``: behind a proxy, run uvicorn with
``--forwarded-allow-ips`` set to the proxy's address so that it is the browser's own
(docs/deployment.md).
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
from base64 import b64decode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio.to_thread
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.database import AsyncDatabase
from app.models import InvitationKind
from app.services.accounts import normalised_email
from app.services.answering import Link, find_link
from app.services.rate_limits import Limit, RateLimiter, Refusal
from app.web.pages import ProblemPage, TooManyPage
from app.web.templating import templates

logger = logging.getLogger(__name__)

LOGIN_PATHS = frozenset({"/sign-in"})
LINK_PATH = re.compile(r"^/(?P<area>s|api/v1/survey)/(?P<token>[^/]+)(?P<rest>/.*)?$")
LOGIN_FAILED = 401
LINK_UNKNOWN = 404
SIGNED_IN = 303
MOST_LOGIN_FORM_BYTES = 16 * 1024
BROWSER_COOKIE = "trust_survey_browser"
DEVICE_COOKIE = "trust_survey_device"
COOKIE_DAYS = 90
NOT_POSTED_BACK = frozenset({"csrf_token"})
LINK_LOOKUP = "trust_survey.link"
T = TypeVar("T")


@dataclass(frozen=True)
class LinkLookup:
    """What the middleware read of a link on the API (``scope[LINK_LOOKUP]``): the link
    (``None``: unknown or revoked) and the connection it was read on, which the route uses
    for the rest of the request's work."""

    token: str
    link: Link | None
    connection: AsyncConnection


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def basic_username(scope: Scope) -> str | None:
    """The user name the app reads from an ``Authorization: Basic`` header (decoded exactly as
    FastAPI's ``HTTPBasic`` does), or ``None`` when the app would not try any account."""
    header = _header(scope, b"authorization")
    if header is None:
        return None
    scheme, _, param = header.decode("latin-1").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        data = b64decode(param).decode("ascii")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    username, separator, _ = data.partition(":")
    return username if separator else None


def _cookie(scope: Scope, name: str) -> str | None:
    header = _header(scope, b"cookie")
    if header is None:
        return None
    return cookie_parser(header.decode("latin-1")).get(name)


def _mac(secret_key: str, *parts: str) -> str:
    message = "\x00".join(parts).encode("utf-8", errors="surrogatepass")
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def browser_id(scope: Scope, secret_key: str) -> str | None:
    """The id of this browser's signed browser cookie, if it has a valid one."""
    value = _cookie(scope, BROWSER_COOKIE) or ""
    found, _, mac = value.partition(".")
    if found and hmac.compare_digest(mac, _mac(secret_key, "browser", found)):
        return found
    return None


def new_browser_cookie(secret_key: str) -> str:
    found = secrets.token_urlsafe(16)
    return f"{found}.{_mac(secret_key, 'browser', found)}"


def device_for(scope: Scope, secret_key: str, email: str) -> str | None:
    """The device id of a browser that has signed in to ``email`` before, if this is one."""
    value = _cookie(scope, DEVICE_COOKIE) or ""
    found, _, mac = value.partition(".")
    if found and hmac.compare_digest(mac, _mac(secret_key, "device", email, found)):
        return found
    return None


def new_device_cookie(secret_key: str, email: str) -> str:
    found = secrets.token_urlsafe(16)
    return f"{found}.{_mac(secret_key, 'device', email, found)}"


def _set_cookie(name: str, value: str, secure: bool) -> tuple[bytes, bytes]:
    flags = f"; Max-Age={COOKIE_DAYS * 24 * 60 * 60}; Path=/; HttpOnly; SameSite=Lax"
    return b"set-cookie", f"{name}={value}{flags}{'; Secure' if secure else ''}".encode()


def wait_text(seconds: int) -> str:
    """A wait in words: seconds under a minute, minutes under two hours, else hours."""
    if seconds < 60:
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    minutes = -(-seconds // 60)
    if minutes < 120:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"{-(-minutes // 60)} hours"


def refusal_message(refusal: Refusal, limit_kind: str) -> str:
    """What a refused person reads: which limit, and how long to wait."""
    wait = wait_text(refusal.retry_after)
    bucket = refusal.limit.bucket
    if limit_kind == "link":
        return (
            "there have been too many attempts to open survey links that do not exist from "
            f"your connection; wait {wait} and try again, copying the whole link from your "
            "invitation"
        )
    if bucket == "open-browser":
        return (
            f"this browser has already been used to start {refusal.limit.most} responses "
            "through this survey's open link, and each person should answer only once; if "
            f"you have not answered yet, wait {wait} and try again, or ask the survey's "
            "coordinator for a personal link"
        )
    if bucket == "open-address":
        return (
            f"{refusal.limit.most} responses have already been started through this survey's "
            "open link from your organisation's network in the last "
            f"{wait_text(refusal.limit.window_seconds)}; wait {wait} and try again"
        )
    if bucket == "open-round":
        return (
            f"{refusal.limit.most} responses have already been started through this survey's "
            f"open link in the last {wait_text(refusal.limit.window_seconds)}; wait {wait} and "
            "try again"
        )
    return (
        "there have been too many failed attempts to sign in, to this account or from your "
        f"connection; wait {wait} and try again"
    )


async def _read_body(receive: Receive, most: int | None = None) -> tuple[bytes, bool]:
    """The request body, and whether it stayed within ``most`` bytes (reading stops there)."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body, True
        body += message.get("body", b"")
        if most is not None and len(body) > most:
            return body, False
        if not message.get("more_body", False):
            return body, True


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` again, then whatever comes next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form(scope: Scope, body: bytes) -> FormData:
    """The form as the app will read it (Starlette's parser, urlencoded or multipart)."""

    async def disconnect() -> Message:
        return {"type": "http.disconnect"}

    request = Request(scope, _replaying(body, disconnect))
    try:
        return await request.form()
    except (HTTPException, MultiPartException, ValueError):  # the app cannot parse it either
        return FormData()
    finally:
        await request.close()


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
        link = LINK_PATH.match(path)
        if link is not None:
            await self._link(scope, receive, send, limiter, link)
        elif scope.get("method") == "POST" and path in LOGIN_PATHS:
            await self._form_login(scope, receive, send, limiter)
        elif (username := basic_username(scope)) is not None:
            await self._login(scope, receive, send, limiter, username, remember=False)
        else:
            await self.app(scope, receive, send)

    # Signing in -------------------------------------------------------------------------

    async def _form_login(
        self, scope: Scope, receive: Receive, send: Send, limiter: RateLimiter
    ) -> None:
        body, whole = await _read_body(receive, MOST_LOGIN_FORM_BYTES)
        if not whole:
            await self._problem(scope, send, 413, "the sign-in form is too large")
            return
        emails = (await _form(scope, body)).getlist("email")
        if len(emails) > 1:
            await self._problem(
                scope, send, 400, "the sign-in form gave more than one e-mail address"
            )
            return
        email = emails[0] if emails and isinstance(emails[0], str) else ""
        await self._login(scope, _replaying(body, receive), send, limiter, email, remember=True)

    async def _login(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limiter: RateLimiter,
        username: str,
        *,
        remember: bool,
    ) -> None:
        policy, secret = limiter.policy, limiter.secret_key
        email = normalised_email(username)
        address = client_address(scope)
        device = device_for(scope, secret, email)
        checks: list[tuple[Limit, str]]
        if device is not None:
            checks = [(policy.login_per_device, f"{email}\x00{device}")]
        else:
            checks = [
                (policy.login_per_address, address),
                (policy.login_per_email_address, f"{email}\x00{address}"),
                (policy.login_per_email, email),
            ]
        refusal = await self._safely(limiter.refusal, checks, None)
        if refusal is not None:
            await self._refuse(scope, receive, send, refusal, "login", posted=False)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Count a failure before the client can see the answer, so that its next
                # request is checked against a count that already includes this one.
                if message["status"] == LOGIN_FAILED:
                    await self._safely(limiter.count_failure, checks, None)
                elif remember and message["status"] == SIGNED_IN and device is None:
                    cookie = new_device_cookie(secret, email)
                    message = _with_header(
                        message, _set_cookie(DEVICE_COOKIE, cookie, _secure(scope))
                    )
            await send(message)

        await self.app(scope, receive, counting_send)

    # Links ------------------------------------------------------------------------------

    async def _link(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limiter: RateLimiter,
        link_match: re.Match[str],
    ) -> None:
        """The link is read once (:func:`app.services.answering.find_link`), on a connection
        of the async engine that the API's routes then use for their own work (handed on in
        the scope as a :class:`LinkLookup`); the pages' routes read it again on their own."""
        policy, secret = limiter.policy, limiter.secret_key
        token, area, rest = link_match["token"], link_match["area"], link_match["rest"] or ""
        address = client_address(scope)
        browser = browser_id(scope, secret)
        posted = scope.get("method") == "POST" and area == "s"
        api = area != "s"
        database: AsyncDatabase = scope["app"].state.async_database
        connection: AsyncConnection | None = None
        link: Link | None = None
        try:
            connection = await database.engine.connect()
            link = await find_link(connection, token)
        except SQLAlchemyError as error:  # the database did not answer: the app reports it
            logger.warning(
                "rate limits not applied: the database did not answer (%s)", type(error).__name__
            )
            await _closed(connection)
            connection = None
        try:
            if connection is not None and link is None:
                # A request is refused by this limit only if its link does not work.
                refusal = await self._safe(
                    limiter.refusal_on(connection, [(policy.link_per_address, address)]), None
                )
                if refusal is not None:
                    await _closed(connection)
                    connection = None
                    await self._refuse(scope, receive, send, refusal, "link", posted=posted)
                    return
            taken: list[tuple[Limit, str]] = []
            starts = scope.get("method") == "POST" and (
                (area == "s" and rest == "/start") or (api and rest == "/response")
            )
            open_link = link is not None and link.kind == InvitationKind.OPEN
            if starts and connection is not None and link is not None and open_link:
                who = f"browser {browser}" if browser else f"address {address}"
                wanted = [
                    (policy.open_per_browser, f"{link.round_id}\x00{who}"),
                    (policy.open_per_address, f"{link.round_id}\x00{address}"),
                    (policy.open_per_round, str(link.round_id)),
                ]
                refusal = await self._safe(limiter.take_on(database, connection, wanted), None)
                if refusal is not None:
                    await _closed(connection)
                    connection = None
                    await self._refuse(scope, receive, send, refusal, "open", posted=posted)
                    return
                taken = wanted
            success = SIGNED_IN if area == "s" else 201
            # The browser cookie is given out only where an open link is first read (its start
            # page, or its questionnaire on the API): personal links never set a cookie.
            give_cookie = (
                browser is None and scope.get("method") == "GET" and rest == "" and open_link
            )
            if api and connection is not None:
                scope[LINK_LOOKUP] = LinkLookup(token, link, connection)
            else:  # the pages read the link on their own session
                await _closed(connection)
                connection = None
            held = connection

            async def counting_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    if status == LINK_UNKNOWN:
                        check = [(policy.link_per_address, address)]
                        await self._on_connection(database, held, limiter.count_failure_on, check)
                    if taken and status != success:
                        await self._on_connection(database, held, limiter.give_back_on, taken)
                    if give_cookie:
                        cookie = _set_cookie(
                            BROWSER_COOKIE, new_browser_cookie(secret), _secure(scope)
                        )
                        message = _with_header(message, cookie)
                await send(message)

            await self.app(scope, receive, counting_send)
        finally:
            await _closed(connection)

    async def _on_connection(
        self,
        database: AsyncDatabase,
        connection: AsyncConnection | None,
        call: Callable[
            [AsyncDatabase, AsyncConnection, list[tuple[Limit, str]]], Awaitable[object]
        ],
        checks: list[tuple[Limit, str]],
    ) -> None:
        """``call(database, connection, checks)`` on the request's connection, or a new one."""
        try:
            if connection is not None and not connection.closed:
                await connection.rollback()  # whatever the route left open
                await call(database, connection, checks)
                return
            async with database.engine.connect() as fresh:
                await call(database, fresh, checks)
        except SQLAlchemyError:
            logger.warning("rate limits not applied: the database did not answer")

    @staticmethod
    async def _safe(call: Awaitable[T], fallback: T) -> T:
        try:
            return await call
        except SQLAlchemyError:
            logger.warning("rate limits not applied: the database did not answer")
            return fallback

    # Helpers ----------------------------------------------------------------------------

    @staticmethod
    async def _safely(call: Callable[..., T], argument: object, fallback: T) -> T:
        """``call(argument)`` on a worker thread; ``fallback`` if the database does not answer."""
        try:
            return await anyio.to_thread.run_sync(call, argument)
        except SQLAlchemyError:
            logger.warning("rate limits not applied: the database did not answer")
            return fallback

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, refusal: Refusal, kind: str, *, posted: bool
    ) -> None:
        message = refusal_message(refusal, kind)
        logger.info("429: %s limit reached", refusal.limit.bucket)
        headers = {"Retry-After": str(refusal.retry_after), "Cache-Control": "no-store"}
        if str(scope.get("path", "")).startswith("/api/"):
            detail = {
                "detail": message,
                "limit": refusal.limit.bucket,
                "retry_after": refusal.retry_after,
            }
            await _send_json(send, 429, detail, headers)
            return
        fields: list[tuple[str, str]] = []
        if posted:
            body, _ = await _read_body(receive)
            fields = [
                (name, value)
                for name, value in (await _form(scope, body)).multi_items()
                if isinstance(value, str) and name not in NOT_POSTED_BACK
            ]
        response = templates.TemplateResponse(
            Request(scope, receive),
            "too_many.html",
            TooManyPage(
                message=message,
                posted=fields,
                retry_url=str(scope.get("path", "")),
                keeps_answers=posted,
            ),
            status_code=429,
            headers=headers,
        )
        await response(scope, receive, send)

    @staticmethod
    async def _problem(scope: Scope, send: Send, status: int, message: str) -> None:
        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        response = templates.TemplateResponse(
            Request(scope, nothing),
            "problem.html",
            ProblemPage(message=message),
            status_code=status,
        )
        await response(scope, nothing, send)


async def _closed(connection: AsyncConnection | None) -> None:
    """Close ``connection`` (if any)."""
    if connection is not None:
        with contextlib.suppress(SQLAlchemyError):
            await connection.close()
    return None


def _secure(scope: Scope) -> bool:
    return bool(scope["app"].state.settings.is_production)


def _with_header(message: Message, header: tuple[bytes, bytes]) -> Message:
    return {**message, "headers": [*message.get("headers", []), header]}


async def _send_json(
    send: Send, status: int, content: dict[str, object], headers: dict[str, str]
) -> None:
    body = json.dumps(content).encode()
    raw = [(b"content-type", b"application/json")]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
