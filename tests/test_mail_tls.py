"""SMTP over TLS, against a real aiosmtpd server on loopback with a certificate made for the
test: STARTTLS with a login (the NHSmail way), TLS from the start (port 465), and a server
whose certificate is not trusted, which must get no message (the certificate is checked)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlmodel import Session

from app.services.mail_backends import SmtpBackend
from app.services.outbox import PermanentFailure, Sent, TemporaryFailure, queue_message
from tests.mail_support import MailHandler, free_port

USER, PASSWORD = "survey@example.nhs.uk", "smtp password for the test"


@dataclass
class TlsServer:
    port: int
    handler: MailHandler
    logins: list[str]
    tls_seen: list[bool]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), made with openssl."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed (scripts/bootstrap installs it)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext"
    names = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    subprocess.run(
        ["openssl", *made.split(), names, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server(certificate: tuple[Path, Path], *, implicit: bool) -> Iterator[TlsServer]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[str] = []
    tls_seen: list[bool] = []
    handler = MailHandler()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        tls_seen.append(server.transport.get_extra_info("ssl_object") is not None)
        if isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        ):
            logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    port = free_port()
    options: dict[str, Any] = {"authenticator": authenticate, "auth_required": True}
    if implicit:
        # aiosmtpd offers AUTH over TLS only after STARTTLS; here the whole connection is TLS
        # (the authenticator checks that it is).
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            ssl_context=context,
            auth_require_tls=False,
            **options,
        )
    else:
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            **options,
        )
    controller.start()
    try:
        yield TlsServer(port, handler, logins, tls_seen)
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[TlsServer]:
    yield from _server(certificate, implicit=False)


@pytest.fixture
def ssl_server(certificate: tuple[Path, Path]) -> Iterator[TlsServer]:
    yield from _server(certificate, implicit=True)


def _backend(port: int, security: str, password: str = PASSWORD) -> SmtpBackend:
    return SmtpBackend(
        host="127.0.0.1",
        port=port,
        security=security,
        username=USER,
        password=password,
        mail_from="Partnership Trust Survey <survey@example.nhs.uk>",
        timeout=10,
    )


def _message(session: Session, to: str) -> Any:
    message = queue_message(
        session,
        to=to,
        subject="Survey invitation",
        body="Hello.\nYour link: https://survey.example/s/token\n",
        purpose="invitation",
    )
    session.commit()
    return message


def _send(session: Session, port: int, security: str, password: str = PASSWORD) -> Any:
    """One message through a fresh backend (closed after), its outcome."""
    backend = _backend(port, security, password)
    try:
        return backend.send(_message(session, "leader@example.nhs.uk"))
    finally:
        backend.close()


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's certificate is the one authority trusted (OpenSSL reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


@pytest.mark.usefixtures("trusted")
def test_starttls_with_a_login_delivers_over_tls(
    session: Session, starttls_server: TlsServer
) -> None:
    outcome = _send(session, starttls_server.port, "starttls")
    assert isinstance(outcome, Sent), outcome
    assert [r.recipient for r in starttls_server.handler.received] == ["leader@example.nhs.uk"]
    assert starttls_server.logins == [USER] and starttls_server.tls_seen == [True]


@pytest.mark.usefixtures("trusted")
def test_tls_from_the_start_delivers(session: Session, ssl_server: TlsServer) -> None:
    outcome = _send(session, ssl_server.port, "ssl")
    assert isinstance(outcome, Sent), outcome
    assert len(ssl_server.handler.received) == 1 and ssl_server.tls_seen == [True]


@pytest.mark.usefixtures("trusted")
def test_a_wrong_smtp_password_is_temporary_and_sends_nothing(
    session: Session, starttls_server: TlsServer
) -> None:
    # Credentials are mended in settings and the worker tries again: nothing is lost.
    outcome = _send(session, starttls_server.port, "starttls", password="not the password")
    assert isinstance(outcome, TemporaryFailure) and "535" in outcome.reason
    assert starttls_server.handler.received == []


def test_an_untrusted_certificate_gets_no_message(
    session: Session, starttls_server: TlsServer, ssl_server: TlsServer, tmp_path: Path
) -> None:
    # SSL_CERT_FILE names no authority at all: the server's certificate cannot be checked.
    empty = tmp_path / "no-authorities.pem"
    empty.write_text("")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(empty))
        patch.setenv("SSL_CERT_DIR", str(tmp_path))
        for port, security in ((starttls_server.port, "starttls"), (ssl_server.port, "ssl")):
            outcome = _send(session, port, security)
            assert isinstance(outcome, TemporaryFailure), (security, outcome)
            assert "CERTIFICATE_VERIFY_FAILED" in outcome.reason or "certificate" in (
                outcome.reason.lower()
            ), outcome.reason
    assert starttls_server.handler.received == [] and ssl_server.handler.received == []
    assert starttls_server.logins == [] and ssl_server.logins == []


@pytest.mark.usefixtures("trusted")
def test_plain_smtp_to_a_server_that_requires_starttls_sends_no_password(
    session: Session, starttls_server: TlsServer
) -> None:
    outcome = _send(session, starttls_server.port, "none")
    # The server offers no login before TLS, so the password is never sent in the clear.
    assert isinstance(outcome, (PermanentFailure, TemporaryFailure)), outcome
    assert "AUTH" in outcome.reason or "530" in outcome.reason, outcome.reason
    assert starttls_server.handler.received == [] and starttls_server.logins == []
