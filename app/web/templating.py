"""Jinja2 templates, with a lazy ``csrf_token()`` so respondent pages set no cookie."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from analysis.instrument import Instrument
from app.models import SurveyRound
from app.security import csrf_token_for


def _context(request: Request) -> dict[str, Callable[[], str]]:
    def csrf_token() -> str:
        return csrf_token_for(request.session)

    return {"csrf_token": csrf_token}


templates = Jinja2Templates(
    directory=Path(__file__).resolve().parent.parent / "templates",
    context_processors=[_context],
)


def question_text(instrument: Instrument, field_id: str) -> str:
    """The wording of an item or background question, for error summaries."""
    return instrument.question_text(field_id)


templates.env.globals["service_name"] = "Partnership Trust Survey"
templates.env.globals["question_text"] = question_text


def _round_dates(survey_round: object) -> str:
    from app.services.rounds import dates_text  # services import nothing of the web layer

    assert isinstance(survey_round, SurveyRound)
    return dates_text(survey_round)


templates.env.globals["round_dates"] = _round_dates
