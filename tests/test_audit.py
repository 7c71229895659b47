"""The audit trail's service: what each action records (actor, target, counts only), the
worker's and the command line's names, filters by day in TIME_ZONE, keyset reading of long
trails, the retention purge's delete, and that no service updates a line."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.models import AuditEvent
from app.services import (
    accounts,
    api_tokens,
    audit,
    clock,
    instruments,
    invitations,
    participants,
    partnerships,
    raw_access,
    releases,
    reports,
    rounds,
)
from app.services.audit import COMMAND_LINE_ACTOR, WORKER_ACTOR, AuditAction, AuditFilter
from app.services.errors import SurveyServiceError
from tests.conftest import TEST_SECRET, SurveySetUp, full_answers
from tests.test_reports_support import add_responses

ROOT = Path(__file__).resolve().parent.parent


def _lines(session: Session, action: AuditAction | None = None) -> list[AuditEvent]:
    session.expire_all()
    statement = select(AuditEvent).order_by(col(AuditEvent.id))
    if action is not None:
        statement = statement.where(col(AuditEvent.action) == action.value)
    return list(session.exec(statement))


def test_set_up_and_deletion_lines_keep_kind_id_and_name(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    admin = accounts.add_account(session, "admin@example.org", "long enough password 1", "admin")
    assert [(e.actor, e.target) for e in _lines(session, AuditAction.PARTNERSHIP_ADDED)] == [
        (COMMAND_LINE_ACTOR, f"partnership {setup.partnership_id} (Test partnership 1)")
    ]
    [added] = _lines(session, AuditAction.ROUND_ADDED)
    assert added.target == f"round {setup.round_id}"
    assert added.partnership_id == setup.partnership_id
    assert "trustworthy-collaboration 2017.1" in added.detail and "threshold 5" in added.detail

    rounds.rename_round(session, setup.round_id, "Autumn round", actor=admin)
    [renamed] = _lines(session, AuditAction.ROUND_RENAMED)
    assert (renamed.actor, renamed.actor_id) == ("admin@example.org", admin.id)
    assert renamed.detail == "Spring round -> Autumn round"
    rounds.delete_round(session, setup.round_id, "autumn ROUND", actor=admin)
    [deleted] = _lines(session, AuditAction.ROUND_DELETED)
    assert deleted.target == f"round {setup.round_id} (Autumn round)"
    hospital = setup.organisation_ids[0]
    partnerships.remove_organisation(session, setup.partnership_id, hospital, actor=admin)
    [removed] = _lines(session, AuditAction.ORGANISATION_REMOVED)
    assert removed.target == f"organisation {hospital} (Riverside Hospital)"
    partnerships.delete_partnership(session, setup.partnership_id, "Test partnership 1")
    [gone] = _lines(session, AuditAction.PARTNERSHIP_DELETED)
    assert gone.target == f"partnership {setup.partnership_id} (Test partnership 1)"
    assert gone.partnership_id == setup.partnership_id  # kept: the id outlives the row


def test_a_refused_action_records_nothing(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    before = len(_lines(session))
    for refused in (
        lambda: rounds.delete_round(session, setup.round_id, "not its title"),
        lambda: rounds.rename_round(session, setup.round_id, "  "),
        lambda: partnerships.rename_partnership(session, setup.partnership_id, ""),
        lambda: rounds.reopen_round(session, setup.round_id, date.today() + timedelta(days=3)),
    ):
        try:
            refused()
        except SurveyServiceError:
            session.rollback()
        else:
            raise AssertionError("expected a refusal")
    assert len(_lines(session)) == before


def test_the_worker_opens_and_closes_on_schedule_and_releases(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round(opens_in_days=2, closes_in_days=5)
    draft = rounds.get_round(session, setup.round_id)
    assert _lines(session, AuditAction.ROUND_OPENED) == []
    opening = datetime.combine(draft.opens_on, datetime.min.time(), UTC) + timedelta(hours=2)
    rounds.apply_round_schedule(session, opening)
    rounds.apply_round_schedule(session, opening)  # idempotent: one line
    [opened] = _lines(session, AuditAction.ROUND_OPENED)
    assert (opened.actor, opened.actor_id, opened.detail) == (WORKER_ACTOR, None, "on schedule")
    add_responses(session, setup.round_id, [full_answers(v) for v in (2, 3, 4, 5, 4)], [{}] * 5)
    closing = datetime.combine(draft.closes_on + timedelta(days=1), datetime.min.time(), UTC)
    rounds.apply_round_schedule(session, closing + timedelta(hours=2))
    [closed] = _lines(session, AuditAction.ROUND_CLOSED)
    assert closed.actor == WORKER_ACTOR and closed.partnership_id == setup.partnership_id
    [released] = _lines(session, AuditAction.RESULTS_RELEASED)
    assert released.actor == WORKER_ACTOR
    assert released.detail == "release 1 (final), 5 responses"
    releases.publish(session, rounds.get_round(session, setup.round_id))  # nothing new
    assert len(_lines(session, AuditAction.RESULTS_RELEASED)) == 1


def test_links_participants_and_invitations_are_counts_never_addresses_or_tokens(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    tokens = invitations.create_personal_links(
        session, setup.round_id, organisation_id=setup.organisation_ids[0], count=3, most=10
    )
    token = invitations.create_open_link(session, setup.round_id, signing_key=TEST_SECRET)
    invitations.create_open_link(session, setup.round_id, signing_key=TEST_SECRET)
    rows = participants.parse_participant_text(
        "person01@example.org, Riverside Hospital\nperson02@example.org, Hillshire Council"
    )
    result = participants.import_participants(session, setup.round_id, rows, secret=TEST_SECRET)
    assert result.added == 2
    participants.save_mailing(
        session,
        setup.round_id,
        invitation_subject="Invitation",
        invitation_text="Your link: ((link))",
        reminder_subject="Reminder",
        reminder_text="Still time: ((link))",
        reminder_dates="",
    )
    queued = participants.send_invitations(
        session, setup.round_id, secret=TEST_SECRET, base="https://survey.example.org"
    )
    assert queued == 2
    details = [
        (e.action, e.detail) for e in _lines(session) if e.target == f"round {setup.round_id}"
    ]
    assert details[2:] == [  # after the round added and opened
        (AuditAction.LINKS_MADE, f"3 personal for organisation {setup.organisation_ids[0]}"),
        (AuditAction.LINKS_MADE, "open link"),
        (AuditAction.LINKS_MADE, "open link, replacing the earlier one"),
        (AuditAction.PARTICIPANTS_ADDED, "2 participants"),
        (AuditAction.INVITATIONS_SENT, "2 invitations queued"),
    ]
    reminder_day = date.today() + timedelta(days=2)  # more than a day after the invitations
    participants.save_mailing(
        session,
        setup.round_id,
        invitation_subject="Invitation",
        invitation_text="Your link: ((link))",
        reminder_subject="Reminder",
        reminder_text="Still time: ((link))",
        reminder_dates=reminder_day.isoformat(),
    )
    nine = participants.reminder_due_at(reminder_day)
    assert participants.queue_due_reminders(session, nine, secret=TEST_SECRET) == 1
    [reminded] = [
        e for e in _lines(session, AuditAction.INVITATIONS_SENT) if e.actor == WORKER_ACTOR
    ]
    assert reminded.detail == "2 reminders queued"
    text = " ".join(f"{e.target} {e.detail} {e.actor}" for e in _lines(session))
    for secret in [*tokens, token, "person01", "person02", "example.org/s/"]:
        assert secret not in text


def test_policy_threshold_tokens_raw_access_and_instruments(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    admin = accounts.add_account(session, "admin@example.org", "long enough password 1", "admin")
    analyst = accounts.add_account(session, "ana@example.org", "long enough password 2", "analyst")
    reports.change_anonymity_threshold(session, setup.round_id, 7, actor=admin)
    releases.set_release_policy(session, setup.round_id, "interim", actor=admin)
    made = api_tokens.create_token(session, analyst, "weekly export", TEST_SECRET)
    audit_token = made.token
    api_tokens.revoke_token(session, analyst, made.record.id or 0)
    api_tokens.revoke_token(session, analyst, made.record.id or 0)  # already revoked: no line
    raw_access.grant_raw_access(session, analyst.email, reason="a study", granted_by=admin.email)
    raw_access.revoke_raw_access(session, analyst.email)
    got = [
        (e.actor, e.action, e.target, e.detail)
        for e in _lines(session)
        if e.action
        in {
            AuditAction.THRESHOLD_CHANGED,
            AuditAction.RELEASE_POLICY_CHANGED,
            AuditAction.API_TOKEN_MADE,
            AuditAction.API_TOKEN_REVOKED,
            AuditAction.RAW_ACCESS_GRANTED,
            AuditAction.RAW_ACCESS_REVOKED,
        }
    ]
    token_target = f"API token {made.record.id} (weekly export) of ana@example.org"
    r = f"round {setup.round_id}"
    assert got == [
        ("admin@example.org", "threshold changed", r, "5 -> 7"),
        ("admin@example.org", "release policy changed", r, "at-close -> interim"),
        ("ana@example.org", "API token made", token_target, ""),
        ("ana@example.org", "API token revoked", token_target, ""),
        ("admin@example.org", "raw access granted", "account ana@example.org", "a study"),
        (COMMAND_LINE_ACTOR, "raw access revoked", "account ana@example.org", ""),
    ]
    everything = " ".join(f"{e.target} {e.detail}" for e in _lines(session))
    assert audit_token not in everything and made.record.prefix not in everything
    text = (ROOT / "instruments" / "partnership-self-check.yaml").read_text(encoding="utf-8")
    newer = text.replace('version: "2017.1"', 'version: "2099.1"', 1)
    instruments.add_instrument(session, newer, "self-check.yaml", actor=admin)
    [added] = _lines(session, AuditAction.INSTRUMENT_ADDED)
    assert (added.actor, added.target) == (
        "admin@example.org",
        "instrument partnership-self-check 2099.1",
    )


def test_filters_days_in_the_time_zone_and_reading_in_batches(session: Session) -> None:
    zone = clock.time_zone()
    # 23:30 UTC on 1 July is 00:30 on 2 July in London (summer time).
    moments = [
        datetime(2026, 7, 1, 22, 30, tzinfo=UTC),
        datetime(2026, 7, 1, 23, 30, tzinfo=UTC),
        datetime(2026, 7, 2, 12, 0, tzinfo=UTC),
        datetime(2026, 7, 3, 0, 0, tzinfo=UTC),
    ]
    for number, moment in enumerate(moments):
        event = audit.record(
            session, f"user{number}@example.org", AuditAction.SIGN_IN, commit=False
        )
        event.occurred_at = moment
    session.commit()
    if str(zone) == "Europe/London":
        second_of_july = AuditFilter(from_day=date(2026, 7, 2), to_day=date(2026, 7, 2))
        found = audit.list_events(session, second_of_july)
        assert [e.actor for e in found] == ["user2@example.org", "user1@example.org"]
    assert audit.count_events(session, AuditFilter(actor_contains="USER3")) == 1
    assert audit.count_events(session, AuditFilter(actor_contains="%")) == 0  # not a wildcard
    assert audit.count_events(session, AuditFilter(actor_contains="_")) == 0
    assert audit.count_events(session, AuditFilter(action=AuditAction.SIGN_OUT)) == 0
    for _ in range(7):
        audit.record(session, "same@example.org", AuditAction.REPORT_VIEWED, commit=False)
    session.commit()  # seven lines with the same moment or nearly: ties broken by id
    streamed = list(audit.iter_events(session, AuditFilter(), batch=3))
    listed = audit.list_events(session, AuditFilter(), limit=100)
    assert [e.id for e in streamed] == [e.id for e in listed]
    assert len(streamed) == 11 and len({e.id for e in streamed}) == 11
    assert streamed[-1].actor == "user0@example.org"


def test_delete_older_than_removes_only_older_lines(session: Session) -> None:
    now = datetime.now(UTC)
    for days in (400, 40, 1):
        event = audit.record(session, "old@example.org", AuditAction.SIGN_IN, commit=False)
        event.occurred_at = now - timedelta(days=days)
    session.commit()
    assert audit.delete_older_than(session, now - timedelta(days=365)) == 1
    assert audit.delete_older_than(session, now - timedelta(days=365)) == 0
    assert audit.delete_older_than(session, now - timedelta(days=30)) == 1
    assert audit.count_events(session, AuditFilter()) == 1


def test_no_service_updates_or_deletes_a_line_but_the_purge() -> None:
    """Append-only: outside ``audit.delete_older_than`` no code updates or deletes
    AuditEvent rows (an UPDATE or DELETE naming the model, or a session.delete of one)."""
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            source = ast.unparse(node)
            if "AuditEvent" not in source:
                continue
            touches = ("sa.update(AuditEvent" in source) or ("delete(AuditEvent" in source)
            if touches and not (path.name == "audit.py" and node.name == "delete_older_than"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert offenders == []
    assert not hasattr(audit, "update")


def test_sqlite_and_postgres_both_keep_the_moment(session: Session) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    event = audit.record(session, None, AuditAction.SIGN_IN_FAILED, outcome="refused")
    after = datetime.now(UTC)
    session.expire_all()
    stored = session.execute(
        sa.select(col(AuditEvent.occurred_at)).where(col(AuditEvent.id) == event.id)
    ).scalar_one()
    moment = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    assert before <= moment <= after
    [line] = _lines(session)
    assert (line.actor, line.actor_id, line.outcome) == ("not signed in", None, "refused")


AUDITED = {
    ("rounds", "open_round"),
    ("rounds", "close_round"),
    ("rounds", "open_now"),
    ("rounds", "change_closing_date"),
    ("rounds", "reopen_round"),
    ("rounds", "rename_round"),
    ("rounds", "delete_round"),
    ("partnerships", "create_partnership"),
    ("partnerships", "add_organisation"),
    ("partnerships", "rename_partnership"),
    ("partnerships", "rename_organisation"),
    ("partnerships", "remove_organisation"),
    ("partnerships", "delete_partnership"),
    ("invitations", "create_personal_links"),
    ("invitations", "create_open_link"),
    ("participants", "import_participants"),
    ("participants", "send_invitations"),
    ("instruments", "add_instrument"),
    ("releases", "set_release_policy"),
    ("reports", "change_anonymity_threshold"),
}


def test_every_web_route_names_who_acts() -> None:
    """A service's ``actor`` defaults to the command line: every call from ``app/web`` must
    name the signed-in account instead (extend and reopen are passed on by
    ``_post_closing_date``, which adds it)."""
    missing = []
    checked = 0
    for path in (ROOT / "app" / "web").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not isinstance(owner, ast.Name) or (owner.id, node.func.attr) not in AUDITED:
                continue
            checked += 1
            if not any(keyword.arg == "actor" for keyword in node.keywords):
                missing.append(f"{path.name}:{node.lineno} {owner.id}.{node.func.attr}")
    assert missing == [] and checked >= 25, (checked, missing)
