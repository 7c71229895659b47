"""Analysts' pages: pooled counts by care model, and reliability of any items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.database import SessionDep
from app.services import analyst
from app.services.errors import FieldValidationError
from app.web.report_access import AnalystPageDep
from app.web.schemas import record_id
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/analyst", response_class=HTMLResponse)
def pooled(request: Request, session: SessionDep, viewer: AnalystPageDep) -> Response:
    view = analyst.pooled_view(session, viewer)
    return templates.TemplateResponse(
        request,
        "analyst/pooled.html",
        {"viewer": viewer, "view": view, "counts": view.care_models.to_dict("records")},
        headers={"Cache-Control": "no-store"},
    )


@router.get("/analyst/reliability", response_class=HTMLResponse)
def reliability_page(
    request: Request,
    session: SessionDep,
    viewer: AnalystPageDep,
    item: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
    round: Annotated[list[str], Query(max_length=1000)] = [],  # noqa: B006
    missing: Annotated[str, Query(max_length=16)] = "pairwise",
) -> Response:
    everything = analyst.pooled_answers(session, viewer)
    context: dict[str, object] = {
        "viewer": viewer,
        "all": everything,
        "chosen_items": item,
        "chosen_rounds": round,
        "missing": missing,
    }
    status_code = 200
    if item:
        try:
            round_ids = [record_id(r, "round") for r in round]
            result, answers = analyst.reliability(session, viewer, item, round_ids, missing)
            context |= {"result": result, "answers": answers}
        except (FieldValidationError, LookupError) as error:
            problems = getattr(error, "problems", {"round": "choose rounds from the list"})
            context["problems"] = problems
            status_code = 422
    return templates.TemplateResponse(
        request,
        "analyst/reliability.html",
        context,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
