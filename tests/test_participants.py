"""Participants, invitations and reminders (services and pages), on SQLite and PostgreSQL.

Links are read from the messages the outbox holds, exactly as the worker would send them."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlmodel import Session, SQLModel, select

from app.models import (
    Invitation,
    InvitationStatus,
    OutboxMessage,
    OutboxStatus,
    Participant,
    Response,
)
from app.security import hash_link_token
from app.services import invitations, participants, responses, rounds
from app.services.errors import FieldValidationError, RecordNotFoundError, RoundNotOpenError
from app.services.outbox import delivery_counts
from tests.conftest import (
    COORDINATOR_PASSWORD,
    TEST_SECRET,
    SurveySetUp,
    csrf_from,
    full_answers,
    token_of,
)
from tests.mail_support import SmtpServer, smtp_server

__all__ = ["smtp_server"]  # fixture

BASE = "https://survey.example"
LINK = re.compile(r"https://survey\.example/s/([A-Za-z0-9_-]+)")
OPT_OUT = re.compile(r"https://survey\.example/mail/opt-out/([A-Za-z0-9_-]+)")


def _count_row(page: str, organisation: str) -> list[str]:
    """The cells of an organisation's row of the participant counts (headings dropped)."""
    row = next(
        found
        for found in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
        if f"</span>{organisation}</td>" in found
    )
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [
        re.sub(r'<span class="nhsuk-table-responsive__heading"[^>]*>.*?</span>', "", c)
        for c in cells
    ]


def rows(*lines: str) -> list[participants.ParticipantRow]:
    return participants.parse_participant_text("\n".join(lines))


def add(session: Session, setup: SurveySetUp, *lines: str) -> participants.ImportResult:
    return participants.import_participants(
        session, setup.round_id, rows(*lines), secret=TEST_SECRET
    )


def messages(session: Session, purpose: str | None = None) -> list[OutboxMessage]:
    session.expire_all()
    statement = select(OutboxMessage).order_by(OutboxMessage.id)  # type: ignore[arg-type]
    if purpose is not None:
        statement = statement.where(OutboxMessage.purpose == purpose)
    return list(session.exec(statement).all())


def link_in(message: OutboxMessage) -> str:
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def test_a_typed_list_is_added_with_default_and_named_organisations(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    result = participants.import_participants(
        session,
        setup.round_id,
        rows(
            "email",  # a heading row is skipped
            "ann@example.nhs.uk, Hillshire Council",
            "  Bob@Example.NHS.uk  ",
            "",
            "cara@example.org;riverside hospital",
        ),
        secret=TEST_SECRET,
        default_organisation_id=setup.organisation_ids[0],
    )
    assert (result.added, result.problems) == (3, [])
    stored = {
        p.email: p.organisation_id for p in participants.round_participants(session, setup.round_id)
    }
    assert stored == {
        "ann@example.nhs.uk": setup.organisation_ids[1],
        "Bob@example.nhs.uk": setup.organisation_ids[0],
        "cara@example.org": setup.organisation_ids[0],
    }
    counts = {
        row.organisation_name: row.listed
        for row in participants.participant_counts(session, setup.round_id)
    }
    assert counts == {"Riverside Hospital": 2, "Hillshire Council": 1}


def test_every_bad_row_is_named_and_nothing_is_added(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    assert add(session, setup, "kept@example.org, Riverside Hospital").added == 1
    result = add(
        session,
        setup,
        "fine@example.org, Riverside Hospital",
        "not-an-address, Riverside Hospital",
        "two@example.org, Nowhere Trust",
        "fine@EXAMPLE.org, Hillshire Council",
        "KEPT@example.org, Riverside Hospital",
        "alone@example.org",
    )
    assert result.added == 0
    assert [(p.number, p.message) for p in result.problems] == [
        (
            2,
            "“not-an-address” is not an e-mail address: it needs a name, an @ and a domain, "
            "like name@example.nhs.uk",
        ),
        (
            3,
            "“Nowhere Trust” is not an organisation of this partnership (its organisations: "
            "Hillshire Council, Riverside Hospital)",
        ),
        (4, "fine@example.org is listed twice (also in row 1)"),
        (5, "KEPT@example.org is already a participant of this round"),
        (6, "alone@example.org has no organisation: add one after a comma, or choose one"),
    ]
    assert [p.email for p in participants.round_participants(session, setup.round_id)] == [
        "kept@example.org"
    ]
    assert "not-an-address, Riverside Hospital" in result.as_text  # the input, to mend


def test_csv_and_xlsx_lists_are_read_and_other_files_refused() -> None:
    csv_file = "\ufeffE-mail,Organisation\r\nann@example.org,Riverside Hospital\r\n".encode()
    assert participants.parse_participant_file("list.csv", csv_file) == [
        participants.ParticipantRow(2, "ann@example.org", "Riverside Hospital")
    ]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Email address", "Organisation"])
    sheet.append(["bob@example.org", "Hillshire Council"])
    sheet.append([None, None])
    sheet.append(["cara@example.org", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert participants.parse_participant_file("list.xlsx", buffer.getvalue()) == [
        participants.ParticipantRow(2, "bob@example.org", "Hillshire Council"),
        participants.ParticipantRow(4, "cara@example.org", ""),
    ]
    with pytest.raises(FieldValidationError, match="not UTF-8"):
        participants.parse_participant_file("list.csv", "ann@é".encode("latin-1"))
    with pytest.raises(FieldValidationError, match=r"not an \.xlsx workbook"):
        participants.parse_participant_file("list.xlsx", b"PK\x03\x04 broken")
    with pytest.raises(FieldValidationError, match=r"save the spreadsheet as \.xlsx"):
        participants.parse_participant_file("list.xls", b"\xd0\xcf\x11\xe0")


def invite(session: Session, setup: SurveySetUp, count: int) -> list[OutboxMessage]:
    lines = [f"person{n:02d}@example.org, Riverside Hospital" for n in range(count)]
    assert add(session, setup, *lines).added == count
    assert (
        participants.send_invitations(session, setup.round_id, secret=TEST_SECRET, base=BASE)
        == count
    )
    return messages(session, participants.INVITATION)


def test_each_participant_gets_a_working_personal_link_once(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    sent = invite(session, setup, 3)
    assert sorted(m.recipient for m in sent) == [f"person{n:02d}@example.org" for n in range(3)]
    tokens = [link_in(m) for m in sent]
    assert len(set(tokens)) == 3
    for message, token in zip(sent, tokens, strict=True):
        invitation = invitations.invitation_for_token(session, token)
        assert invitation.round_id == setup.round_id
        assert invitation.organisation_id == setup.organisation_ids[0]
        assert "Test partnership" in message.subject
        assert "closes on" in message.body and OPT_OUT.search(message.body)
        assert message.participant_id is not None and message.round_id == setup.round_id
    # Sending again sends only to participants added since.
    assert (
        participants.send_invitations(session, setup.round_id, secret=TEST_SECRET, base=BASE) == 0
    )
    progress = {
        row.organisation_name: row for row in rounds.round_progress(session, setup.round_id)
    }
    assert progress["Riverside Hospital"].invited == 3
    assert delivery_counts(session, setup.round_id, participants.INVITATION).queued == 3


def test_no_column_joins_an_address_to_a_link_or_a_response(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """Structure: the participant table refers only to its round and organisation, and no
    table refers to it but the outbox (whose reference is erased once a message is sent).
    An insider with the database but not SECRET_KEY cannot rebuild a participant's link."""
    tables = SQLModel.metadata.tables
    assert {fk.column.table.name for fk in tables["participant"].foreign_keys} == {
        "survey_round",
        "organisation",
    }
    referring = {
        table.name
        for table in tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "participant"
    }
    assert referring == {"outbox_message"}
    setup = make_round()
    invite(session, setup, 2)
    hashes = set(session.exec(select(Invitation.token_hash)).all())
    for participant in participants.round_participants(session, setup.round_id):
        assert participant.link_seed not in hashes
        assert hash_link_token(participant.link_seed) not in hashes
        guessed = participants.participant_link_token("not-the-secret-key", participant)
        assert hash_link_token(guessed) not in hashes
        right = participants.participant_link_token(TEST_SECRET, participant)
        assert hash_link_token(right) in hashes  # only with the key


def test_invitation_ids_and_times_do_not_line_up_with_participants(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """An insider with the database alone orders both tables by id or by time, hoping the
    n-th participant has the n-th link: the order is random and the times are hours."""
    setup = make_round()
    invite(session, setup, 30)
    order_of_participants = [p.id for p in participants.round_participants(session, setup.round_id)]
    by_hash = {
        hash_link_token(participants.participant_link_token(TEST_SECRET, p)): p.id
        for p in participants.round_participants(session, setup.round_id)
    }
    invitations_in_id_order = session.exec(
        select(Invitation).where(Invitation.round_id == setup.round_id).order_by(Invitation.id)  # type: ignore[arg-type]
    ).all()
    order_of_links = [by_hash[invitation.token_hash] for invitation in invitations_in_id_order]
    assert sorted(order_of_links) == sorted(order_of_participants)
    assert order_of_links != order_of_participants  # 1 chance in 30! of a false failure
    for invitation in invitations_in_id_order:
        assert (invitation.created_at.minute, invitation.created_at.second) == (0, 0)
        assert invitation.created_at.microsecond == 0
    for participant in participants.round_participants(session, setup.round_id):
        assert participant.created_at.minute == 0 and participant.created_at.microsecond == 0


def _plain_reminders(session: Session, round_id: int, dates: str) -> None:
    """Save a round's mailing with bare texts (just the link) and these reminder dates."""
    participants.save_mailing(
        session,
        round_id,
        invitation_subject="Invitation",
        invitation_text="((link))",
        reminder_subject="Reminder",
        reminder_text="((link))",
        reminder_dates=dates,
    )


def at_nine(day: date) -> datetime:
    return participants.reminder_due_at(day).astimezone(UTC)


def test_reminders_go_once_and_only_to_those_who_have_not_submitted(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round(opens_in_days=-1, closes_in_days=20)
    sent = invite(session, setup, 6)
    tokens = {m.recipient: link_in(m) for m in sent}
    # person00 and person01 submit; person02 starts but does not submit; person03 opts out.
    for recipient in ("person00@example.org", "person01@example.org"):
        invitation = invitations.invitation_for_token(session, tokens[recipient])
        responses.submit_response(session, invitation, answers=full_answers())
    started = invitations.invitation_for_token(session, tokens["person02@example.org"])
    invitations.start_link(session, started)
    session.commit()
    opt_out = OPT_OUT.search(next(m for m in sent if m.recipient == "person03@example.org").body)
    assert opt_out
    participants.opt_out(session, opt_out.group(1))

    first, second = date.today() + timedelta(days=3), date.today() + timedelta(days=6)
    participants.save_mailing(
        session,
        setup.round_id,
        invitation_subject="Invitation",
        invitation_text="Your link: ((link))",
        reminder_subject="Reminder for ((round))",
        reminder_text="Still time: ((link)) before ((closes_on))",
        reminder_dates=f"{second.isoformat()}, {first.isoformat()}",
    )
    before = at_nine(first) - timedelta(minutes=1)
    assert participants.queue_due_reminders(session, before, secret=TEST_SECRET) == 0
    assert participants.queue_due_reminders(session, at_nine(first), secret=TEST_SECRET) == 1
    assert participants.queue_due_reminders(session, at_nine(first), secret=TEST_SECRET) == 0

    reminded = messages(session, participants.REMINDER)
    assert sorted(m.recipient for m in reminded) == [
        "person02@example.org",
        "person04@example.org",
        "person05@example.org",
    ]
    for message in reminded:
        assert link_in(message) == tokens[message.recipient]  # the same personal link
        assert message.subject == "Reminder for Spring round"
    assert participants.reminders_done(session, setup.round_id) == {first}

    # person04 submits before the second reminder.
    invitation = invitations.invitation_for_token(session, tokens["person04@example.org"])
    responses.submit_response(session, invitation, answers=full_answers())
    assert participants.queue_due_reminders(session, at_nine(second), secret=TEST_SECRET) == 1
    second_round = messages(session, participants.REMINDER)[len(reminded) :]
    assert sorted(m.recipient for m in second_round) == [
        "person02@example.org",
        "person05@example.org",
    ]


def test_nobody_is_reminded_within_a_day_of_being_invited(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    # A coordinator sets today as a reminder day and sends the invitations just before the
    # reminder job runs: nobody gets a reminder minutes after the invitation.
    setup = make_round(opens_in_days=-3, closes_in_days=20)
    invite(session, setup, 3)
    today, later = date.today(), date.today() + timedelta(days=2)
    _plain_reminders(session, setup.round_id, f"{today.isoformat()}, {later.isoformat()}")
    soon = max(datetime.now(UTC), at_nine(today)) + timedelta(minutes=5)
    assert participants.queue_due_reminders(session, soon, secret=TEST_SECRET) == 1
    assert messages(session, participants.REMINDER) == []  # the day's run reminded nobody
    # two days on, the same people are reminded
    assert participants.queue_due_reminders(session, at_nine(later), secret=TEST_SECRET) == 1
    assert len(messages(session, participants.REMINDER)) == 3


def test_missed_reminder_dates_make_one_reminder(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round(opens_in_days=-10, closes_in_days=20)
    invite(session, setup, 2)
    days = [date.today() - timedelta(days=n) for n in (5, 3, 1)]
    _plain_reminders(session, setup.round_id, " ".join(day.isoformat() for day in days))
    now = datetime.now(UTC) + participants.REMINDER_GAP  # a day after the invitations
    assert participants.queue_due_reminders(session, now, secret=TEST_SECRET) == 1
    assert len(messages(session, participants.REMINDER)) == 2  # one each, not three
    assert participants.reminders_done(session, setup.round_id) == set(days)


def test_no_reminders_without_a_schedule_or_after_the_round_closes(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round(opens_in_days=-10, closes_in_days=2)
    invite(session, setup, 2)
    now = datetime.now(UTC)
    assert participants.queue_due_reminders(session, now, secret=TEST_SECRET) == 0
    _plain_reminders(session, setup.round_id, (date.today() + timedelta(days=1)).isoformat())
    rounds.close_round(session, setup.round_id)
    later = now + timedelta(days=2)
    assert participants.queue_due_reminders(session, later, secret=TEST_SECRET) == 0
    assert messages(session, participants.REMINDER) == []


def test_addresses_are_deleted_when_the_round_closes(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    other = make_round()
    invite(session, setup, 3)
    assert add(session, other, "stays@example.org, Riverside Hospital").added == 1
    now = datetime.now(UTC)
    assert participants.forget_closed_rounds(session, now) == 0

    rounds.close_round(session, setup.round_id)
    assert participants.forget_closed_rounds(session, now) == 3
    session.expire_all()
    assert participants.round_participants(session, setup.round_id) == []
    assert [p.email for p in participants.round_participants(session, other.round_id)] == [
        "stays@example.org"
    ]
    for message in messages(session):
        assert (message.status, message.recipient, message.body) == (OutboxStatus.FAILED, "", "")
        assert message.last_error == participants.CLOSED_BEFORE_SENT
    # A round past its closing date counts as closed too.
    later = datetime.now(UTC) + timedelta(days=40)
    assert participants.forget_closed_rounds(session, later) == 1


def test_texts_are_checked_and_previewed(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    with pytest.raises(FieldValidationError) as raised:
        participants.save_mailing(
            session,
            setup.round_id,
            invitation_subject="Two\nlines",
            invitation_text="No link here ((closes_on))",
            reminder_subject="Reminder",
            reminder_text="((link)) ((name))",
            reminder_dates="2001-01-01, tomorrow",
        )
    assert raised.value.problems == {
        "invitation_subject": "must be one line",
        "invitation_text": "must contain ((link)), where each person's own link goes",
        "reminder_text": "((name)) is not a placeholder this text can use (it can use "
        "((partnership)), ((round)), ((closes_on)), ((threshold)), ((link)))",
        "reminder_dates": "“tomorrow” is not a date like 2026-12-09 or 9/12/2026",
    }
    mailing = participants.mailing_of(session, setup.round_id)
    invitation, reminder = participants.preview(
        session,
        setup.round_id,
        BASE,
        invitation_subject=mailing.invitation_subject,
        invitation_text=mailing.invitation_text,
        reminder_subject=mailing.reminder_subject,
        reminder_text=mailing.reminder_text,
    )
    survey_round = rounds.get_round(session, setup.round_id)
    closing = f"{survey_round.closes_on:%-d %B %Y}"
    assert "((" not in invitation.body + reminder.body + invitation.subject
    assert "Test partnership" in invitation.subject
    for words in ("about 10 minutes", closing, "at least 5 people", "deleted when the survey"):
        assert words in invitation.body
    assert f"{BASE}/s/(their-own-personal-link)" in invitation.body
    assert "To stop reminders about it" in reminder.body


def test_an_unknown_opt_out_link_is_not_found(session: Session) -> None:
    with pytest.raises(RecordNotFoundError):
        participants.opt_out(session, "no-such-token")


# -- pages ------------------------------------------------------------------------------


def sign_in(client: TestClient, session: Session, coordinator: str, setup: SurveySetUp) -> str:
    from app.services import accounts

    account = accounts.coordinator_by_email(session, coordinator)
    assert account is not None
    accounts.grant_partnership(session, account, setup.partnership_id)
    page = client.get("/sign-in")
    answer = client.post(
        "/sign-in",
        data={
            "email": coordinator,
            "password": COORDINATOR_PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    return csrf_from(client.get("/coordinator").text)


def test_the_pages_add_send_and_never_show_who_answered(
    client: TestClient,
    session: Session,
    coordinator: str,
    make_round: Callable[..., SurveySetUp],
) -> None:
    setup = make_round()
    csrf = sign_in(client, session, coordinator, setup)
    page = f"/coordinator/rounds/{setup.round_id}/participants"
    typed = "good@example.org, Riverside Hospital\nbad@, Riverside Hospital"
    refused = client.post(page, data={"participants": typed, "csrf_token": csrf})
    assert refused.status_code == 422
    assert "Row 2: “bad@” is not an e-mail address" in refused.text
    assert "good@example.org, Riverside Hospital\nbad@, Riverside Hospital</textarea>" in (
        refused.text
    )
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for n in range(6):
        sheet.append([f"p{n}@example.org", "Riverside Hospital" if n < 4 else "Hillshire Council"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    added = client.post(
        page,
        data={"participants": "", "organisation_id": "", "csrf_token": csrf},
        files={"file": ("list.xlsx", buffer.getvalue(), "application/octet-stream")},
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"].endswith("?added=6")
    sent = client.post(
        f"/coordinator/rounds/{setup.round_id}/invitations",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("?queued=6")

    # Three of Riverside's four submit.
    for message in messages(session, participants.INVITATION)[:3]:
        token = LINK.search(message.body) or re.search(r"/s/([A-Za-z0-9_-]+)", message.body)
        assert token
        invitation = invitations.invitation_for_token(session, token.group(1))
        responses.submit_response(session, invitation, answers=full_answers())
    shown = client.get(page).text
    for n in range(6):
        assert f"p{n}@example.org" not in shown
    assert _count_row(shown, "Riverside Hospital") == ["Riverside Hospital", "4", "4", "0", "0"]
    assert "6 waiting to be sent" in shown
    assert "Everyone listed has been sent an invitation." in shown
    round_page = client.get(f"/coordinator/rounds/{setup.round_id}").text
    assert "fewer than 5" in round_page  # the progress table's own suppression
    mailing = client.get(f"/coordinator/rounds/{setup.round_id}/mailing").text
    assert "((link))" in mailing
    preview = client.post(
        f"/coordinator/rounds/{setup.round_id}/mailing",
        data={
            "invitation_subject": "Hello",
            "invitation_text": "Go: ((link))",
            "reminder_subject": "Again",
            "reminder_text": "((link))",
            "reminder_dates": "",
            "action": "preview",
            "csrf_token": csrf,
        },
    )
    assert preview.status_code == 200 and "Go: http://testserver/s/(their-own" in preview.text
    wrong = client.post(
        f"/coordinator/rounds/{setup.round_id}/mailing",
        data={
            "invitation_subject": "Hello",
            "invitation_text": "No link",
            "reminder_subject": "Again",
            "reminder_text": "((link))",
            "reminder_dates": "",
            "action": "save",
            "csrf_token": csrf,
        },
    )
    assert wrong.status_code == 422
    assert "Invitation text: must contain ((link))" in wrong.text
    assert ">No link</textarea>" in wrong.text


def test_a_closed_rounds_texts_are_shown_and_cannot_be_changed(
    client: TestClient,
    session: Session,
    coordinator: str,
    make_round: Callable[..., SurveySetUp],
) -> None:
    """Nothing more is sent once a round closes, so its texts are read-only: the page says so
    and a save made by URL (or from a page left open) is refused without changing them."""
    setup = make_round()
    csrf = sign_in(client, session, coordinator, setup)
    participants.save_mailing(
        session,
        setup.round_id,
        invitation_subject="Invitation",
        invitation_text="Go: ((link))",
        reminder_subject="Reminder",
        reminder_text="((link))",
        reminder_dates="",
    )
    rounds.close_round(session, setup.round_id)
    url = f"/coordinator/rounds/{setup.round_id}/mailing"
    page = client.get(url)
    assert page.status_code == 200
    assert "This round has closed" in page.text
    assert "No more invitations or reminders are sent" in page.text
    assert "<form" not in page.text.split("<main", 1)[1].split("</main>", 1)[0]
    assert "Go: ((link))" in page.text  # the saved text, shown read-only
    assert "No reminders" in page.text
    with pytest.raises(RoundNotOpenError):
        participants.check_mailing(
            session,
            setup.round_id,
            invitation_subject="Changed",
            invitation_text="((link))",
            reminder_subject="Changed",
            reminder_text="((link))",
            reminder_dates="",
        )
    refused = client.post(
        url,
        data={
            "invitation_subject": "Changed",
            "invitation_text": "New: ((link))",
            "reminder_subject": "Changed",
            "reminder_text": "((link))",
            "reminder_dates": "",
            "action": "save",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert refused.status_code == 409
    assert "This round has closed" in refused.text
    assert "the texts can no longer be changed" in refused.text
    session.expire_all()
    assert participants.mailing_of(session, setup.round_id).invitation_subject != "Changed"


def test_an_address_is_removed_and_its_waiting_invitation_dropped(
    client: TestClient,
    session: Session,
    coordinator: str,
    make_round: Callable[..., SurveySetUp],
) -> None:
    setup = make_round()
    csrf = sign_in(client, session, coordinator, setup)
    invite(session, setup, 2)
    path = f"/coordinator/rounds/{setup.round_id}/participants/remove"
    wrong = client.post(path, data={"email": "nobody@example.org", "csrf_token": csrf})
    assert wrong.status_code == 422
    assert "nobody@example.org is not a participant of this round" in wrong.text
    assert 'value="nobody@example.org"' in wrong.text
    done = client.post(
        path, data={"email": " PERSON01@example.org ", "csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?removed=1")
    assert [p.email for p in participants.round_participants(session, setup.round_id)] == [
        "person00@example.org"
    ]
    dropped = [m for m in messages(session) if m.status == OutboxStatus.FAILED]
    assert [(m.recipient, m.body) for m in dropped] == [("", "")]


def test_the_opt_out_page_asks_then_stops_reminders(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    [message] = invite(session, setup, 1)
    found = re.search(r"/mail/opt-out/([A-Za-z0-9_-]+)", message.body)
    assert found
    path = f"/mail/opt-out/{found.group(1)}"
    asked = client.get(path)
    assert asked.status_code == 200 and "Stop reminders about this survey?" in asked.text
    assert not participants.round_participants(session, setup.round_id)[0].reminders_opted_out
    done = client.post(path, follow_redirects=True)
    assert "You will get no more reminders" in done.text
    session.expire_all()
    assert participants.round_participants(session, setup.round_id)[0].reminders_opted_out
    unknown = client.get("/mail/opt-out/not-a-real-token")
    assert unknown.status_code == 404 and "link to stop reminders does not work" in unknown.text
    refused = client.post("/mail/opt-out/not-a-real-token")
    assert (
        refused.status_code == 404 and "ask your partnership's survey coordinator" in refused.text
    )


def test_a_submitted_response_keeps_no_trace_of_its_participant(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    [message] = invite(session, setup, 1)
    invitation = invitations.invitation_for_token(session, link_in(message))
    response = responses.submit_response(session, invitation, answers=full_answers())
    assert response.invitation_id is None
    row = session.execute(sa.select(Response.__table__)).mappings().one()  # type: ignore[attr-defined]
    assert "example.org" not in str(dict(row))
    assert invitation.status == InvitationStatus.SUBMITTED
    assert token_of(f"{BASE}/s/{link_in(message)}") == link_in(message)
    assert session.exec(select(Participant)).one().email == "person00@example.org"


def test_insider_a_coordinator_learns_nothing_from_a_reminder_about_who_submitted(
    client: TestClient,
    session: Session,
    engine: sa.engine.Engine,
    coordinator: str,
    make_round: Callable[..., SurveySetUp],
    smtp_server: SmtpServer,
) -> None:
    """The attack: a coordinator invites six people, one of whom (the target) says she will
    answer today; after the reminder, the coordinator compares the participants page (and
    the round page) before and after, hoping the number reminded, or a count per
    organisation, shows whether she did.  Nothing but the reminder's own line changes."""
    from tests.test_outbox import FakeClock, make_worker, smtp_backend

    setup = make_round(opens_in_days=-1, closes_in_days=20)
    csrf = sign_in(client, session, coordinator, setup)
    sent = invite(session, setup, 6)
    clock = FakeClock()
    worker = make_worker(engine, smtp_backend(smtp_server), clock)
    assert worker.send_due() == 6
    reminder_day = date.today() + timedelta(days=2)
    answer = client.post(
        f"/coordinator/rounds/{setup.round_id}/mailing",
        data={
            "invitation_subject": "Invitation",
            "invitation_text": "((link))",
            "reminder_subject": "Reminder",
            "reminder_text": "((link))",
            "reminder_dates": reminder_day.isoformat(),
            "action": "save",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = f"/coordinator/rounds/{setup.round_id}/participants"

    def seen() -> tuple[str, str]:
        participants_page = client.get(page).text
        round_page = client.get(f"/coordinator/rounds/{setup.round_id}").text
        return participants_page.replace(f"{reminder_day:%-d %B %Y}: sent", "REMINDER"), (
            round_page
        )

    target = link_in(sent[2])
    responses.submit_response(
        session, invitations.invitation_for_token(session, target), answers=full_answers()
    )
    before = seen()
    moment = at_nine(reminder_day)
    assert participants.queue_due_reminders(session, moment, secret=TEST_SECRET) == 1
    clock.advance(3600)  # the worker's clock reaches the reminders' queueing time
    assert worker.send_due() == 5  # sent: the five who had not answered
    after = seen()
    assert (
        before[0].replace(f"{reminder_day:%-d %B %Y}: planned (from 9am)", "REMINDER") == (after[0])
    )
    assert before[1] == after[1]
    assert len(smtp_server.handler.received) == 11


def test_two_workers_reaching_a_reminder_together_queue_it_once(
    session: Session,
    engine: sa.engine.Engine,
    make_round: Callable[..., SurveySetUp],
) -> None:
    import threading

    setup = make_round(opens_in_days=-1, closes_in_days=20)
    invite(session, setup, 4)
    day = date.today() + timedelta(days=2)
    _plain_reminders(session, setup.round_id, day.isoformat())
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Session(engine) as own:
                start.wait(timeout=30)
                results.append(
                    participants.queue_due_reminders(own, at_nine(day), secret=TEST_SECRET)
                )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [0, 1]
    assert len(messages(session, participants.REMINDER)) == 4
