"""Instruments as validated data.

An instrument is a questionnaire stored as YAML in ``instruments/``: its
response scales with value labels, its items (with reverse-keying and the
source of each wording), the sections a respondent answers page by page, the
scales that analysis scores, the background questions that reports group by,
and a reference benchmark.  :func:`load_instrument` validates a file against
the pydantic schema below and raises :class:`InstrumentError`, whose message
names the file and the field, for anything malformed.

This module is pure: it reads YAML and builds pydantic models; it imports no
web framework and no database.
"""

from __future__ import annotations

import math
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from analysis.yaml_text import YamlError, load_yaml

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class InstrumentError(ValueError):
    """An instrument file is missing, unreadable or does not match the schema."""


class Pillar(StrEnum):
    """The four pillars of trustworthiness (Mayer et al. 1995; Dietz and Den Hartog 2006)."""

    ABILITY = "ability"
    BENEVOLENCE = "benevolence"
    INTEGRITY = "integrity"
    PREDICTABILITY = "predictability"


class TrustLevel(StrEnum):
    INTER_INDIVIDUAL = "inter-individual"
    INTER_ORGANISATIONAL = "inter-organisational"


class Role(StrEnum):
    BARRIER = "barrier"
    ENABLER = "enabler"


class Favourable(StrEnum):
    """Which end of a scale's score is the good news for the partnership."""

    HIGH = "high"
    LOW = "low"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResponseScale(_Strict):
    """An ordinal answer scale such as 1 Strongly disagree ... 5 Strongly agree."""

    min: int
    max: int
    labels: dict[int, Text]

    @model_validator(mode="after")
    def _labels_cover_range(self) -> ResponseScale:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        expected = set(range(self.min, self.max + 1))
        if set(self.labels) != expected:
            raise ValueError(
                f"labels must give exactly the values {self.min}..{self.max}, "
                f"got {sorted(self.labels)}"
            )
        return self

    @property
    def values(self) -> list[int]:
        return list(range(self.min, self.max + 1))

    def reverse(self, value: float) -> float:
        """Reverse-key one answer: ``min + max - value``."""
        return self.min + self.max - value


class ItemSource(_Strict):
    """Where an item's wording comes from."""

    kind: Literal["report", "written-for-tool", "literature"]
    reference: Text
    quote: str | None = None
    note: str | None = None


class Item(_Strict):
    id: Identifier
    text: Text
    response_scale: Identifier
    reverse_keyed: bool = False
    required: bool = True
    hint: str | None = None
    source: ItemSource


class Benchmark(_Strict):
    """A published reference figure for one scale.

    ``direction`` says which way the published numbers run: ``raw`` means the
    mean of the items as answered (agreement with the statements, before any
    reverse-keying); ``scale`` means already in the scale's scored direction.
    """

    alpha: float | None = Field(default=None, ge=-1, le=1)
    mean: float
    median: float
    mode: float
    direction: Literal["raw", "scale"]
    note: str | None = None


class Band(_Strict):
    """An interpretation band on the favourable-keyed score (e.g. 4.0-5.0 strength).

    ``response_scale`` names the answer scale the band's cut-offs belong to; a band without
    one applies to every scale (an instrument with a single response scale needs none).
    """

    id: Slug
    label: Text
    min: float
    meaning: Text
    response_scale: Identifier | None = None


class Stage(_Strict):
    """A stage of collaborative trust (the report's Recommendation 1)."""

    id: Slug
    name: Text
    summary: Text
    recommendations: list[Text] = Field(min_length=1)


class Scale(_Strict):
    id: Identifier
    name: Text
    items: list[Identifier] = Field(min_length=1)
    measures: Text
    trust_level: TrustLevel | None = None
    pillar: Pillar | None = None
    role: Role | None = None
    favourable: Favourable
    min_answered: int | None = Field(
        default=None,
        ge=1,
        description="Fewest answered items for a composite score; default half, rounded up.",
    )
    benchmark: Benchmark | None = None
    guidance: str | None = None
    stage: Slug | None = None

    @model_validator(mode="after")
    def _classified(self) -> Scale:
        if self.trust_level is None and self.pillar is None and self.role is None:
            raise ValueError("a scale needs a trust_level, a pillar or a role (barrier/enabler)")
        if self.trust_level is not None and self.role is not None:
            raise ValueError("a trust scale cannot also be a barrier or enabler")
        if len(set(self.items)) != len(self.items):
            raise ValueError("items are listed more than once")
        if self.min_answered is not None and self.min_answered > len(self.items):
            raise ValueError(
                f"min_answered ({self.min_answered}) exceeds the number of items "
                f"({len(self.items)})"
            )
        return self

    @property
    def required_answers(self) -> int:
        """Fewest answered items needed for a score: the default is half, rounded up."""
        if self.min_answered is not None:
            return self.min_answered
        return math.ceil(len(self.items) / 2)


class BackgroundOption(_Strict):
    value: Slug
    label: Text


class Asymmetry(_Strict):
    """A kind of organisational asymmetry that erodes inter-organisational trust (Li et al.
    2018: knowledge, capacity, culture and dominance), in the instrument's own words."""

    id: Slug
    name: Text
    meaning: Text


class AsymmetryMarker(_Strict):
    """Marks a background question for the report's asymmetry view.

    The report then shows, for each group of the question, the gap between the group and the
    rest of the partnership on every scale. ``kinds`` names the asymmetries (ids of the
    instrument's ``asymmetries``) that gaps along this question may reflect. With
    ``organisation_size`` the question's options run from the smallest organisation to the
    largest, and the report also sets each smaller group against the largest.
    """

    kinds: list[Slug] = Field(default_factory=list)
    organisation_size: bool = False


class BackgroundQuestion(_Strict):
    id: Identifier
    text: Text
    kind: Literal["choice", "text"]
    required: bool = False
    options: list[BackgroundOption] = Field(default_factory=list)
    hint: str | None = None
    asymmetry: AsymmetryMarker | None = None
    short_name: str | None = Field(
        default=None, description="How a report names the question: 'organisation type'."
    )

    @property
    def name(self) -> str:
        """How a report names the question: its ``short_name``, else its id in words."""
        return self.short_name or self.id.replace("_", " ")

    @model_validator(mode="after")
    def _options_match_kind(self) -> BackgroundQuestion:
        if self.kind == "choice" and len(self.options) < 2:
            raise ValueError("a choice question needs at least two options")
        if self.kind == "text" and self.options:
            raise ValueError("a text question takes no options")
        values = [o.value for o in self.options]
        if len(set(values)) != len(values):
            raise ValueError("option values are listed more than once")
        if self.asymmetry is not None and self.kind != "choice":
            raise ValueError("only a choice question can be marked for the asymmetry view")
        return self

    def label_for(self, value: str) -> str:
        for option in self.options:
            if option.value == value:
                return option.label
        return value


class Section(_Strict):
    id: Slug
    title: Text
    intro: str | None = None
    items: list[Identifier] = Field(default_factory=list)
    background: list[Identifier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Section:
        if not self.items and not self.background:
            raise ValueError("a section needs items or background questions")
        return self


class Instrument(_Strict):
    """A whole questionnaire, validated as one document."""

    id: Slug
    version: Text
    title: Text
    description: Text
    citation: Text
    estimated_minutes: int = Field(ge=1, le=120)
    response_scales: dict[Identifier, ResponseScale] = Field(min_length=1)
    items: list[Item] = Field(min_length=1)
    scales: list[Scale] = Field(default_factory=list)
    background: list[BackgroundQuestion] = Field(default_factory=list)
    sections: list[Section] = Field(min_length=1)
    bands: list[Band] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    benchmark_source: str | None = None
    benchmark_n: int | None = Field(default=None, ge=1)
    benchmark_label: str | None = Field(
        default=None,
        max_length=32,
        description="The short name of the benchmark in table headings, e.g. its year.",
    )
    breakdowns: list[Identifier] = Field(
        default_factory=list,
        description="Choice background questions that reports break results down by.",
    )
    partnership_attribute: Identifier | None = Field(
        default=None,
        description="The choice background question a partnership answers once for everyone "
        "(its kind), pre-filled from the partnership.",
    )
    partnership_name_question: Identifier | None = Field(
        default=None,
        description="The text background question pre-filled with the partnership's name.",
    )
    organisation_attribute: Identifier | None = Field(
        default=None,
        description="The choice background question each member organisation answers (its "
        "type), pre-filled from the respondent's organisation.",
    )
    asymmetries: list[Asymmetry] = Field(default_factory=list)
    look_first: str | None = Field(
        default=None,
        description="What a report's summary says to look at first (the report's guidance).",
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> Instrument:
        item_ids = [i.id for i in self.items]
        if len(set(item_ids)) != len(item_ids):
            dupes = sorted({i for i in item_ids if item_ids.count(i) > 1})
            raise ValueError(f"item ids are not unique: {', '.join(dupes)}")
        known = set(item_ids)
        for item in self.items:
            if item.response_scale not in self.response_scales:
                raise ValueError(
                    f"item {item.id}: response_scale {item.response_scale!r} is not defined"
                )
        scale_ids = [s.id for s in self.scales]
        if len(set(scale_ids)) != len(scale_ids):
            raise ValueError("scale ids are not unique")
        for scale in self.scales:
            missing = [i for i in scale.items if i not in known]
            if missing:
                raise ValueError(f"scale {scale.id}: unknown items {', '.join(missing)}")
            item_scales = {self.item(i).response_scale for i in scale.items}
            if len(item_scales) > 1:
                raise ValueError(f"scale {scale.id}: items use different response scales")
            keyed = {self.item(i).reverse_keyed for i in scale.items}
            if scale.benchmark and scale.benchmark.direction == "raw" and len(keyed) > 1:
                raise ValueError(
                    f"scale {scale.id}: a raw-direction benchmark needs all items keyed alike"
                )
        stage_ids = {stage.id for stage in self.stages}
        for scale in self.scales:
            if scale.stage is not None and scale.stage not in stage_ids:
                raise ValueError(f"scale {scale.id}: stage {scale.stage!r} is not defined")
        background_ids = {b.id for b in self.background}
        if len(background_ids) != len(self.background):
            raise ValueError("background question ids are not unique")
        asymmetry_ids = {a.id for a in self.asymmetries}
        for question in self.background:
            unknown = [k for k in (question.asymmetry.kinds if question.asymmetry else [])]
            unknown = [k for k in unknown if k not in asymmetry_ids]
            if unknown:
                raise ValueError(
                    f"background question {question.id}: unknown asymmetries {', '.join(unknown)}"
                )
        if background_ids & known:
            raise ValueError("background question ids clash with item ids")
        placed_items: list[str] = []
        placed_background: list[str] = []
        for section in self.sections:
            unknown = [i for i in section.items if i not in known]
            if unknown:
                raise ValueError(f"section {section.id}: unknown items {', '.join(unknown)}")
            unknown = [b for b in section.background if b not in background_ids]
            if unknown:
                raise ValueError(
                    f"section {section.id}: unknown background questions {', '.join(unknown)}"
                )
            placed_items += section.items
            placed_background += section.background
        if sorted(placed_items) != sorted(item_ids):
            raise ValueError("every item must appear in exactly one section")
        if sorted(placed_background) != sorted(background_ids):
            raise ValueError("every background question must appear in exactly one section")
        for response_scale in {b.response_scale for b in self.bands}:
            if response_scale is not None and response_scale not in self.response_scales:
                raise ValueError(f"bands: response_scale {response_scale!r} is not defined")
            mins = [b.min for b in self.bands if b.response_scale == response_scale]
            if mins != sorted(mins):
                raise ValueError("bands must be listed from the lowest min to the highest")
        choices = {b.id for b in self.background if b.kind == "choice"}
        for question_id in self.breakdowns:
            if question_id not in choices:
                raise ValueError(f"breakdowns: {question_id!r} is not a choice background question")
        if self.partnership_name_question is not None and (
            self.partnership_name_question not in background_ids
        ):
            raise ValueError(
                f"partnership_name_question: {self.partnership_name_question!r} is not a "
                "background question"
            )
        for name in ("partnership_attribute", "organisation_attribute"):
            question_id = getattr(self, name)
            if question_id is not None and question_id not in choices:
                raise ValueError(f"{name}: {question_id!r} is not a choice background question")
        return self

    # -- look-ups -----------------------------------------------------------------

    @cached_property
    def _items_by_id(self) -> dict[str, Item]:
        return {i.id: i for i in self.items}

    def item(self, item_id: str) -> Item:
        try:
            return self._items_by_id[item_id]
        except KeyError:
            raise KeyError(f"{self.id} has no item {item_id!r}") from None

    def scale(self, scale_id: str) -> Scale:
        for scale in self.scales:
            if scale.id == scale_id:
                return scale
        raise KeyError(f"{self.id} has no scale {scale_id!r}")

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(f"{self.id} has no stage {stage_id!r}")

    def asymmetry(self, asymmetry_id: str) -> Asymmetry:
        for asymmetry in self.asymmetries:
            if asymmetry.id == asymmetry_id:
                return asymmetry
        raise KeyError(f"{self.id} has no asymmetry {asymmetry_id!r}")

    @property
    def asymmetry_questions(self) -> list[BackgroundQuestion]:
        """The background questions marked for the asymmetry view, in their order."""
        return [q for q in self.background if q.asymmetry is not None]

    def response_scale_of(self, item_id: str) -> ResponseScale:
        """The answer scale of an item."""
        return self.response_scales[self.item(item_id).response_scale]

    def response_scale_id_of_scale(self, scale_id: str) -> str:
        """The id of the answer scale a scale's items share (the schema checks they do)."""
        return self.item(self.scale(scale_id).items[0]).response_scale

    def response_scale_of_scale(self, scale_id: str) -> ResponseScale:
        """The answer scale a scale's items share."""
        return self.response_scales[self.response_scale_id_of_scale(scale_id)]

    @cached_property
    def _background_by_id(self) -> dict[str, BackgroundQuestion]:
        return {q.id: q for q in self.background}

    def background_question(self, question_id: str) -> BackgroundQuestion:
        """A background question by id."""
        try:
            return self._background_by_id[question_id]
        except KeyError:
            raise KeyError(f"{self.id} has no background question {question_id!r}") from None

    def has_background(self, question_id: str) -> bool:
        return question_id in self._background_by_id

    @property
    def background_ids(self) -> list[str]:
        return [q.id for q in self.background]

    def question_text(self, field_id: str) -> str:
        """The wording of an item or background question (the id itself if neither)."""
        if field_id in self._background_by_id:
            return self._background_by_id[field_id].text
        if field_id in self._items_by_id:
            return self._items_by_id[field_id].text
        return field_id

    def choices(self, question_id: str) -> dict[str, str]:
        """Option values and labels of a choice background question."""
        return {o.value: o.label for o in self.background_question(question_id).options}

    def link_background(
        self,
        partnership_name: str | None,
        partnership_kind: str | None,
        organisation_kind: str | None,
    ) -> dict[str, str]:
        """The background answers a respondent's link already tells, keyed by the questions
        this instrument names for them (:attr:`partnership_name_question`,
        :attr:`partnership_attribute`, :attr:`organisation_attribute`).

        A kind is only told when it is an option of this instrument: a partnership described
        under another version may have none here, and the respondent then answers it.
        """
        known: dict[str, str] = {}
        if self.partnership_name_question is not None and partnership_name:
            known[self.partnership_name_question] = partnership_name
        attributes = (
            (self.partnership_attribute, partnership_kind),
            (self.organisation_attribute, organisation_kind),
        )
        for question_id, value in attributes:
            if question_id is not None and value is not None and value in self.choices(question_id):
                known[question_id] = value
        return known

    @property
    def benchmark_name(self) -> str:
        """How tables head the benchmark's columns: its label, else "Benchmark"."""
        return self.benchmark_label or "Benchmark"

    @property
    def has_benchmarks(self) -> bool:
        return any(s.benchmark is not None for s in self.scales)

    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    @property
    def reverse_keyed_items(self) -> list[str]:
        return [i.id for i in self.items if i.reverse_keyed]

    def band_for(self, favourable_score: float, response_scale: str | None = None) -> Band | None:
        """The interpretation band of a score already keyed so that high is favourable.

        ``response_scale`` (the id of the scale's answer scale) chooses the bands drawn for
        it; bands that name no response scale apply to any scale that has none of its own.
        """
        own = [b for b in self.bands if b.response_scale == response_scale]
        if not own:
            own = [b for b in self.bands if b.response_scale is None]
        chosen: Band | None = None
        for band in own:
            if favourable_score >= band.min:
                chosen = band
        return chosen


def _field_path(loc: tuple[int | str, ...], document: object) -> str:
    """Render a pydantic error location with item/scale ids where we can."""
    parts: list[str] = []
    node: object = document
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
            node = node[step]
            ident = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{step}]" + (f"({ident})" if ident else ""))
            continue
        parts.append(f".{step}" if parts else str(step))
        node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts)


def parse_instrument(text: str, source: str) -> Instrument:
    """Validate YAML text as an instrument; ``source`` names it in error messages."""
    try:
        document = load_yaml(text)
    except YamlError as problem:
        where = f" at line {problem.line}" if problem.line is not None else ""
        raise InstrumentError(f"{source}: not valid YAML{where}: {problem.words}") from None
    if not isinstance(document, dict):
        holds = _TOP_LEVEL.get(type(document), "a single value")
        raise InstrumentError(
            f"{source}: the file must be a mapping of the instrument's fields (id:, version:, "
            f"title: and the rest, each at the start of a line), but it holds {holds}"
        )
    try:
        return Instrument.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _field_path(tuple(first["loc"]), document)
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        where = f"{where}: " if where else ""  # a rule of the whole file names its own fields
        raise InstrumentError(f"{source}: {where}{message}{more}") from None
    except RecursionError:
        raise InstrumentError(f"{source}: the file nests lists or mappings too deeply") from None


_TOP_LEVEL: dict[type, str] = {list: "a list", type(None): "nothing (it is empty)"}


def instruments_dir() -> Path:
    """The folder of bundled instrument files (``instruments/`` at the top level)."""
    import instruments

    return Path(instruments.__file__).parent


def load_instrument(name_or_path: str | Path) -> Instrument:
    """Load and validate an instrument by bundled name or path.

    A bundled name is a file name in ``instruments/`` without ``.yaml``: the instrument's id
    (``trustworthy-collaboration``) or its id and version (``trustworthy-collaboration@2026.1``)
    for another version kept beside it.
    """
    candidate = Path(name_or_path)
    if candidate.suffix not in {".yaml", ".yml"}:
        candidate = instruments_dir() / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = ", ".join(bundled_instruments())
        raise InstrumentError(f"{name_or_path}: no such instrument (bundled: {known})")
    try:
        text = candidate.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InstrumentError(f"{candidate}: cannot be read: {exc}") from None
    instrument = parse_instrument(text, str(candidate))
    if candidate.resolve().parent == instruments_dir().resolve():
        stem = candidate.stem
        if stem not in (instrument.id, f"{instrument.id}@{instrument.version}"):
            raise InstrumentError(
                f"{candidate}: id: {instrument.id!r} (version {instrument.version!r}) must match "
                f"the file name {stem!r} (id, or id@version)"
            )
    return instrument


def bundled_instruments() -> list[str]:
    """Names of every instrument file shipped in ``instruments/`` (``id`` or ``id@version``)."""
    return sorted(p.stem for p in instruments_dir().glob("*.yaml"))


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """A version's sort key: ``2017.1 < 2026.1 < 2026.10``; numbers by value, words by text."""
    parts: list[tuple[int, int | str]] = []
    for part in version.replace("-", ".").split("."):
        parts.append((0, int(part)) if part.isdigit() else (1, part))
    return tuple(parts)
