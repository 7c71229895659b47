"""The retention purge deletes exactly what is past each period at a fixed ``now``, and
nothing else (SQLite and PostgreSQL); ``trust-survey purge --dry-run`` deletes nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.cli import main
from app.models import (
    AccountLink,
    AccountSession,
    AuditEvent,
    Invitation,
    Participant,
    RateLimitCounter,
    Response,
    ResponseStatus,
    RoundStatus,
    SurveyRound,
)
from app.services import retention
from app.services.accounts import add_account
from app.services.audit import AuditAction, record
from app.services.scheduled import periodic_jobs
from app.settings import Settings
from tests.conftest import TEST_SECRET, SurveySetUp

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # before the real now: the purge line is newer
TODAY = date(2026, 6, 15)
_numbers = itertools.count(1)


def _settings(url: str, **values: object) -> Settings:
    periods: dict[str, object] = {
        "response_retention_days": 1095,
        "draft_grace_days": 30,
        "audit_retention_days": 730,
    }
    return Settings(
        environment="test",
        database_url=url,
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        **(periods | values),  # type: ignore[arg-type]
    )


def _closed_round(session: Session, setup: SurveySetUp, closed_days_ago: int | None) -> int:
    """The round of ``setup``, closed that many days before NOW (``None``: open at NOW), with
    one submitted response, one draft and their links."""
    survey_round = session.get(SurveyRound, setup.round_id)
    assert survey_round is not None
    if closed_days_ago is None:
        survey_round.opens_on, survey_round.closes_on = TODAY - timedelta(5), TODAY + timedelta(5)
        survey_round.status, survey_round.closed_on = RoundStatus.OPEN, None
    else:
        closed = TODAY - timedelta(days=closed_days_ago)
        survey_round.opens_on, survey_round.closes_on = closed - timedelta(20), closed
        survey_round.status, survey_round.closed_on = RoundStatus.CLOSED, closed
    session.add(survey_round)
    for status in (ResponseStatus.SUBMITTED, ResponseStatus.DRAFT):
        number = next(_numbers)
        invitation = Invitation(
            round_id=setup.round_id, kind="personal", token_hash=f"{number:064d}"
        )
        session.add(invitation)
        session.flush()
        session.add(
            Response(
                round_id=setup.round_id,
                invitation_id=None if status == ResponseStatus.SUBMITTED else invitation.id,
                status=status,
                instrument_version="2017.1",
                answers={"q1": 3},
                background={"note": f"answer-{number}"},
            )
        )
    session.commit()
    return setup.round_id


def _participant(session: Session, setup: SurveySetUp, email: str) -> None:
    number = next(_numbers)
    session.add(
        Participant(
            round_id=setup.round_id,
            organisation_id=setup.organisation_ids[0],
            email=email,
            link_seed=f"seed-{number}",
            opt_out_hash=f"opt-{number}",
        )
    )
    session.commit()


def _kept(session: Session) -> dict[str, object]:
    return {
        "responses": sorted(
            (row.round_id, row.status) for row in session.exec(select(Response)).all()
        ),
        "invitations": sorted(row.round_id for row in session.exec(select(Invitation)).all()),
        "participants": sorted(row.email for row in session.exec(select(Participant)).all()),
        "links": sorted(row.token_hash for row in session.exec(select(AccountLink)).all()),
        "sessions": sorted(row.token_hash for row in session.exec(select(AccountSession)).all()),
        "counters": sorted(
            row.window_start for row in session.exec(select(RateLimitCounter)).all()
        ),
        "audit": sorted(
            row.target
            for row in session.exec(select(AuditEvent)).all()
            if row.target in ("old", "recent")  # the fixture's lines (set-up writes others)
        ),
    }


@pytest.fixture
def filled(session: Session, make_round: Callable[..., SurveySetUp]) -> dict[str, int]:
    """Rounds on each side of each period, addresses, links, sessions, counters, audit."""
    rounds = {
        "past retention": _closed_round(session, make_round(), 1096),
        "at retention": _closed_round(session, make_round(), 1095),
        "past grace": _closed_round(session, make_round(), 31),
        "at grace": _closed_round(session, make_round(), 30),
    }
    open_setup = make_round()
    rounds["open"] = _closed_round(session, open_setup, None)
    _participant(session, open_setup, "still-open@example.org")
    closed_setup = make_round()
    rounds["closed today"] = _closed_round(session, closed_setup, 0)
    _participant(session, closed_setup, "closed@example.org")
    account = add_account(session, "admin@example.org", "correct horse battery staple")
    assert account.id is not None
    for name, expires, used in [
        ("expired", NOW - timedelta(seconds=1), None),
        ("used", NOW + timedelta(days=1), NOW - timedelta(hours=1)),
        ("live", NOW + timedelta(days=1), None),
    ]:
        session.add(
            AccountLink(
                account_id=account.id,
                purpose="reset",
                token_hash=f"link-{name}",
                expires_at=expires,
                used_at=used,
            )
        )
    for name, expires in [("expired", NOW - timedelta(seconds=1)), ("live", NOW + timedelta(1))]:
        session.add(
            AccountSession(token_hash=f"session-{name}", account_id=account.id, expires_at=expires)
        )
    longest = 24 * 60 * 60
    for start in (int(NOW.timestamp()) - longest - 1, int(NOW.timestamp()) - 60):
        session.add(
            RateLimitCounter(bucket="login-email", key_hash="k", window_start=start, hits=1)
        )
    for target, age in [("old", timedelta(days=730, seconds=1)), ("recent", timedelta(729))]:
        event = record(session, "worker", AuditAction.ROUND_CLOSED, target, commit=False)
        event.occurred_at = NOW - age
    session.commit()
    return rounds


EXPECTED = {
    "submitted_responses": 1,
    "drafts": 3,  # past retention, at retention and past grace; not at grace
    "invitations": 2,
    "participants": 1,
    "account_links": 2,
    "sessions": 1,
    "rate_limit_counters": 1,
    "audit_lines": 1,
}


def test_purge_deletes_exactly_what_is_past_each_period(
    session: Session, migrated_url: str, filled: dict[str, int]
) -> None:
    report = retention.purge(session, _settings(migrated_url), NOW, "command line")

    assert {name: getattr(report, name) for name in EXPECTED} == EXPECTED
    r = filled
    kept = _kept(session)
    assert kept["responses"] == sorted(
        [
            (r["at retention"], "submitted"),
            (r["past grace"], "submitted"),
            (r["at grace"], "submitted"),
            (r["at grace"], "draft"),
            (r["open"], "submitted"),
            (r["open"], "draft"),
            (r["closed today"], "submitted"),
            (r["closed today"], "draft"),
        ]
    )
    every_round_but_the_oldest = [
        round_id for name, round_id in r.items() for _ in range(2) if name != "past retention"
    ]
    assert kept["invitations"] == sorted(every_round_but_the_oldest)
    assert kept["participants"] == ["still-open@example.org"]
    assert kept["links"] == ["link-live"]
    assert kept["sessions"] == ["session-live"]
    assert kept["counters"] == [int(NOW.timestamp()) - 60]
    assert kept["audit"] == ["recent"]
    assert session.get(SurveyRound, r["past retention"]) is not None  # the round itself stays

    (line,) = session.exec(select(AuditEvent).where(AuditEvent.action == AuditAction.PURGED)).all()
    assert line.actor == "command line"
    assert "submitted responses 1" in line.detail and "drafts 3" in line.detail
    assert "answer-" not in line.detail and "@" not in line.detail

    again = retention.purge(session, _settings(migrated_url), NOW, record_empty=False)
    assert again.total == 0
    purged = select(AuditEvent).where(AuditEvent.action == AuditAction.PURGED)
    assert len(session.exec(purged).all()) == 1  # no line for an empty purge


def test_zero_keeps_answers_and_audit_lines(
    session: Session, migrated_url: str, filled: dict[str, int]
) -> None:
    settings = _settings(migrated_url, response_retention_days=0, audit_retention_days=0)
    report = retention.purge(session, settings, NOW)
    assert report.submitted_responses == 0 and report.audit_lines == 0
    assert report.drafts == 3  # drafts still go after their grace period
    assert len(_kept(session)["audit"]) == 2  # type: ignore[arg-type]


def test_dry_run_deletes_nothing(
    session: Session, migrated_url: str, filled: dict[str, int]
) -> None:
    before = _kept(session)
    report = retention.purge(session, _settings(migrated_url), NOW, dry_run=True)
    assert {name: getattr(report, name) for name in EXPECTED} == EXPECTED
    session.expire_all()
    assert _kept(session) == before
    assert not session.exec(select(AuditEvent).where(AuditEvent.action == "purged")).all()


def test_the_worker_purges_last() -> None:
    names = [getattr(job, "__name__", "") for job in periodic_jobs(TEST_SECRET, Settings())]
    assert names[-1] == "purge"
    assert "purge" not in [getattr(job, "__name__", "") for job in periodic_jobs(TEST_SECRET)]


def test_cli_purge_dry_run_and_purge(
    monkeypatch: pytest.MonkeyPatch,
    migrated_url: str,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _closed_round(session, make_round(), (TODAY - date.today()).days + 1200)  # real now
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    assert main(["purge", "--dry-run"]) == 0
    assert "would delete submitted responses 1, drafts 1" in capsys.readouterr().out
    assert len(session.exec(select(Response)).all()) == 2
    assert main(["purge"]) == 0
    assert "deleted submitted responses 1, drafts 1" in capsys.readouterr().out
    session.expire_all()
    assert session.exec(select(Response)).all() == []
    (line,) = session.exec(select(AuditEvent).where(AuditEvent.action == "purged")).all()
    assert line.actor == "command line"


def test_a_purged_rounds_report_and_files_say_its_answers_were_deleted(
    client: object, session: Session
) -> None:
    """After the purge the report page, its JSON and its files give no figure (and no error),
    and the round cannot be reopened."""
    from fastapi.testclient import TestClient

    from app.services import rounds
    from app.services.demo import DEMO_PARTNERSHIP
    from app.services.errors import InvalidRequestError
    from tests.test_reports_support import PASSWORD, seeded_demo_round, sign_in

    assert isinstance(client, TestClient)
    round_id = seeded_demo_round(session)
    add_account(session, "ev@example.org", PASSWORD, "evaluator", [DEMO_PARTNERSHIP])
    sign_in(client, "ev@example.org")
    before = client.get(f"/reports/rounds/{round_id}")
    assert before.status_code == 200 and "Cronbach" in before.text
    engine = session.get_bind()
    url = engine.url.render_as_string(hide_password=False)  # type: ignore[union-attr]
    later = datetime.now(UTC) + timedelta(days=1200)
    report = retention.purge(session, _settings(url), later)
    assert report.submitted_responses > 0
    sign_in(client, "ev@example.org")  # the purge ended the session: it expired before then
    page = client.get(f"/reports/rounds/{round_id}")
    assert page.status_code == 200
    assert "answers of this round were deleted" in page.text and "Cronbach" not in page.text
    api = client.get(f"/api/v1/reports/rounds/{round_id}")
    assert api.status_code == 200 and "deleted" in api.text
    for name in ("report.pdf", "report.xlsx", "answers.csv", "scores.csv"):
        answer = client.get(f"/reports/rounds/{round_id}/{name}")
        assert answer.status_code in (200, 404), name
    with pytest.raises(InvalidRequestError, match="deleted"):
        rounds.reopen_round(session, round_id, later.date() + timedelta(days=30))
