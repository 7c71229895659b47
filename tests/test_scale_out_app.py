"""The real app, plus an ``X-Served-By`` header with the worker's process id, so the scale-out
tests can see that requests landed on different workers (no tests here)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from app import main


def create_app() -> FastAPI:
    app = main.create_app()

    @app.middleware("http")
    async def served_by(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["X-Served-By"] = str(os.getpid())
        return response

    return app
