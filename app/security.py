"""Link tokens, password hashes and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

LINK_TOKEN_BYTES = 32  # 256 bits; the brief asks for at least 128
_password_hasher = PasswordHasher()


def new_link_token() -> str:
    """A random, URL-safe token for an invitation link."""
    return secrets.token_urlsafe(LINK_TOKEN_BYTES)


def new_session_secret() -> str:
    """The random secret a signed-in browser's cookie carries (the server keeps its hash)."""
    return secrets.token_urlsafe(LINK_TOKEN_BYTES)


def hash_session_secret(secret: str) -> str:
    """The SHA-256 hex digest stored in place of a session's secret."""
    return hashlib.sha256(secret.encode("utf-8", errors="surrogateescape")).hexdigest()


def new_password() -> str:
    """A random password of 24 URL-safe characters (the demo coordinator's)."""
    return secrets.token_urlsafe(18)


def hash_link_token(token: str) -> str:
    """The SHA-256 hex digest stored in place of a link's token."""
    return hashlib.sha256(token.encode("utf-8", errors="surrogateescape")).hexdigest()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


CSRF_SESSION_KEY = "csrf_token"


def csrf_token_for(session: MutableMapping[str, Any]) -> str:
    """The CSRF token of a browser session, created on first use."""
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def csrf_token_matches(session: MutableMapping[str, Any], submitted: object) -> bool:
    expected = session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def rate_limit_key(secret_key: str, bucket: str, value: str) -> str:
    """An HMAC of what a rate limit counts (an e-mail or a client address), so that neither
    is stored; the same on every worker that shares SECRET_KEY."""
    message = f"{bucket}\x00{value}".encode("utf-8", errors="surrogateescape")
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()
