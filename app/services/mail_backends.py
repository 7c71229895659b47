"""How the worker sends an outbox message: SMTP (the default), GOV.UK Notify, or the console.

Each backend turns what happened into an outcome: sent; a temporary failure (tried again
later); or a permanent one (never tried again).  The worker's code does not depend on which.

- **SMTP** (``smtplib``): one connection kept open between messages, opened again after any
  error.  Replies 4xx, refused or dropped connections, timeouts and authentication failures
  (a setting to mend, not the address's fault) are temporary; other 5xx replies are
  permanent.
- **GOV.UK Notify** (``notifications-python-client``): the message goes to one e-mail
  template whose subject is ``((subject))`` and body ``((body))``.  400 about the e-mail
  address is permanent; other answers (403 key, 429 rate, 5xx, no connection) are temporary.
- **Console**: prints each message (links included) on the worker's standard output, for a
  developer's machine; refused when ENVIRONMENT=production.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, TextIO

from app.models import OutboxMessage, utc_now
from app.services.addresses import email_address_problem
from app.services.outbox import (
    MailBackend,
    Outcome,
    PermanentFailure,
    Sent,
    TemporaryFailure,
    message_id_header,
)

if TYPE_CHECKING:
    from app.settings import Settings

SMTP_DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
AUTHENTICATION_CODES = frozenset({530, 534, 535, 538})


class MailSettingsError(ValueError):
    """The mail settings cannot send (the message names the setting)."""


def build_email(message: OutboxMessage, mail_from: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(utc_now())
    email["Message-ID"] = message_id_header(message, mail_from)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)
    return email


def _reply_outcome(code: int, reply: bytes | str) -> Outcome:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP {code} {text}".strip()
    if 400 <= code < 500 or code in AUTHENTICATION_CODES:
        return TemporaryFailure(reason)
    if 500 <= code < 600:
        return PermanentFailure(reason)
    return TemporaryFailure(reason)


class SmtpBackend:
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int | None,
        security: str,
        username: str | None,
        password: str | None,
        mail_from: str,
        timeout: float,
    ) -> None:
        self.host = host
        self.security = security
        self.port = port or SMTP_DEFAULT_PORTS[security]
        self.username = username
        self.password = password
        self.mail_from = mail_from
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        context = ssl.create_default_context()
        connection: smtplib.SMTP
        if self.security == "ssl":
            connection = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                connection.starttls(context=context)
        if self.username:
            connection.login(self.username, self.password or "")
        self._connection = connection
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    def send(self, message: OutboxMessage) -> Outcome:
        problem = email_address_problem(message.recipient)
        if problem is not None:
            return PermanentFailure(f"not an e-mail address: {problem}")
        email = build_email(message, self.mail_from)
        try:
            self._connect().send_message(email, to_addrs=[message.recipient])
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            code, reply = next(iter(error.recipients.values()), (451, b"refused"))
            return _reply_outcome(code, reply)
        except smtplib.SMTPResponseException as error:  # sender refused, data, auth...
            self.close()
            return _reply_outcome(error.smtp_code, error.smtp_error)
        except (smtplib.SMTPException, OSError) as error:  # refused, dropped, timed out, TLS
            self.close()
            return TemporaryFailure(f"SMTP {type(error).__name__}: {error}"[:300])
        return Sent()


class NotifyBackend:
    name = "notify"

    def __init__(self, *, api_key: str, template_id: str, base_url: str, timeout: float) -> None:
        from notifications_python_client.notifications import NotificationsAPIClient

        self.template_id = template_id
        self.client = NotificationsAPIClient(  # type: ignore[no-untyped-call]
            api_key, base_url=base_url, timeout=timeout
        )

    def close(self) -> None:
        self.client.request_session.close()

    def send(self, message: OutboxMessage) -> Outcome:
        from notifications_python_client.errors import APIError

        problem = email_address_problem(message.recipient)
        if problem is not None:
            return PermanentFailure(f"not an e-mail address: {problem}")
        try:
            answer = self.client.send_email_notification(  # type: ignore[no-untyped-call]
                email_address=message.recipient,
                template_id=self.template_id,
                personalisation={"subject": message.subject, "body": message.body},
                reference=message.message_id,
            )
        except APIError as error:
            reason = f"Notify {error.status_code} {error.message}"[:300]
            if error.status_code == 400 and "email_address" in str(error.message):
                return PermanentFailure(reason)
            return TemporaryFailure(reason)
        reference = answer.get("id") if isinstance(answer, dict) else None
        return Sent(reference=str(reference) if reference else None)

    def status_of(self, reference: str) -> str | None:
        """Notify's status of a sent message (``delivered``, ``permanent-failure``...)."""
        from notifications_python_client.errors import APIError

        try:
            answer = self.client.get_notification_by_id(reference)  # type: ignore[no-untyped-call]
        except APIError:
            return None
        return str(answer.get("status")) if isinstance(answer, dict) else None


class ConsoleBackend:
    """Prints messages instead of sending them (development only)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def close(self) -> None:
        self.stream.flush()

    def send(self, message: OutboxMessage) -> Outcome:
        self.stream.write(
            f"--- e-mail {message.message_id} (not sent: no SMTP_HOST; development only)\n"
            f"To: {message.recipient}\nSubject: {message.subject}\n\n{message.body}\n---\n"
        )
        self.stream.flush()
        return Sent()


def backend_for(settings: Settings) -> MailBackend:
    """The backend the settings choose.

    MAIL_BACKEND=smtp without SMTP_HOST prints messages (console) in development and test, and
    is refused in production, where printing would put personal links in a log.
    """
    if settings.mail_backend == "notify":
        assert settings.notify_api_key is not None and settings.notify_template_id  # validated
        return NotifyBackend(
            api_key=settings.notify_api_key.get_secret_value(),
            template_id=settings.notify_template_id,
            base_url=settings.notify_base_url,
            timeout=settings.mail_timeout,
        )
    if settings.mail_backend == "console" or not settings.smtp_host:
        if settings.is_production:
            raise MailSettingsError(
                "SMTP_HOST is not set: set SMTP_HOST (and SMTP_PORT, SMTP_SECURITY, "
                "SMTP_USERNAME, SMTP_PASSWORD, MAIL_FROM) or MAIL_BACKEND=notify"
            )
        return ConsoleBackend()
    return SmtpBackend(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        mail_from=settings.mail_from,
        timeout=settings.mail_timeout,
    )
