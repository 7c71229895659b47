"""Personal API tokens: what an account's scripts send (``Authorization: Bearer <token>``)
instead of a password, so that no request pays for a password hash.

A token is ``tsp_`` and 43 random URL-safe characters (256 bits).  Only its HMAC-SHA256,
keyed by the service's secret key, is stored: checking a token is one keyed hash and one
indexed lookup (microseconds), and a copy of the database alone cannot be used to make or
test tokens.  The token is shown once, when it is made; listing shows its name, its first
characters, when it was made and whether it is revoked.  A revoked token is refused at once
(every request looks its row up).  Tokens belong to an account: only its holder lists and
revokes them, and deleting the account deletes them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.models import Account, ApiToken, utc_now
from app.services import audit
from app.services.answers import control_character_problem
from app.services.errors import FieldValidationError, RecordNotFoundError

TOKEN_PREFIX = "tsp_"  # noqa: S105  # nosec B105 (a prefix, not a secret)
SHOWN_PREFIX = 10  # "tsp_" and six characters: enough to tell one's tokens apart
MOST_NAME = 100
LONGEST_TOKEN = 100


def hash_api_token(secret_key: str, token: str) -> str:
    """The stored form of a token: HMAC-SHA256 keyed by the secret key."""
    message = token.encode("utf-8", errors="surrogateescape")
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``token`` is shown this once and kept nowhere."""

    record: ApiToken
    token: str


def _target(record: ApiToken, account: Account) -> str:
    """A token named by id and label, never by its text or prefix."""
    return f"API token {record.id} ({record.name}) of {account.email}"


def create_token(
    session: Session,
    account: Account,
    name: str,
    secret_key: str,
    *,
    actor: audit.Actor | None = None,
) -> NewToken:
    """Make a token for ``account`` named ``name`` (to tell it apart: "weekly export");
    ``actor`` (recorded) is the account itself unless given (the command line)."""
    label = name.strip()
    problem = control_character_problem(label)
    if not label or len(label) > MOST_NAME or problem is not None:
        raise FieldValidationError(
            {"name": problem or f"give the token a name of 1 to {MOST_NAME} characters"}
        )
    assert account.id is not None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        account_id=account.id,
        name=label,
        prefix=token[:SHOWN_PREFIX],
        token_hash=hash_api_token(secret_key, token),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        account if actor is None else actor,
        audit.AuditAction.API_TOKEN_MADE,
        _target(record, account),
        commit=False,
    )
    session.commit()
    session.refresh(record)
    return NewToken(record, token)


def list_tokens(session: Session, account: Account) -> list[ApiToken]:
    """The account's tokens, newest first (revoked ones too, marked)."""
    return list(
        session.exec(
            select(ApiToken)
            .where(ApiToken.account_id == account.id)
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        )
    )


def revoke_token(
    session: Session, account: Account, token_id: int, *, actor: audit.Actor | None = None
) -> ApiToken:
    """Revoke one of the account's own tokens (another account's is "not found")."""
    record = session.get(ApiToken, token_id)
    if record is None or record.account_id != account.id:
        raise RecordNotFoundError("API token", token_id)
    if record.revoked_at is None:
        record.revoked_at = utc_now()
        session.add(record)
        audit.record(
            session,
            account if actor is None else actor,
            audit.AuditAction.API_TOKEN_REVOKED,
            _target(record, account),
            commit=False,
        )
        session.commit()
    return record


def account_for_token(
    session: Session, secret_key: str, token: str, roles: Collection[str]
) -> Account | None:
    """The enabled account of a live token, if it has one of ``roles``; else ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > LONGEST_TOKEN:
        return None
    found = session.exec(
        select(Account)
        .join(ApiToken, col(ApiToken.account_id) == col(Account.id))
        .where(
            ApiToken.token_hash == hash_api_token(secret_key, token),
            col(ApiToken.revoked_at).is_(None),
            col(Account.disabled_at).is_(None),
        )
    ).first()
    return found if found is not None and found.has_any_role(roles) else None
