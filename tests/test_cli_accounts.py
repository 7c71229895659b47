"""``trust-survey user list|invite|disable|enable|remove|roles|grant|revoke|reset-password``
through ``app.cli.main``, on a real database; the audit trail names "command line"."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from app.cli import main
from app.models import AuditEvent, OutboxMessage
from app.services import accounts, partnerships
from app.services.accounts import coordinator_by_email, granted_partnership_ids
from app.services.audit import COMMAND_LINE_ACTOR, AuditAction

PASSWORD = "a long enough password for every role"


@pytest.fixture
def cli(migrated_url: str, session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://survey.example.nhs.uk")
    for name in ("Alder Vale", "Birchmoor"):
        partnerships.create_partnership(session, name, "urgent-and-emergency-care")
    accounts.add_account(session, "admin@example.org", PASSWORD, "admin")
    return session


def run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    assert main(["user", *args]) == code
    captured = capsys.readouterr()
    return captured.out if code == 0 else captured.err


def test_invite_list_roles_grant_revoke(cli: Session, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(
        capsys, "invite", "Gil@example.org", "--role", "evaluator", "--partnership", "Alder Vale"
    )
    assert "invited gil@example.org (evaluator)" in out and "queued" in out
    message = cli.exec(select(OutboxMessage)).one()
    assert message.recipient == "gil@example.org"
    assert "https://survey.example.nhs.uk/account/set-password/" in message.body
    listed = run(capsys, "list", "--role", "evaluator")
    assert "gil@example.org\tevaluator\tinvited\tAlder Vale" in listed
    assert "admin@example.org" not in listed
    assert "gil@example.org" in run(capsys, "list", "--partnership", "Alder Vale")
    assert "gil@example.org" not in run(capsys, "list", "--text", "admin")
    # the same address again: a second partnership, no failure
    out = run(
        capsys, "invite", "gil@example.org", "--role", "evaluator", "--partnership", "Birchmoor"
    )
    assert "added roles and partnerships to gil@example.org" in out
    cli.expire_all()
    gil = coordinator_by_email(cli, "gil@example.org")
    assert gil is not None and len(granted_partnership_ids(cli, gil)) == 2
    assert "is now coordinator and evaluator" in run(
        capsys, "roles", "gil@example.org", "--role", "coordinator", "--role", "evaluator"
    )
    assert "no longer granted Birchmoor" in run(
        capsys, "revoke", "gil@example.org", "--partnership", "Birchmoor"
    )
    assert "is granted Birchmoor" in run(
        capsys, "grant", "gil@example.org", "--partnership", "Birchmoor"
    )
    assert "no partnership called 'Nowhere'" in run(
        capsys, "grant", "gil@example.org", "--partnership", "Nowhere", code=2
    )
    assert "no account with e-mail" in run(capsys, "disable", "nobody@example.org", code=2)
    actors = {e.actor for e in cli.exec(select(AuditEvent))}
    assert actors == {COMMAND_LINE_ACTOR}


def test_disable_enable_reset_remove(cli: Session, capsys: pytest.CaptureFixture[str]) -> None:
    accounts.add_account(cli, "hal@example.org", PASSWORD, "coordinator", ["Alder Vale"])
    assert "disabled" in run(capsys, "disable", "hal@example.org")
    assert accounts.authenticate(cli, "hal@example.org", PASSWORD) is None
    assert "of a disabled account" in run(capsys, "reset-password", "hal@example.org", code=2)
    assert "enabled" in run(capsys, "enable", "hal@example.org")
    assert accounts.authenticate(cli, "hal@example.org", PASSWORD) is not None
    assert "is queued" in run(capsys, "reset-password", "hal@example.org")
    assert cli.exec(select(OutboxMessage)).one().purpose == "password-reset"
    assert "last admin" in run(capsys, "remove", "admin@example.org", code=2)
    assert "hal@example.org is removed" in run(capsys, "remove", "hal@example.org")
    cli.expire_all()
    assert coordinator_by_email(cli, "hal@example.org") is None
    kinds = [
        e.action
        for e in cli.exec(select(AuditEvent).order_by(AuditEvent.id))  # type: ignore[arg-type]
        if "hal@example.org" in e.target
    ]
    assert kinds == [
        AuditAction.ACCOUNT_DISABLED,
        AuditAction.ACCOUNT_ENABLED,
        AuditAction.PASSWORD_RESET_REQUESTED,
        AuditAction.ACCOUNT_REMOVED,
    ]


def test_user_add_on_an_existing_address_adds_instead_of_failing(
    cli: Session, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUST_SURVEY_PASSWORD", PASSWORD)
    command = ("add", "--password-from-env", "ivy@example.org", "--role", "evaluator")
    assert "added ivy@example.org" in run(capsys, *command, "--partnership", "Alder Vale")
    out = run(capsys, *command, "--partnership", "Birchmoor")
    assert "already had an account" in out and "already exists" not in out
    cli.expire_all()
    ivy = coordinator_by_email(cli, "ivy@example.org")
    assert ivy is not None and len(granted_partnership_ids(cli, ivy)) == 2
    monkeypatch.setenv("TRUST_SURVEY_PASSWORD", "a different long password entirely")
    run(capsys, "add", "--password-from-env", "ivy@example.org", "--role", "analyst")
    assert accounts.authenticate(cli, "ivy@example.org", PASSWORD) is not None
