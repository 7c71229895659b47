"""The optional second factor: a time-based one-time code (TOTP, RFC 6238) from an
authenticator app, which an admin can require for every account of a role.

Codes are 6 digits for 30-second time steps (``pyotp``); one step either side of the server's
clock is accepted, for clocks that drift.  A code is accepted once only: the time step of the
last accepted code is kept with the secret, and only a later step is accepted afterwards.

**How the secret is kept.**  ``Account.totp_secret`` never holds the secret in plain text: it
holds ``1.<last step>.<sealed>``, where ``sealed`` (URL-safe base64) is an 8-byte random nonce,
the secret's 20 bytes encrypted with a keystream of HMAC-SHA256 (keyed by a key derived from
SECRET_KEY, over the nonce), and a 10-byte HMAC-SHA256 tag (another derived key) over the
account's id, the nonce and the encrypted bytes.  So someone who reads the database (a backup,
a copy) cannot compute codes without SECRET_KEY, and a sealed secret copied onto another
account does not open.  Changing SECRET_KEY therefore turns every second factor off in
practice: people cannot sign in until an admin resets theirs (``trust-survey user
second-factor-off EMAIL``), as their API tokens also stop working.

The secret being set up, before the person has typed a code that proves their app has it,
lives only in the set-up form, sealed the same way for that account and purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass

import pyotp
from sqlmodel import Session, col, select

from app.models import Account, AccountRole, AccountSession, RolePolicy
from app.security import verify_password
from app.services import audit
from app.services.accounts import coordinator_by_email, end_account_sessions
from app.services.audit import AuditAction
from app.services.errors import FieldValidationError, RecordNotFoundError

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # steps either side of now that are accepted
ISSUER = "Partnership Trust Survey"
_VERSION = "1"
_NONCE_BYTES = 8
_TAG_BYTES = 10
_SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends
PASSWORD_FIELD = "password"  # noqa: S105 (a form field's name)
CODE_PATTERN = re.compile(r"^\d{6}$")
# The roles an admin may require a second factor for, in the order the admin's page lists them.
POLICY_ROLES = (
    AccountRole.COORDINATOR,
    AccountRole.EVALUATOR,
    AccountRole.ANALYST,
    AccountRole.ADMIN,
)


class SecondFactorError(FieldValidationError):
    """A code (or password) given for the second factor is not right."""


# -- Secrets --------------------------------------------------------------------------------


def new_secret() -> str:
    """A new random secret, as base32 text (what authenticator apps are given)."""
    return base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def otpauth_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` address an authenticator app reads (from a QR code, or pasted)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=ISSUER
    )


def _key(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), f"second factor {purpose}".encode(), "sha256").digest()


def _tag(secret_key: str, context: str, nonce: bytes, sealed: bytes) -> bytes:
    message = context.encode() + b"\x00" + nonce + sealed
    return hmac.new(_key(secret_key, "tag"), message, hashlib.sha256).digest()[:_TAG_BYTES]


def _keystream(secret_key: str, nonce: bytes) -> bytes:
    return hmac.new(_key(secret_key, "keystream"), nonce, hashlib.sha256).digest()


def seal(secret_key: str, context: str, secret: str) -> str:
    """``secret`` encrypted and tagged for ``context`` (URL-safe base64, 51 characters)."""
    raw = base64.b32decode(secret)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    encrypted = bytes(a ^ b for a, b in zip(raw, _keystream(secret_key, nonce), strict=False))
    tag = _tag(secret_key, context, nonce, encrypted)
    return base64.urlsafe_b64encode(nonce + encrypted + tag).decode("ascii").rstrip("=")


def unseal(secret_key: str, context: str, sealed: str) -> str | None:
    """The secret :func:`seal` sealed for ``context``, else ``None`` (altered, or not ours)."""
    try:
        data = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    except (ValueError, binascii.Error):
        return None
    if len(data) != _NONCE_BYTES + _SECRET_BYTES + _TAG_BYTES:
        return None
    nonce, encrypted = data[:_NONCE_BYTES], data[_NONCE_BYTES : _NONCE_BYTES + _SECRET_BYTES]
    if not hmac.compare_digest(data[-_TAG_BYTES:], _tag(secret_key, context, nonce, encrypted)):
        return None
    raw = bytes(a ^ b for a, b in zip(encrypted, _keystream(secret_key, nonce), strict=False))
    return base64.b32encode(raw).decode("ascii")


def _account_context(account: Account) -> str:
    return f"account {account.id}"


def set_up_context(account: Account) -> str:
    """What a secret being set up (in the form) is sealed for."""
    return f"set up {account.id}"


@dataclass(frozen=True)
class StoredFactor:
    secret: str
    last_step: int


def _stored(secret_key: str, account: Account) -> StoredFactor | None:
    text = account.totp_secret
    if not text:
        return None
    version, _, rest = text.partition(".")
    step, _, sealed = rest.partition(".")
    if version != _VERSION or not step.isdigit():
        return None
    secret = unseal(secret_key, _account_context(account), sealed)
    return None if secret is None else StoredFactor(secret, int(step))


def _store(secret_key: str, account: Account, secret: str, last_step: int) -> None:
    sealed = seal(secret_key, _account_context(account), secret)
    account.totp_secret = f"{_VERSION}.{last_step}.{sealed}"  # at most 64 characters


# -- Codes ------------------------------------------------------------------------------------


def normalised_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def matching_step(secret: str, code: str, after_step: int, now: float | None = None) -> int | None:
    """The time step (now, or one either side) whose code is ``code`` and that is later than
    ``after_step``, else ``None``."""
    code = normalised_code(code)
    if not CODE_PATTERN.match(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    step_now = current_step(now)
    found = None
    for step in range(step_now - DRIFT_STEPS, step_now + DRIFT_STEPS + 1):
        # Every candidate is compared (no early exit), in constant time.
        if hmac.compare_digest(totp.generate_otp(step), code) and step > after_step:
            found = step
    return found


def code_problem(code: str) -> str | None:
    """Why ``code`` cannot be a code at all (before it is checked), else ``None``."""
    if not normalised_code(code):
        return "Enter the 6-digit code from your authenticator app"
    if not CODE_PATTERN.match(normalised_code(code)):
        return "The code must be 6 digits, like 123456"
    return None


# -- Policy -------------------------------------------------------------------------------


def required_roles(session: Session) -> frozenset[str]:
    """The roles whose accounts must have a second factor."""
    statement = select(RolePolicy.role).where(col(RolePolicy.totp_required).is_(True))
    return frozenset(session.exec(statement))


def required_for(session: Session, account: Account) -> bool:
    """Whether one of the account's roles requires a second factor."""
    return account.has_any_role(required_roles(session))


def has_second_factor(account: Account) -> bool:
    return bool(account.totp_secret)


def asks_for_code(session: Session, account: Account) -> bool:
    """Whether signing in takes a code after the password: the account has a second factor,
    or one of its roles requires one (then it is set up first)."""
    return has_second_factor(account) or required_for(session, account)


def blocked(session: Session, account: Account) -> bool:
    """A role of the account requires a second factor it has not set up: no session of it
    counts as signed in (its next sign-in sets one up)."""
    return not has_second_factor(account) and required_for(session, account)


def set_policy(session: Session, actor: Account, roles: Collection[str]) -> frozenset[str]:
    """Require a second factor for exactly ``roles``; returns them.

    Requiring it for admins is refused unless ``actor`` has one, so that an admin cannot lock
    themselves out.  Newly required roles end the sessions of their accounts that have no
    second factor yet (they set one up at their next sign-in).
    """
    wanted = frozenset(roles)
    if not wanted <= set(POLICY_ROLES):
        raise FieldValidationError({"roles": "Choose from the roles listed"})
    if AccountRole.ADMIN in wanted and not has_second_factor(actor):
        raise FieldValidationError(
            {
                "roles": "Set up a second factor for your own account before you require one "
                "for admins, or you could not sign in again"
            }
        )
    before = required_roles(session)
    if wanted == before:
        return before
    for role in POLICY_ROLES:
        row = session.get(RolePolicy, role)
        if row is None:
            row = RolePolicy(role=role)
        row.totp_required = role in wanted
        session.add(row)
    added = wanted - before
    if added:
        holders = session.exec(select(Account).where(col(Account.totp_secret).is_(None))).all()
        ids = [a.id for a in holders if a.has_any_role(added) and a.id is not None]
        for session_row in session.exec(
            select(AccountSession).where(col(AccountSession.account_id).in_(ids))
        ):
            session.delete(session_row)
    words = ", ".join(role for role in POLICY_ROLES if role in wanted) or "no role"
    audit.record(
        session,
        actor,
        AuditAction.SECOND_FACTOR_POLICY_CHANGED,
        "second factor policy",
        detail=f"required for: {words}",
        commit=False,
    )
    session.commit()
    return wanted


# -- An account's own second factor -------------------------------------------------------


def check_code(
    session: Session, secret_key: str, account: Account, code: str, now: float | None = None
) -> bool:
    """Whether ``code`` is a right, unused code of the account's second factor.  A right code
    is used up (its step is kept); a wrong one is recorded in the audit trail."""
    stored = _stored(secret_key, account)
    step = None if stored is None else matching_step(stored.secret, code, stored.last_step, now)
    if stored is None or step is None:
        audit.record(
            session, account, AuditAction.SECOND_FACTOR_FAILED, outcome="refused", commit=True
        )
        return False
    _store(secret_key, account, stored.secret, step)
    session.add(account)
    session.commit()
    return True


def set_up(
    session: Session,
    secret_key: str,
    account: Account,
    sealed_secret: str,
    code: str,
    now: float | None = None,
) -> None:
    """Keep the secret being set up (sealed in the form), once ``code`` shows the person's app
    has it.  Raises :class:`SecondFactorError` for a wrong code (recorded in the trail)."""
    secret = unseal(secret_key, set_up_context(account), sealed_secret)
    if secret is None:
        raise SecondFactorError({"code": "The set-up form has expired: start again"})
    if (problem := code_problem(code)) is not None:
        raise SecondFactorError({"code": problem})
    step = matching_step(secret, code, after_step=-1, now=now)
    if step is None:
        audit.record(
            session,
            account,
            AuditAction.SECOND_FACTOR_FAILED,
            "setting up",
            outcome="refused",
            commit=True,
        )
        raise SecondFactorError(
            {
                "code": "The code is not right: check the app shows this site's entry and "
                "type the code it shows now"
            }
        )
    _store(secret_key, account, secret, step)
    session.add(account)
    audit.record(session, account, AuditAction.SECOND_FACTOR_SET_UP, commit=False)
    session.commit()


def turn_off(session: Session, secret_key: str, account: Account, password: str, code: str) -> None:
    """Turn the account's own second factor off: needs its password and a code, and is
    refused while one of its roles requires a second factor."""
    if required_for(session, account):
        raise FieldValidationError(
            {"": "Your role requires a second factor, so it cannot be turned off"}
        )
    problems: dict[str, str] = {}
    if not password:
        problems[PASSWORD_FIELD] = "Enter your password"
    elif account.password_hash is None or not verify_password(account.password_hash, password):
        problems[PASSWORD_FIELD] = "The password is not right"
    if (problem := code_problem(code)) is not None:
        problems["code"] = problem
    if problems:
        raise SecondFactorError(problems)
    if not check_code(session, secret_key, account, code):
        raise SecondFactorError({"code": "The code is not right, or has been used already"})
    account.totp_secret = None
    session.add(account)
    audit.record(session, account, AuditAction.SECOND_FACTOR_TURNED_OFF, commit=False)
    session.commit()


def reset_from_command_line(session: Session, email: str) -> Account:
    """An admin's reset for a lost phone: the account's second factor is removed and its
    sessions end (its next sign-in sets one up again if a role requires it)."""
    account = coordinator_by_email(session, email)
    if account is None or account.id is None:
        raise RecordNotFoundError("account", email)
    account.totp_secret = None
    session.add(account)
    end_account_sessions(session, account.id)
    audit.record(
        session,
        audit.COMMAND_LINE_ACTOR,
        AuditAction.SECOND_FACTOR_TURNED_OFF,
        f"account {account.email}",
        detail="reset from the command line",
        commit=False,
    )
    session.commit()
    return account
