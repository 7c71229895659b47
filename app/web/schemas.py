"""Request and response bodies of the JSON API."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints

from app.services.errors import FieldValidationError

if TYPE_CHECKING:
    from app.services.rounds import OrganisationProgress

LARGEST_ID = 2_147_483_647
RecordId = Annotated[int, Path(ge=1, le=LARGEST_ID)]
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$"
    ),
]
Choice = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def optional_record_id(text: str, field: str) -> int | None:
    """A record id from a form's select: blank is ``None``; anything else must be an id."""
    if not text.strip():
        return None
    if not text.strip().isdigit() or not 1 <= int(text) <= LARGEST_ID:
        raise FieldValidationError({field: "must be one of the listed choices"})
    return int(text)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartnershipIn(_Body):
    name: Name
    care_model: Choice


class PartnershipOut(BaseModel):
    id: int
    name: str
    care_model: str


class OrganisationIn(_Body):
    name: Name
    organisation_type: Choice


class OrganisationOut(BaseModel):
    id: int
    partnership_id: int
    name: str
    organisation_type: str


class RoundIn(_Body):
    title: Name
    opens_on: date
    closes_on: date
    anonymity_threshold: int | None = Field(default=None, ge=3, le=1000)


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


class LinksIn(_Body):
    count: int = Field(ge=1, le=100_000)
    organisation_id: int | None = Field(default=None, ge=1, le=LARGEST_ID)


class LinksOut(BaseModel):
    links: list[str] = Field(description="Personal single-use links; shown only this once")


class OpenLinkOut(BaseModel):
    link: str = Field(description="The round's open link; earlier open links stop working")


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
