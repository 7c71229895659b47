"""Analysts' pages: pooled counts by kind of partnership, and reliability, omega, factor
analysis and agreement of chosen items over the pooled published answers.

Every page is a GET form that keeps what was chosen, shows the figures above the form and,
for a request that does not fit, an NHS error summary on the same page (status 422).  The
figures come from :mod:`app.services.analyst`, with the command line's rules and defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.database import SessionDep
from app.services import analyst
from app.services.errors import FieldValidationError
from app.web.agreement_notes import icc_notes
from app.web.page_problems import PageProblem
from app.web.pages import (
    AgreementPage,
    AnalysisPage,
    FactorPage,
    ItemAnalysisPage,
    OmegaPage,
    PooledPage,
    ReliabilityPage,
)
from app.web.report_access import AnalystPageDep
from app.web.schemas import record_id
from app.web.templating import templates

router = APIRouter(include_in_schema=False)

ItemsQuery = Annotated[list[str], Query(max_length=100)]
RoundsQuery = Annotated[list[str], Query(max_length=1000)]
ScalesQuery = Annotated[list[str], Query(max_length=100)]
Choice = Annotated[str, Query(max_length=32)]

LABELS = {
    "item": "Items",
    "round": "Rounds",
    "scale": "Scale",
    "keying": "Keying",
    "missing": "Missing answers",
    "factors": "Number of factors",
    "method": "Method",
    "rotation": "Rotation",
    "bootstrap": "Bootstrap",
    "seed": "Seed",
}


@router.get("/analyst", response_class=HTMLResponse)
def pooled(request: Request, session: SessionDep, viewer: AnalystPageDep) -> Response:
    view = analyst.pooled_view(session, viewer)
    counts = [] if view.partnership_kinds is None else view.partnership_kinds.to_dict("records")
    return templates.TemplateResponse(
        request,
        "analyst/pooled.html",
        PooledPage(viewer=viewer, view=view, counts=counts),
        headers={"Cache-Control": "no-store"},
    )


def _round_ids(chosen: Sequence[str]) -> list[int]:
    """Round ids of the form: canonical digits only (as every id), else a field error."""
    return [record_id(r, "round") for r in chosen]


def _href(field: str, everything: analyst.PooledAnswers, *, scale_boxes: bool) -> str:
    """The first input of a field, where the error summary links to (the scales are
    checkboxes on the agreement page, ``scale_boxes``, else the list to fill items from)."""
    instrument = everything.instrument
    if field == "item" and instrument.items:
        return f"#item-{instrument.items[0].id}"
    if field == "scale":
        return "#scale-" + instrument.scales[0].id if scale_boxes else "#fill-scale"
    if field == "round" and everything.included:
        return f"#round-{everything.included[0].survey_round.id}"
    first = {
        "keying": "#keying-keyed",
        "missing": "#missing-listwise",
        "method": "#method-minres",
        "rotation": "#rotation-oblimin",
        "factors": "#factors",
        "bootstrap": "#bootstrap",
        "seed": "#seed",
    }
    return first.get(field, "#main-content")


def _problems(
    error: FieldValidationError, everything: analyst.PooledAnswers, *, scale_boxes: bool
) -> list[PageProblem]:
    return [
        PageProblem(
            field_id=field,
            message=message[:1].upper() + message[1:],
            summary=f"{LABELS.get(field, field)}: {message}",
            href=_href(field, everything, scale_boxes=scale_boxes),
        )
        for field, message in error.problems.items()
    ]


def _fill_from_scale(
    everything: analyst.PooledAnswers, item: list[str], scale: str, action: str
) -> list[str]:
    """The chosen scale's items when the analyst asked to fill them in."""
    if action != "fill":
        return item
    known = {s.id: s for s in everything.instrument.scales}
    if scale not in known:
        raise FieldValidationError({"scale": "choose a scale from the list"})
    return list(known[scale].items)


Page = TypeVar("Page", bound=AnalysisPage)


def _page(
    request: Request,
    template: str,
    page: Page,
    compute: Callable[[Page], Page] | None,
    *,
    scale_boxes: bool = False,
) -> Response:
    """Render an analysis page: the figures (``compute`` adds them to the page, when they
    were asked for) or the problems, and the form."""
    status_code = 200
    if compute is not None:
        try:
            page = compute(page)
        except FieldValidationError as error:
            problems = _problems(error, page.all, scale_boxes=scale_boxes)
            errors = {p.field_id: p.message for p in problems}
            page = replace(page, page_problems=problems, field_errors=errors)
            status_code = 422
    return templates.TemplateResponse(
        request,
        template,
        page,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def _asked(action: str, *given: Sequence[str]) -> bool:
    return bool(action) or any(given)


@dataclass(frozen=True)
class ItemChoice:
    """What every item-based analysis page is asked: items (or a scale to fill them from),
    rounds, keying and missing answers, and which button was pressed."""

    item: list[str]
    round: list[str]
    missing: str
    keying: str
    scale: str
    action: str

    def items(self, everything: analyst.PooledAnswers) -> list[str]:
        return _fill_from_scale(everything, self.item, self.scale, self.action)

    def round_ids(self) -> list[int]:
        return _round_ids(self.round)

    @property
    def asked(self) -> bool:
        return _asked(self.action, self.item)


def item_choice(
    item: ItemsQuery = [],  # noqa: B006
    round: RoundsQuery = [],  # noqa: B006
    missing: Choice = "listwise",
    keying: Choice = "keyed",
    scale: Choice = "",
    action: Choice = "",
) -> ItemChoice:
    return ItemChoice(item, round, missing, keying, scale, action)


ItemChoiceDep = Annotated[ItemChoice, Depends(item_choice)]


ItemPage = TypeVar("ItemPage", bound=ItemAnalysisPage)


def _item_page(
    page: type[ItemPage],
    session: SessionDep,
    viewer: AnalystPageDep,
    asked: ItemChoice,
    **choices: Any,  # the page's own fields (strings as asked), checked by its dataclass
) -> ItemPage:
    """An item analysis page before its figures: the pooled answers and the choices asked
    for (items, rounds, missing answers, keying, scale), with the page's own ``choices``."""
    return page(
        viewer=viewer,
        all=analyst.pooled_answers(session, viewer),
        chosen_items=asked.item,
        chosen_rounds=asked.round,
        missing=asked.missing,
        keying=asked.keying,
        scale=asked.scale,
        **choices,
    )


@router.get("/analyst/reliability", response_class=HTMLResponse)
def reliability_page(
    request: Request, session: SessionDep, viewer: AnalystPageDep, asked: ItemChoiceDep
) -> Response:
    """Cronbach's alpha of chosen items (keyed and listwise unless chosen otherwise)."""
    page = _item_page(ReliabilityPage, session, viewer, asked)

    def compute(page: ReliabilityPage) -> ReliabilityPage:
        items = asked.items(page.all)
        pooled = analyst.reliability(
            session, viewer, items, asked.round_ids(), asked.missing, asked.keying
        )
        return replace(page, pooled=pooled, chosen_items=items)

    return _page(request, "analyst/reliability.html", page, compute if asked.asked else None)


def _whole(text: str, field: str, most: int) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > most:
        raise FieldValidationError({field: f"enter a whole number from 0 to {most}"})
    return int(text)


@router.get("/analyst/omega", response_class=HTMLResponse)
def omega_page(
    request: Request,
    session: SessionDep,
    viewer: AnalystPageDep,
    asked: ItemChoiceDep,
    bootstrap: Choice = "1000",
    seed: Choice = "2017",
) -> Response:
    """McDonald's omega total with its seeded bootstrap CI (1000 resamples, seed 2017)."""
    page = _item_page(OmegaPage, session, viewer, asked, bootstrap=bootstrap, seed=seed)

    def compute(page: OmegaPage) -> OmegaPage:
        items = asked.items(page.all)
        resamples = _whole(bootstrap, "bootstrap", analyst.MOST_BOOTSTRAP)
        seeded = _whole(seed, "seed", 2**32 - 1)
        pooled = analyst.omega(
            session,
            viewer,
            items,
            asked.round_ids(),
            asked.missing,
            asked.keying,
            resamples,
            seeded,
        )
        return replace(page, pooled=pooled, chosen_items=items)

    return _page(request, "analyst/omega.html", page, compute if asked.asked else None)


def _factor_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 99:
        raise FieldValidationError({"factors": "enter a whole number of factors, 1 or more"})
    return int(text)


@router.get("/analyst/factor", response_class=HTMLResponse)
def factor_page(
    request: Request,
    session: SessionDep,
    viewer: AnalystPageDep,
    asked: ItemChoiceDep,
    factors: Choice = "1",
    method: Choice = "minres",
    rotation: Choice = "oblimin",
) -> Response:
    """Exploratory factor analysis of chosen items."""
    page = _item_page(
        FactorPage, session, viewer, asked, factors=factors, method=method, rotation=rotation
    )

    def compute(page: FactorPage) -> FactorPage:
        items = asked.items(page.all)
        pooled = analyst.factor(
            session,
            viewer,
            items,
            asked.round_ids(),
            _factor_count(factors),
            method,
            rotation,
            asked.missing,
            asked.keying,
        )
        names = [
            f"{'MR' if pooled.result.method == 'minres' else 'ML'}{i + 1}"
            for i in range(pooled.result.n_factors)
        ]
        return replace(page, pooled=pooled, chosen_items=items, factor_names=names)

    return _page(request, "analyst/factor.html", page, compute if asked.asked else None)


@router.get("/analyst/agreement", response_class=HTMLResponse)
def agreement_page(
    request: Request,
    session: SessionDep,
    viewer: AnalystPageDep,
    scale: ScalesQuery = [],  # noqa: B006
    round: RoundsQuery = [],  # noqa: B006
    keying: Choice = "keyed",
    action: Choice = "",
) -> Response:
    """rwg(j) per partnership and scale, ICC(1) and ICC(2) across partnerships."""
    page = AgreementPage(
        viewer=viewer,
        all=analyst.pooled_answers(session, viewer),
        chosen_scales=scale,
        chosen_rounds=round,
        keying=keying,
    )

    def compute(page: AgreementPage) -> AgreementPage:
        found = analyst.agreement(session, viewer, scale, _round_ids(round), keying)
        return replace(page, pooled=found, icc_notes=icc_notes(found.scales))

    asked = _asked(action, scale)
    return _page(
        request, "analyst/agreement.html", page, compute if asked else None, scale_boxes=True
    )
