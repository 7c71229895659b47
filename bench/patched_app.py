"""The app with the proposed fix for the pool deadlock, for comparison runs of the load test.

FastAPI runs a sync ``yield`` dependency's teardown (here ``Session.close()``, which hands the
connection back to the pool) in the same thread pool as the endpoints.  Under load, every pool
thread can be waiting for a connection that is held by a finished request whose teardown is
queued behind them: requests stall for ``pool_timeout`` (30 s) and end in 500.  Closing the
session in the event loop (an ``async`` dependency) breaks the cycle.

``uvicorn --factory bench.patched_app:create_app`` (reads the same environment as the app).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.database import get_session
from app.main import create_app as create_real_app


async def session_closed_in_the_event_loop(request: Request) -> AsyncIterator[Session]:
    engine: Engine = request.app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        yield session


def create_app() -> FastAPI:
    app = create_real_app()
    if os.environ.get("PATCH_ASYNC_SESSION", "1") == "1":
        app.dependency_overrides[get_session] = session_closed_in_the_event_loop
    tokens = int(os.environ.get("PATCH_THREAD_TOKENS", "0"))
    if tokens:
        real_lifespan = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            anyio.to_thread.current_default_thread_limiter().total_tokens = tokens
            async with real_lifespan(app):
                yield

        app.router.lifespan_context = lifespan
    return app
