"""The admins' view of the audit trail: ``/admin/audit`` (newest first, 50 lines a page,
filtered by action, actor, partnership and days) and ``/admin/audit.csv`` (the same filters,
streamed; exporting is itself recorded).  To anyone but an admin neither exists (404).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.database import SessionDep
from app.models import Account, AccountRole, AuditEvent
from app.services import audit, clock, instruments, partnerships
from app.services.answers import control_character_problem
from app.services.audit import AuditAction, AuditFilter
from app.services.errors import RecordNotFoundError
from app.web.audit_words import action_label, detail_words
from app.web.coordinator_pages import spreadsheet_safe
from app.web.deps import PageCoordinatorDep
from app.web.forms import FormState, parse_date
from app.web.pages import AuditLine, AuditPage, PageLink
from app.web.redirects import see_other
from app.web.schemas import canonical_id
from app.web.templating import templates

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
CSV_COLUMNS = (
    "occurred_at_utc",
    "occurred_at_local",
    "actor",
    "actor_id",
    "action",
    "target",
    "partnership_id",
    "outcome",
    "detail",
)
DATE_PARTS = tuple(f"{name}-{part}" for name in ("from", "to") for part in ("day", "month", "year"))


def audit_admin(coordinator: PageCoordinatorDep, request: Request) -> Account:
    """Admins only; to anyone else the page does not exist."""
    if AccountRole.ADMIN not in coordinator.role_set:
        raise RecordNotFoundError("page", request.url.path)
    return coordinator


AuditAdminDep = Annotated[Account, Depends(audit_admin)]


def local_time(moment: datetime) -> datetime:
    """A stored moment in the deployment's time zone (SQLite gives it back without one: UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(clock.time_zone())


def shown_time(moment: datetime) -> str:
    """``2 December 2026, 14:05`` in the deployment's time zone (the day kept on one line:
    no-break spaces within it)."""
    local = local_time(moment)
    return f"{local.day}\u00a0{local:%B}\u00a0{local:%Y}, {local:%H:%M}"


@dataclass
class ParsedFilter:
    """The filter a request asked for, the problems with it, and the query that keeps it."""

    where: AuditFilter
    form: FormState
    query: dict[str, str]


def parse_filter(params: Mapping[str, str]) -> ParsedFilter:
    """The filters from a page's query string; a bad date is a problem on the form (and that
    date is left out), an unknown action or partnership is no filter."""
    posted = {
        key: params.get(key, "")[:100] for key in ("action", "actor", "partnership", *DATE_PARTS)
    }
    form = FormState(posted)
    action = posted["action"] if posted["action"] in {a.value for a in AuditAction} else ""
    partnership_id = canonical_id(posted["partnership"]) if posted["partnership"] else None
    days = {}
    for name in ("from", "to"):
        parts = [posted[f"{name}-{part}"] for part in ("day", "month", "year")]
        days[name] = parse_date(posted, name, form) if any(p.strip() for p in parts) else None
    if days["from"] and days["to"] and days["to"] < days["from"]:
        form.add("to", "The last day must be the same as or after the first day")
        days["to"] = None
    actor = posted["actor"].strip()
    if (problem := control_character_problem(actor)) is not None:
        form.add("actor", f"Who {problem}")
        actor = ""
    where = AuditFilter(
        action=AuditAction(action) if action else None,
        actor_contains=actor,
        partnership_id=partnership_id,
        from_day=days["from"],
        to_day=days["to"],
    )
    query = {key: value for key, value in posted.items() if value.strip()}
    return ParsedFilter(where, form, query)


def _href(query: Mapping[str, str], page: int, path: str = "/admin/audit") -> str:
    shown = {**query, "page": str(page)} if page > 1 else dict(query)
    return f"{path}?{urlencode(shown)}" if shown else path


def page_links(query: Mapping[str, str], page: int, pages: int) -> list[PageLink]:
    """The numbered pages around ``page``, with the first and last, gaps as ellipses."""
    wanted = sorted({1, pages, *range(max(1, page - 1), min(pages, page + 1) + 1)})
    links: list[PageLink] = []
    previous = 0
    for number in wanted:
        if number - previous > 1:
            links.append(PageLink(0, "", ellipsis=True))
        links.append(PageLink(number, _href(query, number), current=number == page))
        previous = number
    return links


def describe(where: AuditFilter) -> str:
    """A filter in words, for the export's own line."""
    parts = []
    if where.action is not None:
        parts.append(f"action {where.action.value}")
    if where.actor_contains:
        parts.append(f"actor contains {where.actor_contains}")
    if where.partnership_id is not None:
        parts.append(f"partnership {where.partnership_id}")
    if where.from_day is not None:
        parts.append(f"from {where.from_day}")
    if where.to_day is not None:
        parts.append(f"to {where.to_day}")
    return ", ".join(parts) or "everything"


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    admin: AuditAdminDep,
    page: Annotated[str, Query(max_length=9)] = "1",
) -> Response:
    parsed = parse_filter(request.query_params)
    number = canonical_id(page) or 1
    total = audit.count_events(session, parsed.where)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(number, pages)
    events = audit.list_events(
        session, parsed.where, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    listed = partnerships.list_partnerships(session)
    names = {p.id: p.name for p in listed if p.id is not None}
    csv_query = urlencode(parsed.query)
    kinds = {
        **instruments.attribute_labels(session, partnerships.PARTNERSHIP_ATTRIBUTE),
        **instruments.attribute_labels(session, partnerships.ORGANISATION_ATTRIBUTE),
    }
    titles = {c.instrument_id: c.title for c in instruments.instrument_choices(session)}
    lines = [
        AuditLine(
            event,
            action_label(event.action),
            detail_words(event.action, event.detail, kinds, titles),
        )
        for event in events
    ]
    return templates.TemplateResponse(
        request,
        "admin/audit.html",
        AuditPage(
            coordinator=admin,
            form=parsed.form,
            lines=lines,
            shown_time=shown_time,
            time_zone=clock.time_zone().key,
            partnership_names=names,
            actions={"": "Any action", **{a.value: action_label(a.value) for a in AuditAction}},
            partnership_choices={"": "Any partnership", **{str(p.id): p.name for p in listed}},
            total=total,
            page=number,
            pages=pages,
            first_shown=(number - 1) * PAGE_SIZE + 1,
            last_shown=(number - 1) * PAGE_SIZE + len(events),
            page_links=page_links(parsed.query, number, pages) if pages > 1 else [],
            previous_href=_href(parsed.query, number - 1) if number > 1 else None,
            next_href=_href(parsed.query, number + 1) if number < pages else None,
            csv_href=f"/admin/audit.csv?{csv_query}" if csv_query else "/admin/audit.csv",
            filtered=bool(parsed.query),
        ),
        status_code=422 if parsed.form else 200,
        headers={"Cache-Control": "no-store"},
    )


def csv_row(event: AuditEvent) -> list[str]:
    """One line of the export, every cell safe to open in a spreadsheet."""
    moment = (
        event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
    )
    cells = [
        moment.astimezone(UTC).isoformat(timespec="seconds"),
        local_time(moment).isoformat(timespec="seconds"),
        event.actor,
        "" if event.actor_id is None else str(event.actor_id),
        event.action,
        event.target,
        "" if event.partnership_id is None else str(event.partnership_id),
        event.outcome,
        event.detail,
    ]
    return [spreadsheet_safe(cell) for cell in cells]


def stream_csv(engine: Engine, where: AuditFilter) -> Iterator[str]:
    """The export, a batch of lines at a time, read in a session of its own (the request's
    session has ended by the time the body is sent)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with Session(engine, expire_on_commit=False) as session:
        for count, event in enumerate(audit.iter_events(session, where), start=1):
            writer.writerow(csv_row(event))
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@router.get("/admin/audit.csv")
def audit_csv(request: Request, session: SessionDep, admin: AuditAdminDep) -> Response:
    """The lines the page's filters choose, as CSV; with a bad date, the page instead, which
    names the problem."""
    parsed = parse_filter(request.query_params)
    if parsed.form:
        return see_other(_href(parsed.query, 1))
    audit.record(
        session, admin, AuditAction.AUDIT_EXPORTED, "audit trail", detail=describe(parsed.where)
    )
    stamp = clock.local_day().isoformat()
    return StreamingResponse(
        stream_csv(request.app.state.engine, parsed.where),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audit-trail-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
