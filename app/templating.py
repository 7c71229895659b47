"""The Jinja2 environment for the app's templates: its filters and globals, set in one place.

Pages (``app/web/templating.py``) and the standalone report (``app/reports/rendering.py``)
each build their environment with :func:`make_environment`; nothing sets a filter or a global
on an environment anywhere else, and no environment is shared between apps.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from analysis.frequencies import PLAIN_HEADERS, spss_round
from analysis.instrument import Instrument

TEMPLATE_FOLDER = Path(__file__).resolve().parent / "templates"
SERVICE_NAME = "Partnership Trust Survey"


def number(value: object, decimals: int = 2) -> str:
    """A figure rounded half away from zero (as SPSS and the 2017 report), "-" if none."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "-"
    return spss_round(float(value), decimals)


def css_string(text: object) -> Markup:
    """``text`` as a quoted CSS string (for ``content:`` in ``@page`` boxes): every character
    but ASCII letters and digits as a six-digit CSS escape (a space too: one right after an
    escape would be read as the escape's end), so nothing can end the string or the
    ``<style>`` element."""
    escaped = "".join(c if c.isascii() and c.isalnum() else f"\\{ord(c):06x}" for c in str(text))
    # Safe: every character outside [A-Za-z0-9] is escaped above.
    return Markup(f'"{escaped}"')  # noqa: S704  # nosec B704


def long_date(value: date | None) -> str:
    """A date as people write it: 17 November 2026 ("-" if none)."""
    if value is None:
        return "-"
    return f"{value.day} {value:%B %Y}"


STATE_WORDS = {"open": "open", "not-yet-open": "not open yet", "closed": "closed"}


def state_words(state: str) -> str:
    """A round's state in words ("not open yet", not "not-yet-open")."""
    return STATE_WORDS.get(str(state), str(state))


def question_text(instrument: Instrument, field_id: str) -> str:
    """The wording of an item or background question, for error summaries."""
    return instrument.question_text(field_id)


def round_dates(survey_round: object) -> str:
    """A round's dates in words (a closed round by the day it actually closed)."""
    from app.models import SurveyRound
    from app.services.rounds import dates_text  # imported late: services load templates

    assert isinstance(survey_round, SurveyRound)
    return dates_text(survey_round)


def sentence(text: object) -> str:
    """``text`` with its first letter a capital (services write messages to follow a field's
    name: "give at least one e-mail address"; a page shows them as sentences)."""
    words = str(text)
    return words[:1].upper() + words[1:]


def make_environment() -> jinja2.Environment:
    """A new environment over ``app/templates`` with the app's filters and globals."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_FOLDER),
        autoescape=jinja2.select_autoescape(("html", "xml"), default_for_string=True),
    )
    environment.filters["num"] = number
    environment.filters["css_string"] = css_string
    environment.filters["long_date"] = long_date
    environment.filters["state_words"] = state_words
    environment.filters["sentence"] = sentence
    environment.globals["service_name"] = SERVICE_NAME
    environment.globals["question_text"] = question_text
    environment.globals["round_dates"] = round_dates
    environment.globals["frequency_headers"] = PLAIN_HEADERS  # the frequency tables' headings
    return environment


def context_dict(context: object) -> dict[str, Any]:
    """A page context as the template's variables: a dataclass's fields (not copied), or a
    dict as it is."""
    if context is None:
        return {}
    if dataclasses.is_dataclass(context) and not isinstance(context, type):
        return {field.name: getattr(context, field.name) for field in dataclasses.fields(context)}
    if isinstance(context, Mapping):
        return dict(context)
    raise TypeError(f"a page context is a dataclass or a dict, not {type(context).__name__}")
