"""Coordinator forms: the NHS.UK error summary and inline errors, in plain words, with what
was typed kept; dates as the NHS.UK date input (day, month, year).

A route reads its form fields as text, parses them here, calls its service, and on a problem
renders the same page again (status 422) with :class:`FormState`; the page's templates show
``form.problems`` beside each field and in the summary, and ``form.value(...)`` in each input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from app.services.errors import DuplicateRecordError, FieldValidationError, SurveyServiceError
from app.web.schemas import canonical_id

# What each field is called on the pages, for messages that start "must ...".
FIELD_NAMES = {
    "name": "The name",
    "title": "The title",
    "kind": "The kind chosen",
    "opens_on": "The opening date",
    "closes_on": "The closing date",
    "anonymity_threshold": "The smallest group shown",
    "release_policy": "When results are published",
    "instrument": "The questionnaire",
    "confirm_name": "The name you typed",
    "count": "The number of links",
    "document": "The instrument file",
    "from": "The first day",
    "to": "The last day",
}
DATE_FIELDS = frozenset({"opens_on", "closes_on", "from", "to"})


@dataclass(frozen=True)
class PageProblem:
    field_id: str
    message: str
    summary: str
    href: str


@dataclass
class FormState:
    """What a coordinator typed into a form, and what is wrong with it."""

    values: Mapping[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    form_id: str = ""  # which of a page's forms the problems belong to

    def value(self, name: str, default: object = "") -> str:
        if name in self.values:
            return self.values[name]
        return "" if default is None else str(default)

    def problem(self, name: str) -> str | None:
        return self.problems.get(name)

    def add(self, name: str, message: str) -> None:
        self.problems.setdefault(name, message)

    @property
    def page_problems(self) -> list[PageProblem]:
        return [
            PageProblem(name, message, message, f"#{_first_input(name)}")
            for name, message in self.problems.items()
        ]

    def __bool__(self) -> bool:
        return bool(self.problems)


def _first_input(name: str) -> str:
    return f"{name}-day" if name in DATE_FIELDS else name


def plain(name: str, message: str) -> str:
    """A service's message for a field in plain words: "must be ..." gets the field's name."""
    message = message.strip().rstrip(".")
    if message[:1].islower():
        message = f"{FIELD_NAMES.get(name, 'This')} {message}"
    return message


def problems_of(error: SurveyServiceError, default_field: str = "name") -> dict[str, str]:
    """A service error as problems on the form's fields."""
    if isinstance(error, FieldValidationError):
        return {name: plain(name, message) for name, message in error.problems.items()}
    text = str(error)
    if isinstance(error, DuplicateRecordError):
        return {default_field: text[:1].upper() + text[1:]}
    return {"": text[:1].upper() + text[1:]}


def date_parts(form: Mapping[str, str], name: str) -> dict[str, str]:
    return {part: form.get(f"{name}-{part}", "").strip() for part in ("day", "month", "year")}


def parse_date(form: Mapping[str, str], name: str, state: FormState) -> date | None:
    """A date from the NHS.UK date input's three fields, or a plain problem on ``state``."""
    label = FIELD_NAMES.get(name, "The date")
    parts = date_parts(form, name)
    missing = [part for part, text in parts.items() if not text]
    whole = form.get(name, "").strip()
    if len(missing) == 3 and whole:  # one field, as a script may post it: 2027-01-31
        try:
            return date.fromisoformat(whole)
        except ValueError:
            state.add(name, f"{label} must be a real date, for example 31 1 2027")
            return None
    if len(missing) == 3:
        state.add(name, f"Enter {label[0].lower()}{label[1:]}")
        return None
    if missing:
        state.add(name, f"{label} must include a {' and a '.join(missing)}")
        return None
    if not all(text.isdigit() for text in parts.values()):
        state.add(name, f"{label} must be a real date, in numbers, for example 27 3 2027")
        return None
    year = int(parts["year"])
    if len(parts["year"]) != 4:
        state.add(name, f"{label} must include a year of 4 digits, for example 2027")
        return None
    try:
        return date(year, int(parts["month"]), int(parts["day"]))
    except ValueError:
        state.add(name, f"{label} must be a real date")
        return None


def date_values(day: date | None) -> dict[str, str]:
    """The date input's three fields for a date (to fill a form)."""
    if day is None:
        return {}
    return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}


def with_date(values: dict[str, str], name: str, day: date | None) -> dict[str, str]:
    for part, text in date_values(day).items():
        values.setdefault(f"{name}-{part}", text)
    return values


def parse_whole_number(
    form: Mapping[str, str], name: str, state: FormState, *, low: int, high: int
) -> int | None:
    label = FIELD_NAMES.get(name, "The number")
    text = form.get(name, "").strip()
    if not text:
        state.add(name, f"Enter {label[0].lower()}{label[1:]}")
        return None
    if not text.isdigit() or len(text) > 9:
        state.add(name, f"{label} must be a whole number, like {low}")
        return None
    value = int(text)
    if value < low:
        state.add(name, f"{label} must be {low} or more")
        return None
    if value > high:
        state.add(name, f"{label} must be {high} or fewer")
        return None
    return value


def parse_choice(
    form: Mapping[str, str], name: str, choices: Mapping[str, str], state: FormState
) -> str | None:
    text = form.get(name, "")
    if text not in choices:
        label = FIELD_NAMES.get(name, "an option")
        state.add(name, f"Choose {label[0].lower()}{label[1:]}")
        return None
    return text


def parse_optional_id(form: Mapping[str, str], name: str, state: FormState) -> int | None:
    text = form.get(name, "")
    if not text:
        return None
    parsed = canonical_id(text)
    if parsed is None:
        state.add(name, "Choose one of the listed organisations")
    return parsed
