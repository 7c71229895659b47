"""A pilot's published figures as validated data: the targets the demo data set reproduces.

A pilot file (``instruments/pilots/<instrument id>.yaml``) says what a published report tells
about the respondents of a survey run with one instrument: how many there were, how they
spread over the kinds of partnership (and which partnerships), the counts of other choice
background answers, exact frequency tables of some items, the reliability and the mean,
median and mode of multi-item scales, and where answers are missing.  :mod:`analysis.demo`
builds answers that reproduce them; which items, questions and figures they are lives here,
beside the instrument, not in code.

:func:`load_pilot` validates a file against the schema below and against its instrument, and
raises :class:`PilotError`, one line naming the file and the field, for anything malformed.
Pure: YAML and pydantic, no web framework, no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from analysis.frequencies import spss_round
from analysis.instrument import (
    Identifier,
    Instrument,
    InstrumentError,
    Slug,
    Text,
    _field_path,
    instruments_dir,
    load_instrument,
)
from analysis.yaml_text import YamlError, load_yaml

SCORE_STEPS = 12
"""Composite scores are handled as multiples of 1/12: exact for the mean of 1 to 4 answers."""

MAX_TARGET_ITEMS = 4
"""The most items a scale target may have (so that every composite is a multiple of 1/12)."""


class PilotError(ValueError):
    """A pilot file is missing, unreadable, malformed or does not fit its instrument."""


def _number(value: object) -> object:
    """A number, or the text of a fraction such as ``10/3`` (the exact value behind 3.3)."""
    if isinstance(value, str) and "/" in value:
        numerator, _, denominator = value.partition("/")
        try:
            fraction = Fraction(int(numerator), int(denominator))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{value!r} is not a number or a fraction such as 10/3") from None
        return fraction.numerator / fraction.denominator
    return value


Exact = Annotated[float, BeforeValidator(_number)]
Counts = dict[int, Annotated[int, Field(ge=1)]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartnershipGroup(_Strict):
    """The respondents from one kind of partnership (an option of the instrument's
    ``partnership_attribute``): how many, from which partnerships, and the organisation
    kinds (options of ``organisation_attribute``) each respondent's is drawn from."""

    kind: Slug
    responses: int = Field(ge=1)
    names: dict[Text, Annotated[int, Field(ge=1)]] = Field(min_length=1)
    organisation_kinds: list[Slug] = Field(min_length=1)


class ScaleTarget(_Strict):
    """A published row for one multi-item scale, in the items' raw direction.

    ``alpha`` (listwise Cronbach's alpha) and ``mean`` as printed; ``median`` and ``mode``
    (the smallest mode) as the exact values behind the printed figures (``10/3`` for 3.3).
    """

    scale: Identifier
    alpha: float = Field(gt=-1, le=1)
    mean: float
    median: Exact
    mode: Exact


class WeakItem(_Strict):
    """An item in no target that follows a scale's composite only weakly: its answers are
    ``mean + loading * (composite - its mean) + normal(0, noise)``, rounded to the answer
    scale, with ``missing`` answers left blank."""

    item: Identifier
    anchor: Identifier
    mean: float
    loading: float
    noise: float = Field(gt=0)
    missing: int = Field(default=0, ge=0)


class DemoPartnership(_Strict):
    """The app's demo partnership: its kind, its member organisations by kind, and the
    organisation whose respondent link the app prints."""

    kind: Slug
    organisations: dict[Slug, Text] = Field(min_length=1)
    link_organisation: Slug


class PilotSpec(_Strict):
    """A pilot file as written: the figures, keyed by the instrument's own ids."""

    instrument: Slug
    respondents: int = Field(ge=2)
    seed: int = Field(ge=0)
    partnerships: list[PartnershipGroup] = Field(min_length=1)
    background_counts: dict[Identifier, dict[Slug, Annotated[int, Field(ge=1)]]] = Field(
        default_factory=dict
    )
    frequencies: dict[Identifier, Counts] = Field(default_factory=dict)
    scale_targets: list[ScaleTarget] = Field(default_factory=list)
    missing: dict[Identifier, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    weak_items: list[WeakItem] = Field(default_factory=list)
    demo_partnership: DemoPartnership


@dataclass(frozen=True)
class Pilot:
    """A validated pilot file with the instrument it belongs to."""

    spec: PilotSpec
    instrument: Instrument
    source: str

    @property
    def background_columns(self) -> list[str]:
        """The background questions the demo fills, in the instrument's order."""
        instrument = self.instrument
        filled = {
            instrument.partnership_name_question,
            instrument.partnership_attribute,
            instrument.organisation_attribute,
            *self.spec.background_counts,
        }
        return [q for q in instrument.background_ids if q in filled]

    @property
    def partnership_counts(self) -> dict[str, int]:
        """Respondents by kind of partnership."""
        return {group.kind: group.responses for group in self.spec.partnerships}

    def target_items(self, target: ScaleTarget) -> list[str]:
        """A target's items, in the order the instrument lists them in the scale."""
        return list(self.instrument.scale(target.scale).items)


def _check_partnerships(spec: PilotSpec, instrument: Instrument) -> None:
    for name in ("partnership_name_question", "partnership_attribute", "organisation_attribute"):
        if getattr(instrument, name) is None:
            raise ValueError(f"partnerships: instrument {instrument.id} names no {name}")
    assert instrument.partnership_attribute is not None
    assert instrument.organisation_attribute is not None
    kinds = instrument.choices(instrument.partnership_attribute)
    organisation_kinds = instrument.choices(instrument.organisation_attribute)
    seen_kinds: set[str] = set()
    seen_names: set[str] = set()
    for index, group in enumerate(spec.partnerships):
        where = f"partnerships[{index}]({group.kind})"
        if group.kind not in kinds:
            raise ValueError(f"{where}.kind: not an option of {instrument.partnership_attribute}")
        if group.kind in seen_kinds:
            raise ValueError(f"{where}.kind: listed more than once")
        seen_kinds.add(group.kind)
        if sum(group.names.values()) != group.responses:
            raise ValueError(
                f"{where}.names: the partnerships' respondents add up to "
                f"{sum(group.names.values())}, not responses ({group.responses})"
            )
        for name in group.names:
            if name in seen_names:
                raise ValueError(f"{where}.names: {name!r} is listed in another group too")
            seen_names.add(name)
        unknown = [k for k in group.organisation_kinds if k not in organisation_kinds]
        if unknown:
            raise ValueError(
                f"{where}.organisation_kinds: not options of {instrument.organisation_attribute}:"
                f" {', '.join(unknown)}"
            )
    demo = spec.demo_partnership
    if demo.kind not in kinds:
        raise ValueError(
            f"demo_partnership.kind: not an option of {instrument.partnership_attribute}"
        )
    unknown = [k for k in demo.organisations if k not in organisation_kinds]
    if unknown:
        raise ValueError(
            f"demo_partnership.organisations: not options of {instrument.organisation_attribute}:"
            f" {', '.join(unknown)}"
        )
    if demo.link_organisation not in demo.organisations:
        raise ValueError("demo_partnership.link_organisation: not one of its organisations")
    total = sum(group.responses for group in spec.partnerships)
    if total != spec.respondents:
        raise ValueError(
            f"partnerships: the responses add up to {total}, not respondents ({spec.respondents})"
        )


def _check_background(spec: PilotSpec, instrument: Instrument) -> None:
    attributes = {instrument.partnership_attribute, instrument.organisation_attribute}
    for question_id, counts in spec.background_counts.items():
        where = f"background_counts.{question_id}"
        if not instrument.has_background(question_id):
            raise ValueError(f"{where}: not a background question of {instrument.id}")
        if question_id in attributes:
            raise ValueError(f"{where}: comes from partnerships, not from counts")
        options = instrument.choices(question_id)
        if not options:
            raise ValueError(f"{where}: not a choice question")
        unknown = [str(value) for value in counts if value not in options]
        if unknown:
            raise ValueError(f"{where}: not options of the question: {', '.join(unknown)}")
        if sum(counts.values()) != spec.respondents:
            raise ValueError(
                f"{where}: the counts add up to {sum(counts.values())}, "
                f"not respondents ({spec.respondents})"
            )


def _check_items(spec: PilotSpec, instrument: Instrument) -> None:
    known = set(instrument.item_ids)
    generated: dict[str, str] = {}

    def claim(item: str, where: str) -> None:
        if item not in known:
            raise ValueError(f"{where}: {item} is not an item of {instrument.id}")
        if item in generated:
            raise ValueError(f"{where}: {item} is already given by {generated[item]}")
        generated[item] = where

    for index, target in enumerate(spec.scale_targets):
        where = f"scale_targets[{index}]({target.scale})"
        try:
            scale = instrument.scale(target.scale)
        except KeyError:
            raise ValueError(f"{where}.scale: not a scale of {instrument.id}") from None
        if not 2 <= len(scale.items) <= MAX_TARGET_ITEMS:
            raise ValueError(
                f"{where}.scale: a target needs a scale of 2 to {MAX_TARGET_ITEMS} items "
                f"(give a single item's answers under frequencies)"
            )
        for item in scale.items:
            claim(item, where)
        answers = instrument.response_scale_of_scale(target.scale)
        for figure in ("mean", "median", "mode"):
            value = getattr(target, figure)
            if not answers.min <= value <= answers.max:
                raise ValueError(
                    f"{where}.{figure}: {value} is outside {answers.min}-{answers.max}"
                )
        for figure in ("median", "mode"):
            steps = SCORE_STEPS * getattr(target, figure)
            if abs(steps - round(steps)) > 1e-6:
                raise ValueError(
                    f"{where}.{figure}: no composite score can be {getattr(target, figure)} "
                    "(give the exact value, such as 10/3)"
                )
        published = scale.benchmark
        if published is not None and published.direction == "raw":
            for figure, places in (("alpha", 3), ("mean", 1), ("median", 1), ("mode", 1)):
                printed = getattr(published, figure)
                if printed is not None and spss_round(getattr(target, figure), places) != (
                    spss_round(printed, places)
                ):
                    raise ValueError(
                        f"{where}.{figure}: {getattr(target, figure)} does not print as the "
                        f"benchmark's {printed}"
                    )
    in_targets = set(generated)
    for item, counts in spec.frequencies.items():
        where = f"frequencies.{item}"
        if item not in known:
            raise ValueError(f"{where}: not an item of {instrument.id}")
        if item not in in_targets:
            claim(item, where)
        answers = instrument.response_scale_of(item)
        outside = [str(value) for value in counts if value not in answers.values]
        if outside:
            raise ValueError(
                f"{where}: answers outside {answers.min}-{answers.max}: {', '.join(outside)}"
            )
        if sum(counts.values()) > spec.respondents:
            raise ValueError(
                f"{where}: the counts add up to {sum(counts.values())}, "
                f"more than respondents ({spec.respondents})"
            )
    for item, count in spec.missing.items():
        where = f"missing.{item}"
        if item not in in_targets:
            raise ValueError(f"{where}: not an item of a scale target")
        if item in spec.frequencies:
            raise ValueError(f"{where}: its frequencies already say how many answers are missing")
        if count >= spec.respondents:
            raise ValueError(f"{where}: {count} is not fewer than respondents ({spec.respondents})")
    for index, weak in enumerate(spec.weak_items):
        where = f"weak_items[{index}]({weak.item})"
        claim(weak.item, where)
        try:
            anchor_items = instrument.scale(weak.anchor).items
        except KeyError:
            raise ValueError(f"{where}.anchor: not a scale of {instrument.id}") from None
        if any(item not in in_targets | set(spec.frequencies) for item in anchor_items):
            raise ValueError(f"{where}.anchor: its items must come from targets or frequencies")
        if weak.missing >= spec.respondents:
            raise ValueError(
                f"{where}.missing: {weak.missing} is not fewer than respondents "
                f"({spec.respondents})"
            )
    left = [item for item in instrument.item_ids if item not in generated]
    if left:
        raise ValueError(f"items of {instrument.id} that nothing gives: {', '.join(left)}")


def check_pilot(spec: PilotSpec, instrument: Instrument) -> None:
    """Raise :class:`ValueError` (``field: what is wrong``) unless ``spec`` fits ``instrument``."""
    if spec.instrument != instrument.id:
        raise ValueError(f"instrument: {spec.instrument!r} is not {instrument.id!r}")
    _check_partnerships(spec, instrument)
    _check_background(spec, instrument)
    _check_items(spec, instrument)


def parse_pilot(text: str, source: str, instrument: Instrument | None = None) -> Pilot:
    """Validate YAML text as a pilot file; ``source`` names it in error messages.

    ``instrument`` is the one it must fit; by default the bundled instrument it names.
    """
    try:
        document = load_yaml(text)
    except YamlError as problem:
        where = f" at line {problem.line}" if problem.line is not None else ""
        raise PilotError(f"{source}: not valid YAML{where}: {problem.words}") from None
    if not isinstance(document, dict):
        raise PilotError(
            f"{source}: the file must be a mapping of the pilot's fields (instrument:, "
            "respondents: and the rest, each at the start of a line)"
        )
    try:
        spec = PilotSpec.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _field_path(tuple(first["loc"]), document)
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        where = f"{where}: " if where else ""
        raise PilotError(f"{source}: {where}{message}{more}") from None
    if instrument is None:
        try:
            instrument = load_instrument(spec.instrument)
        except InstrumentError as exc:
            raise PilotError(f"{source}: instrument: {exc}") from None
    try:
        check_pilot(spec, instrument)
    except (ValueError, KeyError) as exc:
        raise PilotError(f"{source}: {exc.args[0] if exc.args else exc}") from None
    return Pilot(spec, instrument, source)


def pilots_dir() -> Path:
    """The folder of bundled pilot files (``instruments/pilots/``)."""
    return instruments_dir() / "pilots"


def default_pilot_name() -> str:
    """The pilot of the default instrument (``instruments/default.txt``)."""
    import instruments

    return instruments.default_instrument()


def load_pilot(name_or_path: str | Path | None = None) -> Pilot:
    """Load and validate a pilot file by bundled name (its instrument's id) or path.

    With no argument, the pilot of the default instrument.
    """
    if name_or_path is None:
        name_or_path = default_pilot_name()
    candidate = Path(name_or_path)
    if candidate.suffix not in {".yaml", ".yml"}:
        candidate = pilots_dir() / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in pilots_dir().glob("*.yaml"))) or "none"
        raise PilotError(f"{name_or_path}: no such pilot file (bundled: {known})")
    try:
        text = candidate.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PilotError(f"{candidate}: cannot be read: {exc}") from None
    pilot = parse_pilot(text, str(candidate))
    if candidate.resolve().parent == pilots_dir().resolve() and candidate.stem != (
        pilot.spec.instrument
    ):
        raise PilotError(
            f"{candidate}: instrument: {pilot.spec.instrument!r} must match the file name "
            f"{candidate.stem!r}"
        )
    return pilot


def multiset(counts: dict[int, int], respondents: int) -> list[float]:
    """The answers behind a frequency table, smallest first, NaN for the rest of the
    respondents."""
    values = [float(value) for value in sorted(counts) for _ in range(counts[value])]
    return values + [math.nan] * (respondents - len(values))
