"""Accounts with roles and grants from the command line."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from app.cli import main
from app.services.accounts import (
    authenticate,
    coordinator_by_email,
    granted_partnership_ids,
)
from app.services.demo import DEMO_PARTNERSHIP
from app.services.reports import viewer_for
from tests.test_reports_support import PASSWORD, seeded_demo_round


def test_user_add_with_roles_and_partnerships(
    migrated_url: str,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeded_demo_round(session)
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.setenv("TRUST_SURVEY_PASSWORD", PASSWORD)
    command = ["user", "add", "--password-from-env"]
    assert (
        main([*command, "ev@example.org", "--role", "evaluator", "--partnership", DEMO_PARTNERSHIP])
        == 0
    )
    assert "evaluator; partnerships: " + DEMO_PARTNERSHIP in capsys.readouterr().out
    assert main([*command, "an@example.org", "--role", "analyst"]) == 0
    assert main([*command, "lone@example.org", "--role", "evaluator"]) == 2
    assert "needs at least one --partnership" in capsys.readouterr().err
    assert main([*command, "x@example.org", "--role", "evaluator", "--partnership", "Nowhere"]) == 2
    assert "no partnership called 'Nowhere'" in capsys.readouterr().err
    assert coordinator_by_email(session, "x@example.org") is None  # nothing half-made
    with pytest.raises(SystemExit):
        main([*command, "y@example.org", "--role", "superuser"])

    session.expire_all()
    evaluator = coordinator_by_email(session, "ev@example.org")
    assert evaluator is not None and evaluator.roles == "evaluator"
    assert evaluator.password_hash is not None and evaluator.password_hash.startswith("$argon2")
    assert len(granted_partnership_ids(session, evaluator)) == 1
    viewer = viewer_for(session, evaluator)
    assert viewer is not None and viewer.partnership_ids and not viewer.is_analyst
    analyst = coordinator_by_email(session, "an@example.org")
    analyst_viewer = viewer_for(session, analyst)
    assert analyst_viewer is not None and analyst_viewer.partnership_ids is None
    # One sign-in for every role; a caller may still ask for particular roles.
    assert authenticate(session, "ev@example.org", PASSWORD) is not None
    assert authenticate(session, "ev@example.org", PASSWORD, roles={"coordinator"}) is None
    assert authenticate(session, "ev@example.org", PASSWORD, roles={"evaluator"}) is not None
