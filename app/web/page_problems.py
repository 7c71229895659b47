"""What the respondent is told about missing or invalid answers (pure; no database), and the
form fields read from their pages.

The services report problems by field with short messages (``answer this question``, ``must
be from 1 to 5, not 9``).  Pages show each one twice, as the NHS.UK error pattern asks: inline
next to the question, and in the error summary at the top as a link to the question's first
input.  This module turns the services' problems into those two texts, in the order the
questions appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from analysis.instrument import BackgroundQuestion, Instrument, Section
from app.services.answers import (
    CONTROL_CHARACTERS,
    CONTROL_CHARACTERS_MULTILINE,
    MAX_TEXT_ANSWER,
    UNANSWERED,
)


@dataclass(frozen=True)
class PageProblem:
    """One problem as a page shows it."""

    field_id: str
    message: str  # inline, next to the question
    summary: str  # the error summary's link text
    href: str  # where the summary links to: the question's first input


def first_input_id(instrument: Instrument, field_id: str) -> str:
    """The id of a question's first input: its first radio, or its text box."""
    question = _background_question(instrument, field_id)
    if question is not None:
        if question.kind == "choice":
            return f"{field_id}-{question.options[0].value}"
        return field_id
    if field_id in instrument.item_ids:
        return f"{field_id}-{instrument.response_scale_of(field_id).values[0]}"
    return field_id


def _background_question(instrument: Instrument, field_id: str) -> BackgroundQuestion | None:
    return instrument.background_question(field_id) if instrument.has_background(field_id) else None


def _question_text(instrument: Instrument, field_id: str) -> str:
    return instrument.question_text(field_id)


def _messages(instrument: Instrument, field_id: str, problem: str) -> tuple[str, str]:
    """(inline message, summary text) for one of the services' problems."""
    text = _question_text(instrument, field_id)
    question = _background_question(instrument, field_id)
    is_text = question is not None and question.kind == "text"
    if problem == UNANSWERED:
        if is_text:
            return "Enter an answer", f"Enter an answer to “{text}”"
        return "Select an answer", f"Select an answer to “{text}”"
    if is_text and problem in (CONTROL_CHARACTERS, CONTROL_CHARACTERS_MULTILINE):
        return (
            "Remove the tabs, line breaks or other invisible characters from your answer",
            f"Your answer to “{text}” {problem}",
        )
    if is_text:
        return (
            f"Enter {MAX_TEXT_ANSWER} characters or fewer",
            f"Your answer to “{text}” must be {MAX_TEXT_ANSWER} characters or fewer",
        )
    return (
        "Select one of the answers shown",
        f"Select one of the answers shown for “{text}”",
    )


def _page_order(instrument: Instrument, sections: Iterable[Section]) -> list[str]:
    order: list[str] = []
    for section in sections:
        order += [q.id for q in instrument.background if q.id in section.background]
        order += list(section.items)
    return order


def page_problems(
    instrument: Instrument,
    problems: Mapping[str, str],
    sections: Iterable[Section] | None = None,
) -> list[PageProblem]:
    """The services' ``problems`` as pages show them, in the order of the questions."""
    order = _page_order(instrument, instrument.sections if sections is None else sections)
    ranked = sorted(problems, key=lambda f: order.index(f) if f in order else len(order))
    shown = []
    for field_id in ranked:
        message, summary = _messages(instrument, field_id, problems[field_id])
        href = f"#{first_input_id(instrument, field_id)}"
        shown.append(PageProblem(field_id, message, summary, href))
    return shown


def submission_problems_shown(
    instrument: Instrument, problems: Mapping[str, str], link_of: Mapping[str, str]
) -> list[PageProblem]:
    """Problems stopping a submission, each linking to its question's page (``link_of``)."""
    shown = []
    for problem in page_problems(instrument, problems):
        text = _question_text(instrument, problem.field_id)
        shown.append(
            PageProblem(
                problem.field_id,
                "You need to answer this question",
                f"You need to answer this question: “{text}”",
                link_of.get(problem.field_id, f"#{problem.field_id}"),
            )
        )
    return shown


def form_value(raw: str | None) -> object:
    """A radio or text value from a form: whole numbers become ints, blanks None."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text.lstrip("-").isdigit() and len(text) < 10:
        return int(text)
    return text
