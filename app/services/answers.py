"""Checking answers against an instrument (pure functions; no database)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from analysis.instrument import Instrument, Section

MAX_TEXT_ANSWER = 200
UNANSWERED = "answer this question"
# C0 and C1 control characters, DEL, and lone surrogates (which no UTF-8 text can hold, and
# which PostgreSQL refuses, like NUL); multi-line text may keep tabs and line breaks.
_NOT_IN_A_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
CONTROL_CHARACTERS = "must not contain control characters (such as NUL, tabs or line breaks)"
CONTROL_CHARACTERS_MULTILINE = "must not contain control characters (such as NUL)"


def control_character_problem(text: str, *, multiline: bool = False) -> str | None:
    """The problem with ``text`` if it holds a control character or a lone surrogate, else None.

    Single-line text (names, titles, e-mail addresses, one-line answers) may hold no control
    character at all; ``multiline`` text may hold tabs and line breaks.
    """
    pattern = _NOT_IN_TEXT if multiline else _NOT_IN_A_LINE
    if pattern.search(text) is None:
        return None
    return CONTROL_CHARACTERS_MULTILINE if multiline else CONTROL_CHARACTERS


def printable(text: str) -> str:
    """``text`` with control characters and lone surrogates escaped (``\\x00``, ``\\ud800``),
    to name an unknown field in a message without passing on what it holds."""
    if control_character_problem(text) is None:
        return text
    return "".join(
        character.encode("unicode_escape").decode("ascii")
        if control_character_problem(character)
        else character
        for character in text
    )


@dataclass
class CheckedAnswers:
    """Answers that fit the instrument, and a message for each that does not."""

    answers: dict[str, int] = field(default_factory=dict)
    background: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    cleared: set[str] = field(default_factory=set)
    background_problems: set[str] = field(default_factory=set)


def check_answers(
    instrument: Instrument,
    answers: Mapping[str, object],
    background: Mapping[str, object],
) -> CheckedAnswers:
    """Check item answers (whole numbers on the item's scale) and background answers.

    ``None`` means "not answered" and clears an earlier answer.
    """
    checked = CheckedAnswers()
    item_ids = set(instrument.item_ids)
    for item_id, value in answers.items():
        if item_id not in item_ids:
            unknown = f"unknown item for {instrument.id} {instrument.version}"
            checked.problems[printable(item_id)] = unknown
            continue
        if value is None:
            checked.cleared.add(item_id)
            continue
        scale = instrument.response_scale_of(item_id)
        if isinstance(value, bool) or not isinstance(value, int):
            checked.problems[item_id] = (
                f"must be a whole number from {scale.min} to {scale.max}, not {value!r}"
            )
        elif not scale.min <= value <= scale.max:
            checked.problems[item_id] = f"must be from {scale.min} to {scale.max}, not {value}"
        else:
            checked.answers[item_id] = value
    for question_id, value in background.items():
        question = (
            instrument.background_question(question_id)
            if instrument.has_background(question_id)
            else None
        )
        checked.background_problems.add(printable(question_id))
        if question is None:
            checked.problems[printable(question_id)] = "unknown background question"
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            checked.cleared.add(question_id)
            continue
        if not isinstance(value, str):
            checked.problems[question_id] = f"must be text, not {value!r}"
        elif question.kind == "choice":
            allowed = [option.value for option in question.options]
            if value not in allowed:
                checked.problems[question_id] = f"must be one of: {', '.join(allowed)}"
            else:
                checked.background[question_id] = value
        elif (problem := control_character_problem(value.strip())) is not None:
            checked.problems[question_id] = problem
        elif len(value.strip()) > MAX_TEXT_ANSWER:
            checked.problems[question_id] = f"must be at most {MAX_TEXT_ANSWER} characters"
        else:
            checked.background[question_id] = value.strip()
    checked.background_problems &= set(checked.problems)
    return checked


def unanswered_required(
    instrument: Instrument,
    answers: Mapping[str, int],
    background: Mapping[str, str],
    sections: Iterable[Section] | None = None,
) -> dict[str, str]:
    """A message for each required question (in ``sections``, default all) left unanswered."""
    problems: dict[str, str] = {}
    for section in sections if sections is not None else instrument.sections:
        for item_id in section.items:
            if instrument.item(item_id).required and item_id not in answers:
                problems[item_id] = UNANSWERED
        for question in instrument.background:
            wanted = question.id in section.background and question.required
            if wanted and question.id not in background:
                problems[question.id] = UNANSWERED
    return problems


def section_after(instrument: Instrument, section_id: str) -> str | None:
    ids = [section.id for section in instrument.sections]
    position = ids.index(section_id)
    return ids[position + 1] if position + 1 < len(ids) else None


def section_by_id(instrument: Instrument, section_id: str) -> Section | None:
    for section in instrument.sections:
        if section.id == section_id:
            return section
    return None
