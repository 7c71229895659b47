"""Link tokens, password hashes and CSRF tokens."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Collection, MutableMapping
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

LINK_TOKEN_BYTES = 32  # 256 bits; the brief asks for at least 128
SECRET_KEY_BYTES = 48
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700
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


class SecretKeyFileError(ValueError):
    """The kept secret key cannot be used (unreadable, too short, or a published value)."""


def make_private_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) if missing; a folder made here is 0700."""
    if not folder.exists():
        folder.mkdir(parents=True, mode=PRIVATE_FOLDER_MODE, exist_ok=True)
        folder.chmod(PRIVATE_FOLDER_MODE)  # mkdir's mode is masked by the umask


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; tighten it to 0600 if it
    does (the database, its journals and backups hold every answer)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
    os.close(descriptor)
    with contextlib.suppress(PermissionError):  # someone else's file: leave it as it is
        path.chmod(PRIVATE_FILE_MODE)


def load_or_create_secret_key(path: Path, refused: Collection[str] = ()) -> str:
    """The secret key kept in ``path``; made (random, mode 0600, in a 0700 folder if the folder
    is new) when the file does not exist.  Workers starting together agree: the key is written
    to a temporary file and linked into place, and whoever links second reads the first key."""
    if not path.exists():
        make_private_folder(path.parent)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(SECRET_KEY_BYTES) + "\n")
        try:
            with contextlib.suppress(FileExistsError):
                os.link(partial, path)
        finally:
            partial.unlink()
    with contextlib.suppress(PermissionError):
        path.chmod(PRIVATE_FILE_MODE)  # a key file copied in with looser rights is tightened
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretKeyFileError(f"cannot read the secret key in {path}: {error}") from None
    if len(key) < 32 or key in refused:
        raise SecretKeyFileError(
            f"the secret key in {path} is too short or a published value; delete the file "
            "to have a new one made (everyone is signed out) or set SECRET_KEY"
        )
    return key
