"""GET /healthz: 200 when the app and its database answer, 503 when the database does not."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.database import database_is_up

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness of the app and its database")
def healthz(request: Request) -> JSONResponse:
    if database_is_up(request.app.state.engine):
        return JSONResponse({"status": "ok", "database": "up"})
    return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
