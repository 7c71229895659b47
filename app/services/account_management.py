"""Managing accounts: listing, inviting by e-mail, roles, partnership grants, disabling,
enabling and removing; for admins (every account) and for a partnership's coordinators
(evaluators and coordinators of their own partnership only).

Every change is recorded in the audit trail in its own transaction, naming who made it.
Guards: nobody disables, removes or takes the admin role from their own account, and the
last enabled admin is never disabled, removed or made a non-admin.  Disabling or removing an
account ends its sessions at once; its API tokens and HTTP Basic stop working because both
are checked against ``disabled_at`` (and a removed account has no rows left at all).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, func, or_, select

from app.models import (
    Account,
    AccountLink,
    AccountLinkPurpose,
    AccountRole,
    AccountSession,
    ApiToken,
    Partnership,
    PartnershipGrant,
    RawAccessGrant,
    role_text,
    utc_now,
)
from app.services import audit
from app.services.account_links import DEFAULT_LINK_HOURS, queue_link_mail, target
from app.services.accounts import (
    coordinating_scope,
    coordinator_by_email,
    email_problem,
    end_account_sessions,
    normalised_email,
)
from app.services.audit import AuditAction
from app.services.errors import FieldValidationError, InvalidRequestError, RecordNotFoundError

# The roles a partnership's coordinator may give, on their partnership only.
PARTNERSHIP_ROLES = (AccountRole.EVALUATOR, AccountRole.COORDINATOR)


class AccountState(StrEnum):
    ACTIVE = "active"
    INVITED = "invited"  # no password set yet
    DISABLED = "disabled"


STATE_WORDS = {
    AccountState.ACTIVE: "Active",
    AccountState.INVITED: "Invited, not yet set a password",
    AccountState.DISABLED: "Disabled",
}


def account_state(account: Account) -> AccountState:
    if account.disabled_at is not None:
        return AccountState.DISABLED
    if account.password_hash is None:
        return AccountState.INVITED
    return AccountState.ACTIVE


@dataclass(frozen=True)
class AccountRow:
    account: Account
    partnerships: list[Partnership]
    state: AccountState

    @property
    def state_words(self) -> str:
        return STATE_WORDS[self.state]

    @property
    def partnership_names(self) -> str:
        return ", ".join(p.name for p in self.partnerships)


@dataclass(frozen=True)
class Invited:
    account: Account
    created: bool  # a new account; else roles and grants were added to an existing one
    mailed: bool  # a set-your-password e-mail was queued


def _granted(session: Session, account_ids: Collection[int]) -> dict[int, list[Partnership]]:
    found: dict[int, list[Partnership]] = {account_id: [] for account_id in account_ids}
    if not account_ids:
        return found
    rows = session.exec(
        select(PartnershipGrant.account_id, Partnership)
        .join(Partnership, col(Partnership.id) == PartnershipGrant.partnership_id)
        .where(col(PartnershipGrant.account_id).in_(list(account_ids)))
        .order_by(col(Partnership.name))
    )
    for account_id, partnership in rows:
        found[account_id].append(partnership)
    return found


def list_accounts(
    session: Session,
    *,
    role: str | None = None,
    partnership_id: int | None = None,
    text: str = "",
) -> list[AccountRow]:
    """Every account (an admin's view), by e-mail address; optionally only those with
    ``role``, granted ``partnership_id``, or whose address holds ``text``."""
    statement = select(Account).order_by(col(Account.email))
    if role:
        statement = statement.where(
            or_(
                col(Account.roles) == role,
                col(Account.roles).startswith(f"{role} "),
                col(Account.roles).endswith(f" {role}"),
                col(Account.roles).contains(f" {role} "),
            )
        )
    if partnership_id is not None:
        granted = select(PartnershipGrant.account_id).where(
            PartnershipGrant.partnership_id == partnership_id
        )
        statement = statement.where(col(Account.id).in_(granted))
    if text.strip():
        statement = statement.where(
            col(Account.email).contains(text.strip().lower(), autoescape=True)
        )
    found = list(session.exec(statement))
    grants = _granted(session, [a.id for a in found if a.id is not None])
    return [
        AccountRow(account, grants.get(account.id or 0, []), account_state(account))
        for account in found
    ]


def account_row(session: Session, account_id: int) -> AccountRow:
    account = get_account(session, account_id)
    assert account.id is not None
    grants = _granted(session, [account.id])
    return AccountRow(account, grants[account.id], account_state(account))


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise RecordNotFoundError("account", account_id)
    return account


def account_named(session: Session, email: str) -> Account:
    account = coordinator_by_email(session, email)
    if account is None:
        raise RecordNotFoundError("account with e-mail", repr(email.strip()))
    return account


def _roles_problem(roles: Collection[str]) -> str | None:
    if not roles:
        return "Choose at least one role"
    if not set(roles) <= set(AccountRole):
        return f"A role must be one of: {', '.join(AccountRole)}"
    return None


def _partnerships(session: Session, partnership_ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(partnership_ids))
    if not wanted:
        return []
    known = set(session.exec(select(Partnership.id).where(col(Partnership.id).in_(wanted))))
    if set(wanted) - known:
        raise FieldValidationError({"partnership": "Choose one of the listed partnerships"})
    return wanted


def _admins_left(session: Session, without: int) -> int:
    """Enabled admins other than the account ``without``."""
    statement = select(func.count()).where(
        col(Account.id) != without,
        col(Account.disabled_at).is_(None),
        or_(
            col(Account.roles) == AccountRole.ADMIN,
            col(Account.roles).startswith(f"{AccountRole.ADMIN} "),
        ),
    )
    return int(session.exec(statement).one())


def _guard(session: Session, actor: Account | str, account: Account, doing: str) -> None:
    """Refuse ``doing`` to one's own account, or to the last enabled admin."""
    assert account.id is not None
    if isinstance(actor, Account) and actor.id == account.id:
        raise InvalidRequestError(f"you cannot {doing} your own account: ask another admin")
    last_admin = AccountRole.ADMIN in account.role_set and account.disabled_at is None
    if last_admin and _admins_left(session, account.id) == 0:
        raise InvalidRequestError(
            f"you cannot {doing} the last admin: make another account an admin first"
        )


def invite(
    session: Session,
    actor: Account | str,
    email: str,
    roles: Collection[str],
    partnership_ids: Sequence[int],
    base: str,
    hours: int = DEFAULT_LINK_HOURS,
) -> Invited:
    """Invite ``email`` with ``roles`` and grants: a new account has no password, and is sent
    a set-your-password link.  An existing account gets the roles and grants added (and, if it
    has not set a password yet, a new link)."""
    problems: dict[str, str] = {}
    if email_problem(email) is not None:
        problems["email"] = "Enter an e-mail address, like name@example.nhs.uk"
    if (problem := _roles_problem(roles)) is not None:
        problems["roles"] = problem
    if set(roles) == {AccountRole.EVALUATOR} and not partnership_ids:
        problems["partnership"] = "An evaluator needs at least one partnership"
    if problems:
        raise FieldValidationError(problems)
    wanted = _partnerships(session, partnership_ids)
    account = coordinator_by_email(session, email)
    created = account is None
    if account is None:
        account = Account(email=normalised_email(email), password_hash=None, roles=role_text(roles))
        session.add(account)
        try:
            session.flush()
        except IntegrityError:  # the same address invited at the same moment elsewhere
            session.rollback()
            raise InvalidRequestError(
                "this address was invited at the same moment by someone else: try again, "
                "and its roles and partnerships will be added"
            ) from None
        audit.record(
            session,
            actor,
            AuditAction.ACCOUNT_INVITED,
            target(account),
            detail=f"as {account.role_words}",
            commit=False,
        )
    else:
        _add_roles(session, actor, account, roles)
    assert account.id is not None
    for partnership_id in wanted:
        _add_grant(session, actor, account, partnership_id)
    mailed = account.password_hash is None and account.disabled_at is None
    if mailed:
        queue_link_mail(session, account, AccountLinkPurpose.INVITATION, base, hours)
    session.commit()
    session.refresh(account)
    return Invited(account, created, mailed)


def _add_roles(
    session: Session, actor: Account | str, account: Account, roles: Collection[str]
) -> None:
    before = account.role_set
    after = role_text(before | set(roles))
    if after != account.roles:
        words = account.role_words
        account.roles = after
        session.add(account)
        audit.record(
            session,
            actor,
            AuditAction.ROLES_CHANGED,
            target(account),
            detail=f"from {words} to {account.role_words}",
            commit=False,
        )


def _add_grant(
    session: Session, actor: Account | str, account: Account, partnership_id: int
) -> bool:
    assert account.id is not None
    if session.get(PartnershipGrant, (account.id, partnership_id)) is not None:
        return False
    session.add(PartnershipGrant(account_id=account.id, partnership_id=partnership_id))
    audit.record(
        session,
        actor,
        AuditAction.GRANT_ADDED,
        target(account),
        partnership_id=partnership_id,
        detail=f"partnership {partnership_id}",
        commit=False,
    )
    return True


def set_roles(
    session: Session, actor: Account | str, account_id: int, roles: Collection[str]
) -> Account:
    """Replace the account's roles (an admin's change)."""
    account = get_account(session, account_id)
    if (problem := _roles_problem(roles)) is not None:
        raise FieldValidationError({"roles": problem})
    new = role_text(roles)
    if AccountRole.ADMIN in account.role_set and AccountRole.ADMIN not in set(roles):
        _guard(session, actor, account, "take the admin role from")
    if new != account.roles:
        words = account.role_words
        account.roles = new
        session.add(account)
        audit.record(
            session,
            actor,
            AuditAction.ROLES_CHANGED,
            target(account),
            detail=f"from {words} to {account.role_words}",
            commit=False,
        )
        session.commit()
        session.refresh(account)
    return account


def add_grant(session: Session, actor: Account | str, account_id: int, partnership_id: int) -> None:
    account = get_account(session, account_id)
    _partnerships(session, [partnership_id])
    if _add_grant(session, actor, account, partnership_id):
        session.commit()


def remove_grant(
    session: Session, actor: Account | str, account_id: int, partnership_id: int
) -> bool:
    """End the account's grant of the partnership; ``False`` if it had none."""
    account = get_account(session, account_id)
    grant = session.get(PartnershipGrant, (account_id, partnership_id))
    if grant is None:
        return False
    session.delete(grant)
    audit.record(
        session,
        actor,
        AuditAction.GRANT_REMOVED,
        target(account),
        partnership_id=partnership_id,
        detail=f"partnership {partnership_id}",
        commit=False,
    )
    session.commit()
    return True


def disable(session: Session, actor: Account | str, account_id: int) -> Account:
    """Disable the account: its sessions end now; its tokens and password stop working."""
    account = get_account(session, account_id)
    if account.disabled_at is not None:
        return account
    _guard(session, actor, account, "disable")
    assert account.id is not None
    account.disabled_at = utc_now()
    session.add(account)
    end_account_sessions(session, account.id)
    session.exec(  # its unused set-your-password links too, for good
        delete(AccountLink).where(
            col(AccountLink.account_id) == account.id, col(AccountLink.used_at).is_(None)
        )
    )
    audit.record(session, actor, AuditAction.ACCOUNT_DISABLED, target(account), commit=False)
    session.commit()
    session.refresh(account)
    return account


def enable(session: Session, actor: Account | str, account_id: int) -> Account:
    account = get_account(session, account_id)
    if account.disabled_at is None:
        return account
    account.disabled_at = None
    session.add(account)
    audit.record(session, actor, AuditAction.ACCOUNT_ENABLED, target(account), commit=False)
    session.commit()
    session.refresh(account)
    return account


def remove(session: Session, actor: Account | str, account_id: int) -> str:
    """Remove the account and every row of it (grants, sessions, tokens, links, raw access);
    its e-mail address is returned.  The audit trail keeps its lines."""
    account = get_account(session, account_id)
    _guard(session, actor, account, "remove")
    email = account.email
    for table, column in (
        (PartnershipGrant, PartnershipGrant.account_id),
        (AccountSession, AccountSession.account_id),
        (ApiToken, ApiToken.account_id),
        (AccountLink, AccountLink.account_id),
        (RawAccessGrant, RawAccessGrant.account_id),
    ):
        session.exec(delete(table).where(col(column) == account_id))
    audit.record(session, actor, AuditAction.ACCOUNT_REMOVED, target(account), commit=False)
    session.delete(account)
    session.commit()
    return email


# -- a partnership's coordinators ------------------------------------------------------------


@dataclass(frozen=True)
class PartnershipMember:
    """What a partnership's coordinators see of an account granted it: address and role."""

    account_id: int
    email: str
    role_words: str


def _partnership_words(account: Account) -> str:
    roles = [role for role in PARTNERSHIP_ROLES if role in account.role_set]
    if AccountRole.ADMIN in account.role_set:
        return "admin"
    return " and ".join(roles) or "no role here"


def partnership_members(session: Session, partnership_id: int) -> list[PartnershipMember]:
    """The accounts granted the partnership: address and role (as far as it concerns the
    partnership) only."""
    statement = (
        select(Account)
        .join(PartnershipGrant, col(PartnershipGrant.account_id) == Account.id)
        .where(PartnershipGrant.partnership_id == partnership_id)
        .order_by(col(Account.email))
    )
    return [
        PartnershipMember(a.id or 0, a.email, _partnership_words(a))
        for a in session.exec(statement)
    ]


def granted_member(session: Session, partnership_id: int, account_id: int) -> Account:
    """The account, if it is granted the partnership and is not an admin; else "not found"."""
    account = session.get(Account, account_id)
    grant = session.get(PartnershipGrant, (account_id, partnership_id))
    if account is None or grant is None or AccountRole.ADMIN in account.role_set:
        raise RecordNotFoundError("account", account_id)
    return account


def invite_to_partnership(
    session: Session,
    actor: Account,
    partnership_id: int,
    email: str,
    role: str,
    base: str,
    hours: int = DEFAULT_LINK_HOURS,
) -> Invited:
    """A coordinator invites an evaluator or coordinator of their partnership.

    An existing account is granted the partnership; a role it lacks is added only if every
    partnership it is granted is one ``actor`` runs (a role reaches every partnership of the
    account, so adding one must not widen what it may do elsewhere), and never to an admin.
    """
    if role not in PARTNERSHIP_ROLES:
        raise FieldValidationError({"role": "Choose evaluator or coordinator"})
    existing = coordinator_by_email(session, email) if email_problem(email) is None else None
    if existing is not None and AccountRole.ADMIN in existing.role_set:
        assert existing.id is not None  # an admin sees every partnership: only the grant
        add_grant(session, actor, existing.id, partnership_id)
        return Invited(existing, created=False, mailed=False)
    if existing is not None and role not in existing.role_set:
        scope = coordinating_scope(session, actor)
        theirs = set(
            session.exec(
                select(PartnershipGrant.partnership_id).where(
                    PartnershipGrant.account_id == existing.id
                )
            )
        )
        if scope is not None and not theirs <= set(scope) | {partnership_id}:
            raise FieldValidationError(
                {
                    "email": "This address already has an account with other partnerships: "
                    f"ask an admin to make it a {role} here"
                }
            )
    return invite(session, actor, email, {role}, [partnership_id], base, hours)


def remove_partnership_grant(
    session: Session, actor: Account, partnership_id: int, account_id: int
) -> str:
    """A coordinator ends another account's grant of their partnership (never their own)."""
    account = granted_member(session, partnership_id, account_id)
    if account.id == actor.id:
        raise InvalidRequestError(
            "you cannot remove your own access: ask another coordinator or an admin"
        )
    remove_grant(session, actor, account_id, partnership_id)
    return account.email
