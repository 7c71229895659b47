"""JSON API for admins: the audit trail, newest first, with the page's filters.

To anyone but an admin (a coordinator, an evaluator, an analyst) it does not exist (404).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.database import SessionDep
from app.models import Account, AccountRole
from app.services import audit
from app.services.answers import control_character_problem
from app.services.audit import AuditAction, AuditFilter
from app.services.errors import FieldValidationError, RecordNotFoundError
from app.web.deps import ApiCoordinatorDep
from app.web.schemas import QueryRecordId

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
MOST_PER_PAGE = 500


def api_audit_admin(coordinator: ApiCoordinatorDep, request: Request) -> Account:
    """Admins only; to anyone else the resource does not exist."""
    if AccountRole.ADMIN not in coordinator.role_set:
        raise RecordNotFoundError("resource", request.url.path)
    return coordinator


ApiAuditAdminDep = Annotated[Account, Depends(api_audit_admin)]


class AuditEventOut(BaseModel):
    id: int
    occurred_at: datetime = Field(description="UTC")
    actor: str = Field(description='an e-mail address, or "worker", "command line", ...')
    actor_id: int | None
    action: str
    target: str
    partnership_id: int | None
    outcome: str
    detail: str


class AuditPageOut(BaseModel):
    total: int = Field(description="lines matching the filters")
    offset: int
    limit: int
    events: list[AuditEventOut]


@router.get("/audit", response_model=AuditPageOut)
def audit_trail(
    session: SessionDep,
    admin: ApiAuditAdminDep,
    action: Annotated[AuditAction | None, Query()] = None,
    actor: Annotated[str, Query(max_length=254, description="part of the actor")] = "",
    partnership_id: Annotated[QueryRecordId | None, Query()] = None,
    from_day: Annotated[
        date | None, Query(alias="from", description="first day, in TIME_ZONE")
    ] = None,
    to_day: Annotated[date | None, Query(alias="to", description="last day, in TIME_ZONE")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=MOST_PER_PAGE)] = 100,
) -> AuditPageOut:
    """Lines of the audit trail, newest first (``offset`` and ``limit`` page through them)."""
    if from_day and to_day and to_day < from_day:
        raise FieldValidationError({"to": "must be the same as or after from"})
    if (problem := control_character_problem(actor)) is not None:
        raise FieldValidationError({"actor": problem})
    where = AuditFilter(action, actor.strip(), partnership_id, from_day, to_day)
    events = audit.list_events(session, where, offset=offset, limit=limit)
    return AuditPageOut(
        total=audit.count_events(session, where),
        offset=offset,
        limit=limit,
        events=[
            AuditEventOut.model_validate(
                {
                    **e.model_dump(),
                    "occurred_at": e.occurred_at
                    if e.occurred_at.tzinfo
                    else e.occurred_at.replace(tzinfo=UTC),
                }
            )
            for e in events
        ],
    )
