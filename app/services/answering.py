"""Answering through the JSON API on the async path: the questionnaire, draft saves and
submissions, on one async connection per request, with Core statements only.

The same rules as :mod:`app.services.responses` (the pages' ORM path), in fewer statements:

* the link, its round, partnership and organisation type are read in one SELECT
  (:func:`find_link`), once per request (the link limits' middleware reads it and hands it
  on; see :mod:`app.web.rate_limits`);
* a submission claims the link with a conditional UPDATE first (so of two submissions at once
  exactly one wins), then merges the answers into the draft with one UPDATE in the database
  (SQLite's ``json_patch``, PostgreSQL's ``||``), or inserts the response: one transaction;
* a draft save starts an unused link with a conditional UPDATE and inserts its draft, or
  merges into the draft in one UPDATE (no read-modify-write, so two saves at once both
  count), and commits, so a saved page survives the server being killed;
* wrong resume codes are counted on the request's own connection.

Writes on SQLite queue on :meth:`app.database.AsyncDatabase.writing` and start with their
first write, so a transaction never upgrades a stale read to a write.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from analysis.instrument import Instrument
from app.database import AsyncDatabase
from app.instruments import bundled_catalogue, parsed_document
from app.models import (
    InstrumentDocument,
    Invitation,
    InvitationKind,
    InvitationStatus,
    Organisation,
    Partnership,
    Response,
    ResponseStatus,
    SurveyRound,
)
from app.security import hash_link_token
from app.services.answers import CheckedAnswers, check_answers, unanswered_required
from app.services.errors import (
    FieldValidationError,
    LinkAlreadyUsedError,
    RecordNotFoundError,
    ResumeCodeError,
    TooManyResumeCodesError,
)
from app.services.invitations import (
    code_to_start_with,
    is_resume_code,
    normalised_resume_code,
    resume_code_hash,
)
from app.services.responses import ResumeCode, _located, stored_hour
from app.services.rounds import require_open

_LINKS = Invitation.__table__  # type: ignore[attr-defined]
_ROUNDS = SurveyRound.__table__  # type: ignore[attr-defined]
_PARTNERSHIPS = Partnership.__table__  # type: ignore[attr-defined]
_ORGANISATIONS = Organisation.__table__  # type: ignore[attr-defined]
_RESPONSES = Response.__table__  # type: ignore[attr-defined]
_DOCUMENTS = InstrumentDocument.__table__  # type: ignore[attr-defined]
LONGEST_TOKEN = 200

_FIND_LINK = (
    sa.select(
        _LINKS.c.id,
        _LINKS.c.round_id,
        _LINKS.c.kind,
        _LINKS.c.token_hash,
        _LINKS.c.status,
        _LINKS.c.from_open_link,
        _LINKS.c.resume_code_hash,
        _ROUNDS.c.title,
        _ROUNDS.c.instrument_id,
        _ROUNDS.c.instrument_version,
        _ROUNDS.c.opens_on,
        _ROUNDS.c.closes_on,
        _ROUNDS.c.closed_on,
        _ROUNDS.c.status.label("round_status"),
        _DOCUMENTS.c.sha256.label("instrument_sha256"),
        _PARTNERSHIPS.c.name.label("partnership_name"),
        _PARTNERSHIPS.c.kind.label("partnership_kind"),
        _ORGANISATIONS.c.kind.label("organisation_kind"),
    )
    .select_from(_LINKS)
    .join(_ROUNDS, _ROUNDS.c.id == _LINKS.c.round_id)
    .join(_PARTNERSHIPS, _PARTNERSHIPS.c.id == _ROUNDS.c.partnership_id)
    .outerjoin(
        _DOCUMENTS,
        sa.and_(
            _DOCUMENTS.c.instrument_id == _ROUNDS.c.instrument_id,
            _DOCUMENTS.c.version == _ROUNDS.c.instrument_version,
        ),
    )
    .outerjoin(
        _ORGANISATIONS,
        sa.and_(
            _ORGANISATIONS.c.id == _LINKS.c.organisation_id,
            _ORGANISATIONS.c.partnership_id == _PARTNERSHIPS.c.id,
        ),
    )
    .where(_LINKS.c.token_hash == sa.bindparam("token_hash"))
)
_START = (
    sa.update(_LINKS)
    .where(
        _LINKS.c.id == sa.bindparam("link_id"),
        _LINKS.c.status == InvitationStatus.UNUSED,
        _LINKS.c.resume_code_hash.is_(None),
    )
    .values(status=InvitationStatus.STARTED, resume_code_hash=sa.bindparam("code_hash"))
)
_CLAIM_STARTED = (
    sa.update(_LINKS)
    .where(_LINKS.c.id == sa.bindparam("link_id"), _LINKS.c.status == InvitationStatus.STARTED)
    .values(status=InvitationStatus.SUBMITTED)
)
_CLAIM_UNUSED = (
    sa.update(_LINKS)
    .where(
        _LINKS.c.id == sa.bindparam("link_id"),
        _LINKS.c.status == InvitationStatus.UNUSED,
        _LINKS.c.resume_code_hash.is_(None),
    )
    .values(status=InvitationStatus.SUBMITTED)
)
_CLAIM_UNUSED_WITH_CODE = _CLAIM_UNUSED.values(resume_code_hash=sa.bindparam("code_hash"))
_DRAFT = sa.select(_RESPONSES.c.answers, _RESPONSES.c.background, _RESPONSES.c.next_section).where(
    _RESPONSES.c.invitation_id == sa.bindparam("link_id"),
    _RESPONSES.c.status == ResponseStatus.DRAFT,
)
_INSERT = sa.insert(_RESPONSES)


@dataclass(frozen=True, slots=True)
class LinkRound:
    """The round a link leads to, as far as answering needs it."""

    title: str
    instrument_id: str
    instrument_version: str
    opens_on: date
    closes_on: date
    closed_on: date | None
    status: str


@dataclass(frozen=True, slots=True)
class Link:
    """A live link (not revoked), with what answering needs of its round and partnership."""

    id: int
    round_id: int
    kind: str
    token_hash: str
    status: str
    from_open_link: bool
    resume_code_hash: str | None
    round: LinkRound
    known: Mapping[str, str]  # background answers the link tells (partnership, org type)
    instrument: Instrument

    @property
    def started(self) -> bool:
        """Started or used (see :func:`app.services.invitations.is_started`)."""
        return self.status != InvitationStatus.UNUSED or self.resume_code_hash is not None


_INSTRUMENTS: dict[tuple[str, str, str | None], Instrument] = {}
_DOCUMENT = sa.select(_DOCUMENTS.c.document).where(
    _DOCUMENTS.c.instrument_id == sa.bindparam("instrument_id"),
    _DOCUMENTS.c.version == sa.bindparam("version"),
)


async def _instrument(
    connection: AsyncConnection, instrument_id: str, version: str, sha256: str | None
) -> Instrument:
    """A round's instrument version: its stored document (parsed once per process, by its
    hash: a stored version never changes), else the bundled file."""
    key = (instrument_id, version, sha256)
    found = _INSTRUMENTS.get(key)
    if found is not None:
        return found
    if sha256 is not None:
        text = (
            await connection.execute(
                _DOCUMENT, {"instrument_id": instrument_id, "version": version}
            )
        ).scalar_one()
        found = parsed_document(text, f"{instrument_id} {version} (stored)")
    else:
        bundled = bundled_catalogue().get((instrument_id, version))
        if bundled is None:
            raise RecordNotFoundError("instrument", f"{instrument_id} version {version}")
        found = bundled.instrument
    if len(_INSTRUMENTS) > 256:
        _INSTRUMENTS.clear()
    _INSTRUMENTS[key] = found
    return found


async def find_link(connection: AsyncConnection, token: str) -> Link | None:
    """The live link of ``token``: one SELECT of the link, its round and partnership."""
    if not token or len(token) > LONGEST_TOKEN:
        return None
    row = (await connection.execute(_FIND_LINK, {"token_hash": hash_link_token(token)})).first()
    if row is None or row.status == InvitationStatus.REVOKED:
        return None
    instrument = await _instrument(
        connection, row.instrument_id, row.instrument_version, row.instrument_sha256
    )
    return Link(
        id=row.id,
        round_id=row.round_id,
        kind=row.kind,
        token_hash=row.token_hash,
        status=row.status,
        from_open_link=bool(row.from_open_link),
        resume_code_hash=row.resume_code_hash,
        round=LinkRound(
            title=row.title,
            instrument_id=row.instrument_id,
            instrument_version=row.instrument_version,
            opens_on=row.opens_on,
            closes_on=row.closes_on,
            closed_on=row.closed_on,
            status=row.round_status,
        ),
        known=instrument.link_background(
            row.partnership_name, row.partnership_kind, row.organisation_kind
        ),
        instrument=instrument,
    )


def _prefilled(link: Link, instrument: Instrument) -> dict[str, str]:
    return check_answers(instrument, {}, link.known).background


async def require_resume_code(
    database: AsyncDatabase, connection: AsyncConnection, link: Link, resume: ResumeCode
) -> None:
    """As :func:`app.services.invitations.require_resume_code`, on ``connection``."""
    if not link.started:
        return
    code = resume.code
    if code is None or not normalised_resume_code(code):
        raise ResumeCodeError(given=False)
    fits = link.resume_code_hash is not None and _same(
        resume_code_hash(link.token_hash, code), link.resume_code_hash
    )
    limiter = resume.limiter
    if limiter is not None:
        check = [(limiter.policy.resume_code_per_link, str(link.id))]
        refusal = await limiter.refusal_on(connection, check)
        if refusal is not None:
            raise TooManyResumeCodesError(refusal.retry_after)
        if not fits:
            await limiter.count_failure_on(database, connection, check)
            raise ResumeCodeError(given=True)
    elif not fits:
        raise ResumeCodeError(given=True)


def _same(one: str, other: str) -> bool:
    return hmac.compare_digest(one, other)


@dataclass(frozen=True)
class Saved:
    """A personal link's saved answers, as the API shows them to the code's holder."""

    link_status: str
    answers: dict[str, int]
    background: dict[str, str]
    next_section: str | None
    missing: list[str]


def _saved(link_status: str, instrument: Instrument, row: Any) -> Saved:
    answers, background = dict(row.answers), dict(row.background)
    missing = sorted(unanswered_required(instrument, answers, background))
    return Saved(link_status, answers, background, row.next_section, missing)


async def saved_answers(
    database: AsyncDatabase, connection: AsyncConnection, link: Link, resume: ResumeCode
) -> Saved:
    """The answers saved with a personal link (a started one's need its resume code)."""
    await require_resume_code(database, connection, link, resume)
    if link.status == InvitationStatus.SUBMITTED:  # nothing is kept with the link
        return Saved(link.status, {}, {}, None, [])
    instrument = link.instrument
    row = (await connection.execute(_DRAFT, {"link_id": link.id})).first()
    if row is None:
        background = _prefilled(link, instrument)
        missing = sorted(unanswered_required(instrument, {}, background))
        return Saved(link.status, {}, background, instrument.sections[0].id, missing)
    return _saved(link.status, instrument, row)


def _patch(checked: CheckedAnswers) -> tuple[str, str]:
    """JSON merge patches (null removes) for the stored answers and background."""
    cleared = dict.fromkeys(checked.cleared)
    return json.dumps({**checked.answers, **cleared}), json.dumps({**checked.background, **cleared})


def _merged(
    answers: Mapping[str, int], background: Mapping[str, str], checked: CheckedAnswers
) -> tuple[dict[str, int], dict[str, str]]:
    merged_answers = {**answers, **checked.answers}
    merged_background = {**background, **checked.background}
    for field_id in checked.cleared:
        merged_answers.pop(field_id, None)
        merged_background.pop(field_id, None)
    return merged_answers, merged_background


@lru_cache(maxsize=4)
def _merge_statements(dialect: str) -> tuple[sa.Update, sa.Update]:
    """(merge into the draft, merge into the draft and submit it), both ``RETURNING`` the
    merged answers: one statement, no read-modify-write."""

    def merge(column: sa.Column[Any], name: str) -> sa.ColumnElement[Any]:
        patch = sa.bindparam(name, type_=sa.String)
        if dialect == "postgresql":
            # Stored answers never hold null: stripping nulls removes what the patch cleared.
            return sa.func.jsonb_strip_nulls(column.op("||")(sa.cast(patch, postgresql.JSONB)))
        return sa.func.json_patch(column, patch)

    draft = _RESPONSES.c.invitation_id == sa.bindparam("link_id")
    is_draft = _RESPONSES.c.status == ResponseStatus.DRAFT
    returning = (
        _RESPONSES.c.answers,
        _RESPONSES.c.background,
        _RESPONSES.c.next_section,
        _RESPONSES.c.instrument_version,
        _RESPONSES.c.submitted_at,
    )
    save = (
        sa.update(_RESPONSES)
        .where(draft, is_draft)
        .values(
            answers=merge(_RESPONSES.c.answers, "answers_patch"),
            background=merge(_RESPONSES.c.background, "background_patch"),
            updated_at=sa.bindparam("hour"),
        )
        .returning(*returning)
    )
    submit = (
        sa.update(_RESPONSES)
        .where(draft, is_draft)
        .values(
            answers=merge(_RESPONSES.c.answers, "answers_patch"),
            background=merge(_RESPONSES.c.background, "background_patch"),
            updated_at=sa.bindparam("hour"),
            submitted_at=sa.bindparam("hour"),
            status=ResponseStatus.SUBMITTED,
            invitation_id=None,
            next_section=None,
            from_open_link=sa.or_(_RESPONSES.c.from_open_link, sa.bindparam("from_open_link")),
        )
        .returning(*returning)
    )
    return save, submit


def _answerable(link: Link) -> Instrument:
    """A personal link's instrument, if its round is open (checked first, so that a closed
    round's links all answer alike)."""
    if link.kind != InvitationKind.PERSONAL:
        raise RecordNotFoundError("personal link", "")
    require_open(link.round)
    return link.instrument


def _checked(
    instrument: Instrument, answers: Mapping[str, object], background: Mapping[str, object]
) -> CheckedAnswers:
    checked = check_answers(instrument, answers, background)
    if checked.problems:
        raise FieldValidationError(
            _located(instrument, checked.problems, checked.background_problems)
        )
    return checked


@dataclass(frozen=True)
class DraftSaved:
    saved: Saved
    resume_code: str | None


async def save_draft(
    database: AsyncDatabase,
    connection: AsyncConnection,
    link: Link,
    answers: Mapping[str, object],
    background: Mapping[str, object],
    resume: ResumeCode,
) -> DraftSaved:
    """:func:`app.services.responses.save_draft` on the async path (commits)."""
    instrument = _answerable(link)
    await require_resume_code(database, connection, link, resume)
    if link.status == InvitationStatus.SUBMITTED:
        raise LinkAlreadyUsedError()
    checked = _checked(instrument, answers, background)
    save, _ = _merge_statements(connection.dialect.name)
    answers_patch, background_patch = _patch(checked)
    hour = stored_hour()
    async with database.writing():
        try:
            new_code = None
            if not link.started:
                code = code_to_start_with(resume.code)
                started = await connection.execute(
                    _START,
                    {"link_id": link.id, "code_hash": resume_code_hash(link.token_hash, code)},
                )
                if started.rowcount == 1:
                    new_code = code
                else:  # another request started (or used) the link: this one needs the code
                    await connection.rollback()
                    now = await _reread(connection, link)
                    await require_resume_code(database, connection, now, resume)
                    if now.status == InvitationStatus.SUBMITTED:
                        raise LinkAlreadyUsedError()
            row = None
            if new_code is None:
                row = (
                    await connection.execute(
                        save,
                        {
                            "link_id": link.id,
                            "answers_patch": answers_patch,
                            "background_patch": background_patch,
                            "hour": hour,
                        },
                    )
                ).first()
            if row is None:
                row = await _insert_draft(connection, link, instrument, checked, hour)
            await connection.commit()
        finally:
            await connection.rollback()
    return DraftSaved(_saved(InvitationStatus.STARTED, instrument, row), new_code)


async def _insert_draft(
    connection: AsyncConnection,
    link: Link,
    instrument: Instrument,
    checked: CheckedAnswers,
    hour: datetime,
) -> Any:
    """A link's first draft, with what the link tells, unless another request just made it."""
    answers, background = _merged({}, _prefilled(link, instrument), checked)
    dialect_insert = (
        postgresql.insert if connection.dialect.name == "postgresql" else _sqlite_insert
    )
    row = (
        await connection.execute(
            dialect_insert(_RESPONSES)
            .on_conflict_do_nothing(index_elements=["invitation_id"])
            .returning(_RESPONSES.c.answers, _RESPONSES.c.background, _RESPONSES.c.next_section),
            {
                "round_id": link.round_id,
                "invitation_id": link.id,
                "status": ResponseStatus.DRAFT,
                "instrument_version": instrument.version,
                "answers": answers,
                "background": background,
                "next_section": instrument.sections[0].id,
                "from_open_link": link.from_open_link,
                "started_at": hour,
                "updated_at": hour,
            },
        )
    ).first()
    if row is None:  # the draft was made by another request, and submitted since
        raise LinkAlreadyUsedError()
    return row


def _sqlite_insert(table: sa.Table) -> Any:
    return sqlite.insert(table)


async def _reread(connection: AsyncConnection, link: Link) -> Link:
    row = (
        await connection.execute(
            sa.select(_LINKS.c.status, _LINKS.c.resume_code_hash).where(_LINKS.c.id == link.id)
        )
    ).first()
    if row is None:
        raise RecordNotFoundError("link", "")
    return Link(
        id=link.id,
        round_id=link.round_id,
        kind=link.kind,
        token_hash=link.token_hash,
        status=row.status,
        from_open_link=link.from_open_link,
        resume_code_hash=row.resume_code_hash,
        round=link.round,
        known=link.known,
        instrument=link.instrument,
    )


@dataclass(frozen=True)
class Submitted:
    status: str
    instrument_version: str
    submitted_at: datetime | None


async def submit_response(
    database: AsyncDatabase,
    connection: AsyncConnection,
    link: Link,
    answers: Mapping[str, object],
    background: Mapping[str, object],
    resume: ResumeCode,
) -> Submitted:
    """:func:`app.services.responses.submit_response` on the async path (commits).

    A personal link is claimed first of all the writes (a conditional UPDATE: of two
    submissions at once exactly one claims it; the other is told the link was used); the
    answers are merged into its draft in the same transaction, or a new response is
    inserted.  Missing required answers roll everything back, the claim with it.
    """
    require_open(link.round)
    personal = link.kind == InvitationKind.PERSONAL
    if personal:
        await require_resume_code(database, connection, link, resume)
        if link.status == InvitationStatus.SUBMITTED:
            raise LinkAlreadyUsedError()
    instrument = link.instrument
    checked = _checked(instrument, answers, background)
    hour = stored_hour()
    async with database.writing():
        try:
            if personal:
                row = await _claim_and_merge(database, connection, link, checked, hour, resume)
                if row is not None:
                    merged_answers, merged_background = dict(row.answers), dict(row.background)
                else:
                    merged_answers, merged_background = _merged(
                        {}, _prefilled(link, instrument), checked
                    )
            else:
                row = None
                merged_answers, merged_background = _merged({}, {}, checked)
            missing = unanswered_required(instrument, merged_answers, merged_background)
            if missing:
                raise FieldValidationError(_located(instrument, missing))
            if row is None:
                await connection.execute(
                    _INSERT,
                    {
                        "round_id": link.round_id,
                        "invitation_id": None,
                        "status": ResponseStatus.SUBMITTED,
                        "instrument_version": instrument.version,
                        "answers": merged_answers,
                        "background": merged_background,
                        "next_section": None,
                        "from_open_link": link.from_open_link or not personal,
                        "started_at": hour,
                        "updated_at": hour,
                        "submitted_at": hour,
                    },
                )
            await connection.commit()
        finally:
            await connection.rollback()
    return Submitted(ResponseStatus.SUBMITTED, instrument.version, hour)


async def _claim_and_merge(
    database: AsyncDatabase,
    connection: AsyncConnection,
    link: Link,
    checked: CheckedAnswers,
    hour: datetime,
    resume: ResumeCode,
) -> Any:
    """Claim the personal link, then merge into and submit its draft; the merged row, or
    ``None`` when the link has no draft (the caller inserts the response).

    The claim holds only for the state the caller checked: a started link (its code was
    given), or an unused one.  An API client's own code, sent with the submission of an
    unused link, becomes the link's code, so that the client can retry the submission.
    """
    parameters: dict[str, object] = {"link_id": link.id}
    if link.started:
        claim = _CLAIM_STARTED
    elif resume.code is not None:
        if not is_resume_code(resume.code):
            raise FieldValidationError(
                {"X-Resume-Code": "must have the form of a resume code, or be left out"},
                location=("header",),
            )
        claim = _CLAIM_UNUSED_WITH_CODE
        parameters["code_hash"] = resume_code_hash(link.token_hash, resume.code)
    else:
        claim = _CLAIM_UNUSED
    claimed = await connection.execute(claim, parameters)
    if claimed.rowcount != 1:
        await connection.rollback()
        now = await _reread(connection, link)
        await require_resume_code(database, connection, now, ResumeCode(resume.code))
        raise LinkAlreadyUsedError()
    if not link.started:  # an unused link has no draft
        return None
    _, submit = _merge_statements(connection.dialect.name)
    answers_patch, background_patch = _patch(checked)
    return (
        await connection.execute(
            submit,
            {
                "link_id": link.id,
                "answers_patch": answers_patch,
                "background_patch": background_patch,
                "hour": hour,
                "from_open_link": link.from_open_link,
            },
        )
    ).first()
