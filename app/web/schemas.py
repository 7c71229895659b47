"""Request and response bodies of the JSON API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
)

from app.services.answers import control_character_problem
from app.services.errors import FieldValidationError
from app.services.participants import MOST_PARTICIPANTS_AT_ONCE

if TYPE_CHECKING:
    from app.services.rounds import OrganisationProgress

LARGEST_ID = 2_147_483_647
ID_PATTERN = re.compile(r"[1-9][0-9]{0,9}")
ID_MESSAGE = "must be a record id: digits only, no sign, spaces or leading zero"


def canonical_id(text: str) -> int | None:
    """The id ``text`` names if it is written the one canonical way (``[1-9][0-9]*``, at most
    2147483647), else ``None``.

    Python's ``int()`` and pydantic's lax integers also read ``+2``, ``2.0``, `` 2``, ``0_2``,
    ``02`` and other digits than ASCII; an id accepted that way could name one record to one
    check and another to the next, so only the canonical spelling is an id.
    """
    if not ID_PATTERN.fullmatch(text):
        return None
    value = int(text)
    return value if value <= LARGEST_ID else None


def _query_id(value: object) -> object:
    """An id in a query string: canonical digits, nothing else."""
    parsed = canonical_id(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(ID_MESSAGE)
    return parsed


RecordId = Annotated[StrictInt, Field(ge=1, le=LARGEST_ID)]
"""A record id in a JSON body: a JSON integer (not a string, a float or a boolean), else a
422 naming the field.  Ids in a path go through the scoped dependencies of
:mod:`app.web.deps` (404 when malformed)."""
QueryRecordId = Annotated[int, BeforeValidator(_query_id), Field(ge=1, le=LARGEST_ID)]
"""A record id in a query string: canonical digits only, else a 422 naming the parameter."""


def _one_line(value: object) -> object:
    """Refuse text with control characters or lone surrogates (422 naming the field)."""
    if isinstance(value, str) and (problem := control_character_problem(value)) is not None:
        raise ValueError(problem)
    return value


OneLine = BeforeValidator(_one_line)
Name = Annotated[
    str, OneLine, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Choice = Annotated[str, OneLine, StringConstraints(min_length=1, max_length=64)]


def record_id(text: str, field: str) -> int:
    """A record id from a form field or a query value: canonical digits, else a 422 naming
    ``field``."""
    parsed = canonical_id(text)
    if parsed is None:
        raise FieldValidationError({field: "must be one of the listed choices"})
    return parsed


def optional_record_id(text: str, field: str) -> int | None:
    """A record id from a form's select: blank is ``None``; anything else must be an id."""
    return record_id(text, field) if text else None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartnershipIn(_Body):
    name: Name
    kind: Annotated[
        Choice, Field(description="An option of the instruments' partnership_attribute question.")
    ]


class PartnershipOut(BaseModel):
    id: int
    name: str
    kind: str


class OrganisationIn(_Body):
    name: Name
    kind: Annotated[
        Choice, Field(description="An option of the instruments' organisation_attribute question.")
    ]


class OrganisationOut(BaseModel):
    id: int
    partnership_id: int
    name: str
    kind: str


class RoundIn(_Body):
    title: Name
    opens_on: date
    closes_on: date
    instrument_id: Choice | None = Field(
        default=None,
        description="The instrument the round uses (GET /api/v1/instruments lists them); "
        "default: the server's INSTRUMENT setting",
    )
    instrument_version: Choice | None = Field(
        default=None, description="A version of that instrument; default: its newest"
    )
    anonymity_threshold: int | None = Field(default=None, ge=3, le=1000)
    release_policy: Literal["at-close", "interim"] = Field(
        default="at-close",
        description="at-close: results appear when the round closes; interim: in releases "
        "that each add at least the anonymity threshold of responses",
    )


class RoundOut(BaseModel):
    id: int
    partnership_id: int
    title: str
    instrument_id: str
    instrument_version: str
    opens_on: date
    closes_on: date
    status: str
    state: str = Field(description="open, not-yet-open or closed, from the status and dates")
    anonymity_threshold: int
    release_policy: str


class InstrumentOut(BaseModel):
    """One instrument version a new round may use."""

    instrument_id: str
    version: str
    title: str
    source: str = Field(description="bundled (shipped with the tool) or added (by an admin)")
    newest: bool


class ClosingDateIn(_Body):
    closes_on: date = Field(description="The new closing date: today or later (in TIME_ZONE)")


class TitleIn(_Body):
    title: Name


class NameIn(_Body):
    name: Name


class ConfirmNameIn(_Body):
    """A deletion's confirmation: the name (a round's title) typed out, as a person would."""

    confirm_name: Annotated[str, OneLine, StringConstraints(max_length=400)] = Field(
        description="The partnership's name or the round's title exactly as shown "
        "(spaces and case aside)"
    )


class DeletedOut(BaseModel):
    deleted: Literal["round", "partnership", "organisation"]
    id: int


class OpenLinkIn(_Body):
    replace: StrictBool = Field(
        default=False,
        description="Must be true to replace a working open link: the one already sent out "
        "then stops working",
    )


class CurrentOpenLinkOut(BaseModel):
    link: str | None = Field(
        description="The round's working open link, or null: none made, or one that cannot be "
        "shown again (made before links could be, or with another secret key)"
    )
    has_open_link: bool = Field(description="Whether the round has an open link that works")


class LinksIn(_Body):
    count: int = Field(ge=1, le=100_000)
    organisation_id: RecordId | None = None


class LinksOut(BaseModel):
    links: list[str] = Field(description="Personal single-use links; shown only this once")


class OpenLinkOut(BaseModel):
    link: str = Field(
        description="The round's open link (shown again by GET); earlier open links stop working"
    )


class ProgressOut(BaseModel):
    """One row of a round's progress: counts, never answers.  A started or submitted count
    below the round's threshold is ``null`` (``*_hidden`` says ``below-threshold``), and so is
    one hidden so that those cannot be worked out from the totals (``complementary``)."""

    organisation_id: int | None
    organisation_name: str
    through_open_link: bool = Field(
        description="The row of people who came through the open link (not links issued)"
    )
    invited: int | None = Field(description="Personal links issued; null for the open link")
    started: int | None
    started_hidden: Literal["below-threshold", "complementary"] | None
    submitted: int | None
    submitted_hidden: Literal["below-threshold", "complementary"] | None
    completion_rate: float | None

    @classmethod
    def of(cls, row: OrganisationProgress) -> ProgressOut:
        return cls(
            organisation_id=row.organisation_id,
            organisation_name=row.organisation_name,
            through_open_link=row.through_open_link,
            invited=row.invited,
            started=row.started.value,
            started_hidden=_hidden(row.started.hidden),
            submitted=row.submitted.value,
            submitted_hidden=_hidden(row.submitted.hidden),
            completion_rate=row.completion_rate,
        )


def _hidden(reason: str | None) -> Literal["below-threshold", "complementary"] | None:
    if reason is None:
        return None
    return "complementary" if reason == "complementary" else "below-threshold"


class AnswersIn(_Body):
    """Answers by item id (whole numbers on the item's scale) and background answers."""

    answers: dict[str, StrictInt | None] = Field(default_factory=dict)
    background: dict[str, StrictStr | None] = Field(default_factory=dict)


class ScaleOut(BaseModel):
    min: int
    max: int
    labels: dict[int, str]


class QuestionOut(BaseModel):
    id: str
    text: str
    required: bool
    response_scale: ScaleOut | None = None
    options: dict[str, str] | None = None


class SectionOut(BaseModel):
    id: str
    title: str
    questions: list[QuestionOut]


class SavedOut(BaseModel):
    """A personal link's saved answers: only for the link's resume code."""

    link_status: str = Field(description="unused, started or submitted")
    answers: dict[str, int]
    background: dict[str, str]
    next_section: str | None
    missing: list[str]


class SurveyOut(BaseModel):
    """What a link shows: the round and the questionnaire, and (only with the link's resume
    code, in the ``X-Resume-Code`` header) the answers saved so far."""

    round_title: str
    opens_on: date
    closes_on: date
    state: str
    link_kind: str
    instrument_id: str
    instrument_version: str
    sections: list[SectionOut]
    saved: SavedOut | None = Field(
        default=None,
        description="The answers saved so far; only with the link's resume code "
        "(header X-Resume-Code), never to the link alone",
    )


class DraftOut(BaseModel):
    """A saved draft, and the link's resume code when this save started the link."""

    saved: SavedOut
    resume_code: str | None = Field(
        default=None,
        description="Given once, by the save that starts the link: every later read, save or "
        "submission of the draft needs it (header X-Resume-Code); it cannot be shown again",
    )


class SubmittedOut(BaseModel):
    status: str
    instrument_version: str
    submitted_at: datetime | None


# -- Participants and invitations ---------------------------------------------------------

Address = Annotated[str, OneLine, StringConstraints(strip_whitespace=True, max_length=320)]


class ParticipantIn(_Body):
    email: Address
    organisation: Annotated[str, OneLine, StringConstraints(strip_whitespace=True, max_length=200)]


class ParticipantsIn(_Body):
    """Addresses to add to a round, all or none (as the page's list)."""

    participants: Annotated[
        list[ParticipantIn], Field(min_length=1, max_length=MOST_PARTICIPANTS_AT_ONCE)
    ]


class ParticipantsAddedOut(BaseModel):
    added: int


class OrganisationParticipantsOut(BaseModel):
    """Counts of one organisation's participants: none of them says who has answered."""

    organisation_name: str
    listed: int
    invited: int
    opted_out: int
    undeliverable: int


class InvitationsQueuedOut(BaseModel):
    queued: int
