"""Participants of a round: the list a coordinator uploads or types, their personal
invitations by e-mail, reminders to those who have not submitted, opting out, and forgetting
every address when the round closes.

Keeping addresses apart from answers
------------------------------------
A participant row holds an address, an organisation and a random ``link_seed``; nothing on it
refers to an invitation or a response, and nothing on an invitation or response refers to it.
The participant's personal link is ``HMAC(SECRET_KEY, link_seed)``: the invitation stores only
the SHA-256 of that token, as for every link.  So:

- pages, reports and the API never show who has submitted: the coordinator sees counts per
  organisation (those of the round's progress table, suppressed below the threshold) and how
  many messages failed or bounced, never who was reminded, nor how many;
- the reminder job, and only it, rebuilds each participant's token hash with SECRET_KEY to
  leave out those whose link was submitted;
- someone holding the database alone (a backup, a database administrator without the app's
  secret) cannot join an address to a link, a draft or a submission: invitations are made in a
  random order and stamped to the hour (participants too), so neither ids nor times line up;
  what the database alone does tell is which batch (the participants invited together) a link
  belongs to, so a batch of one is joined by elimination.  With the database *and*
  SECRET_KEY, the join can be rebuilt: that person can tell who has submitted and read a
  named person's unsubmitted draft (a submitted response is detached from its link, so its
  answers stay unjoinable).  They could also see, while a reminder is queued, whom it is for.
  Addresses are deleted when the round closes, and once a message is sent its recipient and
  body are erased from the outbox.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    Organisation,
    OutboxMessage,
    OutboxStatus,
    Participant,
    ReminderRun,
    RoundMailing,
    RoundStatus,
    SurveyRound,
    utc_now,
)
from app.security import hash_link_token
from app.services import audit, clock
from app.services.addresses import email_address_problem, normalised_address
from app.services.audit import COMMAND_LINE_ACTOR, Actor, AuditAction
from app.services.errors import FieldValidationError, RecordNotFoundError
from app.services.outbox import queue_message
from app.services.partnerships import get_partnership, list_organisations
from app.services.responses import stored_hour
from app.services.rounds import RoundState, get_round, require_open, round_state

REMINDER_HOUR = time(9, 0)  # reminders go from 09:00 on their day, in TIME_ZONE
# Nobody is reminded within a day of being invited: a reminder date that is today, set just
# before the invitations go, would otherwise remind people minutes after inviting them.
# (Invitation times are stored to the hour, rounded down, so the gap is at least 23 hours.)
REMINDER_GAP = timedelta(hours=24)
MOST_PARTICIPANTS_AT_ONCE = 5000
MOST_REMINDERS = 5
MOST_FILE_BYTES = 900_000  # the app takes request bodies up to 1 MiB
PLACEHOLDER = re.compile(r"\(\(([^()]*)\)\)")
PLACEHOLDERS = ("partnership", "round", "closes_on", "threshold", "link")
INVITATION = "invitation"
REMINDER = "reminder"
CLOSED_BEFORE_SENT = "the round closed before it was sent"

DEFAULT_INVITATION_SUBJECT = "((partnership)): how far do partners trust each other?"
DEFAULT_INVITATION_TEXT = "\n\n".join(
    [
        "Hello,",
        "((partnership)) is asking the people who work in its member organisations how far "
        'they trust one another, in a short survey: "((round))". It takes about 10 minutes.',
        "Your personal link (it is yours alone: please do not forward it):\n((link))",
        "The survey closes on ((closes_on)).",
        "Who sees what: your answers are not stored with your name or your e-mail address. "
        "Results are published only for groups of at least ((threshold)) people, and only "
        "after the survey closes. The coordinator sees how many people have answered in each "
        "organisation, never who answered or what anyone said. Your e-mail address is used "
        "only to send you this invitation and reminders, and is deleted when the survey "
        "closes.",
        "Thank you.",
    ]
)
DEFAULT_REMINDER_SUBJECT = "Reminder: ((partnership)) trust survey closes on ((closes_on))"
DEFAULT_REMINDER_TEXT = "\n\n".join(
    [
        "Hello,",
        'If you have not yet answered "((round))", there is still time: it takes about '
        "10 minutes, and the survey closes on ((closes_on)).",
        "Your personal link:\n((link))",
        "If you have already answered, thank you, and please ignore this reminder: the survey "
        "does not know who has answered, so it reminds everyone whose link has not been used "
        "to submit.",
    ]
)
FOOTER = (
    "\n--\nYou are receiving this because the coordinator of ((partnership)) added your "
    "address to this survey. To stop reminders about it: ((opt_out_link))"
)


# -- links ------------------------------------------------------------------------------


def _derive(secret: str, purpose: str, seed: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{seed}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def participant_link_token(secret: str, participant: Participant) -> str:
    """The participant's personal link token (never stored)."""
    return _derive(secret, "participant-link", participant.link_seed)


def opt_out_token(secret: str, participant: Participant) -> str:
    return _derive(secret, "opt-out", participant.link_seed)


def opt_out_link(base: str, token: str) -> str:
    return f"{base}/mail/opt-out/{token}"


def _new_participant(secret: str, round_id: int, organisation_id: int, email: str) -> Participant:
    participant = Participant(
        round_id=round_id,
        organisation_id=organisation_id,
        created_at=stored_hour(),
        email=email,
        link_seed=secrets.token_hex(32),
        opt_out_hash="",
    )
    participant.opt_out_hash = hash_link_token(opt_out_token(secret, participant))
    return participant


# -- reading lists ----------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantRow:
    """One row of a list as given: its line (or row) number, address and organisation."""

    number: int
    email: str
    organisation: str


@dataclass(frozen=True)
class RowProblem:
    number: int
    message: str


@dataclass
class ImportResult:
    added: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    rows: list[ParticipantRow] = field(default_factory=list)

    @property
    def as_text(self) -> str:
        """The rows as lines ``address, organisation``, to correct in the page's text box."""
        return "\n".join(
            f"{row.email}, {row.organisation}" if row.organisation else row.email
            for row in self.rows
        )


class ParticipantFileError(FieldValidationError):
    """A participant file that cannot be read at all (the message says why)."""

    def __init__(self, message: str) -> None:
        super().__init__({"file": message})


_HEADER_WORDS = {"email", "e-mail", "email address", "e-mail address", "address"}


def _is_header(cells: Sequence[str]) -> bool:
    return bool(cells) and cells[0].strip().lower() in _HEADER_WORDS


def _rows(cells_by_row: Iterable[tuple[int, Sequence[str]]]) -> list[ParticipantRow]:
    rows: list[ParticipantRow] = []
    for number, cells in cells_by_row:
        cleaned = [str(cell).strip() for cell in cells]
        if not any(cleaned):
            continue
        if not rows and _is_header(cleaned):
            continue
        email = cleaned[0] if cleaned else ""
        organisation = cleaned[1] if len(cleaned) > 1 else ""
        extra = [cell for cell in cleaned[2:] if cell]
        if extra:
            organisation = ", ".join([organisation, *extra]) if organisation else extra[0]
        rows.append(ParticipantRow(number, email, organisation))
    return rows


def parse_participant_text(text: str) -> list[ParticipantRow]:
    """Typed lines: ``address`` or ``address, organisation`` (a tab or ``;`` also separates)."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = re.split(r"[,;\t]", line, maxsplit=1)
        lines.append((number, parts))
    return _rows(lines)


def parse_participant_file(file_name: str, content: bytes) -> list[ParticipantRow]:
    """A CSV (UTF-8, with or without a BOM) or XLSX file: address in the first column,
    organisation in the second; a first row of headings (``e-mail``...) is skipped."""
    if len(content) > MOST_FILE_BYTES:
        raise ParticipantFileError(
            f"the file is larger than {MOST_FILE_BYTES // 1000} KB; split the list"
        )
    name = file_name.lower()
    if name.endswith(".xlsx") or content.startswith(b"PK\x03\x04"):
        return _rows(_xlsx_cells(content))
    if name.endswith((".xls", ".ods", ".numbers")):
        raise ParticipantFileError("save the spreadsheet as .xlsx or .csv and upload that")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ParticipantFileError(
            "the file is not UTF-8 text; save it as “CSV UTF-8” or as .xlsx"
        ) from None
    if "\x00" in text:
        raise ParticipantFileError("the file is not a CSV or XLSX file")
    reader = csv.reader(io.StringIO(text))
    try:
        return _rows((number, row) for number, row in enumerate(reader, start=1))
    except csv.Error as error:
        raise ParticipantFileError(f"the CSV file cannot be read ({error})") from None


def _xlsx_cells(content: bytes) -> Iterable[tuple[int, Sequence[str]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        raise ParticipantFileError("the file is not an .xlsx workbook that can be read") from None
    try:
        sheet = workbook.worksheets[0]
        rows = [
            (number, ["" if cell is None else str(cell) for cell in row[:3]])
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        workbook.close()
    return rows


# -- adding participants ----------------------------------------------------------------


def import_participants(
    session: Session,
    round_id: int,
    rows: Sequence[ParticipantRow],
    *,
    secret: str,
    default_organisation_id: int | None = None,
    actor: Actor = COMMAND_LINE_ACTOR,
) -> ImportResult:
    """Add the rows' addresses to a round, all or none: if any row has a problem (not an
    address, an organisation the partnership does not have, an address listed twice or
    already in the round), nothing is added and every problem is returned by row."""
    survey_round = get_round(session, round_id)
    result = ImportResult(rows=list(rows))
    if round_state(survey_round) == RoundState.CLOSED:
        result.problems.append(RowProblem(0, "the round has closed: no one can be added"))
        return result
    if not rows:
        result.problems.append(RowProblem(0, "give at least one e-mail address"))
        return result
    if len(rows) > MOST_PARTICIPANTS_AT_ONCE:
        result.problems.append(
            RowProblem(0, f"at most {MOST_PARTICIPANTS_AT_ONCE} addresses at once")
        )
        return result
    organisations = list_organisations(session, survey_round.partnership_id)
    by_name = {organisation.name.casefold(): organisation for organisation in organisations}
    default = next((o for o in organisations if o.id == default_organisation_id), None)
    existing = set(
        session.exec(select(Participant.email).where(Participant.round_id == round_id)).all()
    )
    seen: dict[str, int] = {}
    accepted: list[tuple[str, Organisation]] = []
    names = ", ".join(organisation.name for organisation in organisations) or "none yet"
    for row in rows:
        problem = email_address_problem(row.email)
        email = normalised_address(row.email)
        key = email.casefold()
        organisation = by_name.get(row.organisation.casefold()) if row.organisation else default
        if problem is not None:
            message = f"“{_shown(row.email)}” is not an e-mail address: {problem}"
        elif key in seen:
            message = f"{email} is listed twice (also in row {seen[key]})"
        elif key in {address.casefold() for address in existing}:
            message = f"{email} is already a participant of this round"
        elif organisation is None and row.organisation:
            message = (
                f"“{_shown(row.organisation)}” is not an organisation of this partnership "
                f"(its organisations: {names})"
            )
        elif organisation is None:
            message = f"{email} has no organisation: add one after a comma, or choose one"
        else:
            seen[key] = row.number
            accepted.append((email, organisation))
            continue
        seen.setdefault(key, row.number)
        result.problems.append(RowProblem(row.number, message))
    if result.problems:
        return result
    for email, organisation in accepted:
        assert organisation.id is not None
        session.add(_new_participant(secret, round_id, organisation.id, email))
    audit.record(
        session,
        actor,
        AuditAction.PARTICIPANTS_ADDED,
        f"round {round_id}",
        partnership_id=survey_round.partnership_id,
        detail=f"{len(accepted)} participants",
        commit=False,
    )
    session.commit()
    result.added = len(accepted)
    return result


def _shown(text: str, most: int = 80) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    return printable if len(printable) <= most else printable[: most - 1] + "…"


def remove_participant(session: Session, round_id: int, email: str) -> str | None:
    """Remove an address from a round (a typing mistake, someone who left); what is wrong,
    or None.  An invitation already sent keeps working: its link is the person's."""
    get_round(session, round_id)
    wanted = normalised_address(email).casefold()
    if not wanted:
        return "enter the e-mail address to remove"
    participant = next(
        (p for p in round_participants(session, round_id) if p.email.casefold() == wanted),
        None,
    )
    if participant is None:
        return f"{_shown(email.strip())} is not a participant of this round"
    session.execute(
        sa.update(OutboxMessage)
        .where(
            col(OutboxMessage.participant_id) == participant.id,
            col(OutboxMessage.status) == OutboxStatus.QUEUED,
        )
        .values(
            status=OutboxStatus.FAILED,
            recipient="",
            body="",
            participant_id=None,
            last_error="the participant was removed before it was sent",
        )
    )
    session.delete(participant)
    session.commit()
    return None


# -- texts ------------------------------------------------------------------------------


def mailing_of(session: Session, round_id: int) -> RoundMailing:
    """The round's texts and reminder dates (the defaults, not yet stored, if never saved)."""
    get_round(session, round_id)
    mailing = session.get(RoundMailing, round_id)
    if mailing is None:
        mailing = RoundMailing(
            round_id=round_id,
            invitation_subject=DEFAULT_INVITATION_SUBJECT,
            invitation_text=DEFAULT_INVITATION_TEXT,
            reminder_subject=DEFAULT_REMINDER_SUBJECT,
            reminder_text=DEFAULT_REMINDER_TEXT,
            reminder_dates=[],
        )
    return mailing


def _text_problem(text: str, *, needs_link: bool, most: int) -> str | None:
    if not text.strip():
        return "must not be blank"
    if len(text) > most:
        return f"must be at most {most} characters"
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        known = ", ".join(f"(({name}))" for name in PLACEHOLDERS)
        return f"(({unknown[0]})) is not a placeholder this text can use (it can use {known})"
    if needs_link and "((link))" not in text:
        return "must contain ((link)), where each person's own link goes"
    return None


def parse_reminder_dates(text: str, survey_round: SurveyRound) -> tuple[list[date], str | None]:
    """Dates written ``2026-12-09`` (or ``9/12/2026``), separated by commas, spaces or lines:
    each after the round opens, on or before it closes; at most five."""
    words = [word for word in re.split(r"[\s,;]+", text.strip()) if word]
    dates: list[date] = []
    for word in words:
        try:
            if "/" in word:
                day_number, month, year = (int(part) for part in word.split("/"))
                dates.append(date(year, month, day_number))
            else:
                dates.append(date.fromisoformat(word))
        except ValueError:
            return [], f"“{_shown(word, 20)}” is not a date like 2026-12-09 or 9/12/2026"
    dates = sorted(set(dates))
    if len(dates) > MOST_REMINDERS:
        return [], f"at most {MOST_REMINDERS} reminders"
    for day in dates:
        if not survey_round.opens_on < day <= survey_round.closes_on:
            return [], (
                f"{day:%-d %B %Y} is not between the day after the round opens "
                f"({survey_round.opens_on:%-d %B %Y}) and the day it closes "
                f"({survey_round.closes_on:%-d %B %Y})"
            )
    return dates, None


def check_mailing(
    session: Session,
    round_id: int,
    *,
    invitation_subject: str,
    invitation_text: str,
    reminder_subject: str,
    reminder_text: str,
    reminder_dates: str,
) -> list[date]:
    """The reminder dates, if the texts and dates are fit to use; else FieldValidationError
    naming each problem.  A closed round sends nothing more, so its texts are kept as they
    were: RoundNotOpenError."""
    survey_round = get_round(session, round_id)
    if round_state(survey_round) == RoundState.CLOSED:
        require_open(survey_round)  # raises: the round has closed
    problems: dict[str, str] = {}
    for name, value, needs_link, most in (
        ("invitation_subject", invitation_subject, False, 300),
        ("invitation_text", invitation_text, True, 10_000),
        ("reminder_subject", reminder_subject, False, 300),
        ("reminder_text", reminder_text, True, 10_000),
    ):
        problem = _text_problem(value, needs_link=needs_link, most=most)
        if problem is None and "subject" in name and ("\n" in value or "\r" in value):
            problem = "must be one line"
        if problem is not None:
            problems[name] = problem
    dates, date_problem = parse_reminder_dates(reminder_dates, survey_round)
    if date_problem is not None:
        problems["reminder_dates"] = date_problem
    if problems:
        raise FieldValidationError(problems)
    return dates


def save_mailing(
    session: Session,
    round_id: int,
    *,
    invitation_subject: str,
    invitation_text: str,
    reminder_subject: str,
    reminder_text: str,
    reminder_dates: str,
) -> RoundMailing:
    """Store a round's texts and reminder dates; FieldValidationError names each problem."""
    dates = check_mailing(
        session,
        round_id,
        invitation_subject=invitation_subject,
        invitation_text=invitation_text,
        reminder_subject=reminder_subject,
        reminder_text=reminder_text,
        reminder_dates=reminder_dates,
    )
    mailing = mailing_of(session, round_id)
    mailing.invitation_subject = invitation_subject.strip()
    mailing.invitation_text = _lines(invitation_text)
    mailing.reminder_subject = reminder_subject.strip()
    mailing.reminder_text = _lines(reminder_text)
    mailing.reminder_dates = [day.isoformat() for day in dates]
    mailing.updated_at = utc_now()
    session.add(mailing)
    session.commit()
    return mailing


def _lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


@dataclass(frozen=True)
class Letter:
    subject: str
    body: str


def _fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), text)


def compose(
    session: Session,
    survey_round: SurveyRound,
    subject: str,
    text: str,
    *,
    link: str,
    opt_out: str,
) -> Letter:
    partnership = get_partnership(session, survey_round.partnership_id)
    values = {
        "partnership": partnership.name,
        "round": survey_round.title,
        "closes_on": f"{survey_round.closes_on:%-d %B %Y}",
        "threshold": str(survey_round.anonymity_threshold),
        "link": link,
        "opt_out_link": opt_out,
    }
    return Letter(_fill(subject, values), _fill(text + "\n" + FOOTER, values))


def preview(
    session: Session,
    round_id: int,
    base: str,
    *,
    invitation_subject: str,
    invitation_text: str,
    reminder_subject: str,
    reminder_text: str,
) -> list[Letter]:
    """The invitation and the reminder as a participant would get them (example links)."""
    survey_round = get_round(session, round_id)
    link = f"{base}/s/(their-own-personal-link)"
    opt_out = f"{base}/mail/opt-out/(their-own-opt-out-link)"
    return [
        compose(
            session,
            survey_round,
            subject.strip(),
            _lines(text),
            link=link,
            opt_out=opt_out,
        )
        for subject, text in (
            (invitation_subject, invitation_text),
            (reminder_subject, reminder_text),
        )
    ]


# -- sending ----------------------------------------------------------------------------


def send_invitations(
    session: Session, round_id: int, *, secret: str, base: str, actor: Actor = COMMAND_LINE_ACTOR
) -> int:
    """Queue a personal invitation for each participant not yet invited (each gets a link
    of their own); how many were queued.  The round must be open or about to open."""
    survey_round = get_round(session, round_id)
    if round_state(survey_round) == RoundState.CLOSED:
        require_open(survey_round)  # raises: the round has closed
    mailing = mailing_of(session, round_id)
    mailing.link_base = base
    session.add(mailing)
    waiting = list(
        session.exec(
            select(Participant).where(
                Participant.round_id == round_id, sa.not_(col(Participant.invited))
            )
        ).all()
    )
    # Invitations are made in a random order and stamped to the hour, so that neither their
    # ids nor their times line up with the participants': the database alone tells only which
    # batch (those invited together) a participant's link is among.
    secrets.SystemRandom().shuffle(waiting)
    hour = stored_hour()
    for participant in waiting:
        token = participant_link_token(secret, participant)
        session.add(
            Invitation(
                round_id=round_id,
                organisation_id=participant.organisation_id,
                kind=InvitationKind.PERSONAL,
                token_hash=hash_link_token(token),
                created_at=hour,
            )
        )
        letter = compose(
            session,
            survey_round,
            mailing.invitation_subject,
            mailing.invitation_text,
            link=f"{base}/s/{token}",
            opt_out=opt_out_link(base, opt_out_token(secret, participant)),
        )
        _queue(session, participant, letter, INVITATION)
        participant.invited = True
        session.add(participant)
    audit.record(
        session,
        actor,
        AuditAction.INVITATIONS_SENT,
        f"round {round_id}",
        partnership_id=survey_round.partnership_id,
        detail=f"{len(waiting)} invitations queued",
        commit=False,
    )
    session.commit()
    return len(waiting)


def _queue(session: Session, participant: Participant, letter: Letter, purpose: str) -> None:
    message = queue_message(
        session,
        to=participant.email,
        subject=letter.subject,
        body=letter.body,
        purpose=purpose,
        round_id=participant.round_id,
    )
    message.participant_id = participant.id


def reminder_due_at(day: date) -> datetime:
    return datetime.combine(day, REMINDER_HOUR, tzinfo=clock.time_zone())


def queue_due_reminders(session: Session, now: datetime, *, secret: str) -> int:
    """Queue each open round's reminder whose time has come (09:00 in TIME_ZONE on its date),
    once: to every invited participant who has not opted out, whose address has not failed,
    whose link has not been used to submit, and who was invited at least
    :data:`REMINDER_GAP` before.  Dates missed while no worker ran are made up by one
    reminder, not several.  Returns how many rounds were reminded."""
    reminded = 0
    for mailing in session.exec(select(RoundMailing)).all():
        survey_round = session.get(SurveyRound, mailing.round_id)
        if survey_round is None or mailing.link_base is None:
            continue
        today = clock.local_day(now)
        if (
            survey_round.status != RoundStatus.OPEN
            or round_state(survey_round, today) != RoundState.OPEN
        ):
            continue  # drafts and closed rounds are not reminded
        due = [
            day
            for day in (date.fromisoformat(text) for text in mailing.reminder_dates)
            if reminder_due_at(day) <= now
        ]
        done = reminders_done(session, mailing.round_id)
        missing = [day for day in due if day not in done]
        if not missing:
            continue
        for day in missing:
            session.add(ReminderRun(round_id=mailing.round_id, reminder_on=day))
        try:
            session.flush()  # two workers: the reminder run's key lets only one through
        except sa.exc.IntegrityError:
            session.rollback()
            continue
        queued = _queue_reminders(session, survey_round, mailing, secret, now)
        session.flush()
        latest = session.get(ReminderRun, (mailing.round_id, missing[-1]))
        if latest is not None:  # kept for the database's administrator; never shown
            latest.queued = queued
            session.add(latest)
        audit.record(
            session,
            audit.WORKER_ACTOR,
            AuditAction.INVITATIONS_SENT,
            f"round {survey_round.id}",
            partnership_id=survey_round.partnership_id,
            detail=f"{queued} reminders queued",
            commit=False,
        )
        session.commit()
        reminded += 1
    return reminded


def _queue_reminders(
    session: Session, survey_round: SurveyRound, mailing: RoundMailing, secret: str, now: datetime
) -> int:
    assert mailing.link_base is not None
    queued = 0
    candidates = session.exec(
        select(Participant).where(
            Participant.round_id == survey_round.id,
            col(Participant.invited),
            sa.not_(col(Participant.reminders_opted_out)),
            sa.not_(col(Participant.undeliverable)),
        )
    ).all()
    tokens = {
        participant.id: participant_link_token(secret, participant) for participant in candidates
    }
    hashes = {participant_id: hash_link_token(token) for participant_id, token in tokens.items()}
    found = session.exec(
        select(Invitation.token_hash, Invitation.status, Invitation.created_at).where(
            Invitation.round_id == survey_round.id,
            col(Invitation.token_hash).in_(list(hashes.values())),
        )
    ).all()
    status_of = {token_hash: status for token_hash, status, _ in found}
    invited_at = {token_hash: clock.as_utc(created) for token_hash, _, created in found}
    latest_invitation = clock.as_utc(now) - REMINDER_GAP
    for participant in candidates:
        status = status_of.get(hashes[participant.id])
        if status is None or status in (InvitationStatus.SUBMITTED, InvitationStatus.REVOKED):
            continue  # submitted (or SECRET_KEY changed since: the link cannot be rebuilt)
        if invited_at[hashes[participant.id]] > latest_invitation:
            continue  # invited less than a day ago: the invitation is reminder enough
        letter = compose(
            session,
            survey_round,
            mailing.reminder_subject,
            mailing.reminder_text,
            link=f"{mailing.link_base}/s/{tokens[participant.id]}",
            opt_out=opt_out_link(mailing.link_base, opt_out_token(secret, participant)),
        )
        _queue(session, participant, letter, REMINDER)
        queued += 1
    return queued


def forget_closed_rounds(session: Session, now: datetime) -> int:
    """Delete the participants (addresses) of every closed round, and erase its messages
    still waiting to go (they are counted as failed); how many participants were deleted."""
    today = clock.local_day(now)
    round_ids = sorted(set(session.exec(select(Participant.round_id)).all()))
    round_ids += [
        round_id
        for round_id in session.exec(
            select(OutboxMessage.round_id)
            .where(
                OutboxMessage.status == OutboxStatus.QUEUED,
                col(OutboxMessage.round_id).is_not(None),
            )
            .distinct()
        ).all()
        if round_id is not None and round_id not in round_ids
    ]
    deleted = 0
    for round_id in round_ids:
        survey_round = session.get(SurveyRound, round_id)
        if survey_round is None or round_state(survey_round, today) != RoundState.CLOSED:
            continue
        session.execute(
            sa.update(OutboxMessage)
            .where(
                col(OutboxMessage.round_id) == round_id,
                col(OutboxMessage.status) == OutboxStatus.QUEUED,
            )
            .values(
                status=OutboxStatus.FAILED,
                recipient="",
                body="",
                participant_id=None,
                last_error=CLOSED_BEFORE_SENT,
            )
        )
        result = session.execute(
            sa.delete(Participant).where(col(Participant.round_id) == round_id)
        )
        deleted += int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.commit()
    return deleted


# -- opting out -------------------------------------------------------------------------


def participant_for_opt_out(session: Session, token: str) -> Participant:
    if not token or len(token) > 200:
        raise RecordNotFoundError("link", "")
    participant = session.exec(
        select(Participant).where(Participant.opt_out_hash == hash_link_token(token))
    ).first()
    if participant is None:
        raise RecordNotFoundError("link", "")
    return participant


def opt_out(session: Session, token: str) -> Participant:
    """Stop reminders to the participant whose opt-out link this is."""
    participant = participant_for_opt_out(session, token)
    participant.reminders_opted_out = True
    session.add(participant)
    session.commit()
    return participant


# -- counts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationParticipants:
    """Participant counts of one organisation: none of them says who has answered."""

    organisation_name: str
    listed: int
    invited: int
    opted_out: int
    undeliverable: int


def participant_counts(session: Session, round_id: int) -> list[OrganisationParticipants]:
    survey_round = get_round(session, round_id)
    rows = session.execute(
        sa.select(
            col(Participant.organisation_id),
            sa.func.count(),
            sa.func.count().filter(col(Participant.invited)),
            sa.func.count().filter(col(Participant.reminders_opted_out)),
            sa.func.count().filter(col(Participant.undeliverable)),
        )
        .where(col(Participant.round_id) == round_id)
        .group_by(col(Participant.organisation_id))
    ).all()
    by_organisation = {row[0]: row[1:] for row in rows}
    counts = []
    for organisation in list_organisations(session, survey_round.partnership_id):
        listed, invited, opted_out, undeliverable = by_organisation.get(
            organisation.id, (0, 0, 0, 0)
        )
        counts.append(
            OrganisationParticipants(
                organisation.name, int(listed), int(invited), int(opted_out), int(undeliverable)
            )
        )
    return counts


def round_participants(session: Session, round_id: int) -> list[Participant]:
    """A round's participants (for the worker and tests; no page lists them)."""
    return list(
        session.exec(
            select(Participant)
            .where(Participant.round_id == round_id)
            .order_by(col(Participant.id))
        ).all()
    )


def reminders_done(session: Session, round_id: int) -> set[date]:
    """The reminder dates of a round already queued."""
    statement = sa.select(col(ReminderRun.reminder_on)).where(col(ReminderRun.round_id) == round_id)
    return set(session.execute(statement).scalars())
