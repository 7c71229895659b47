"""The FastAPI application: ``create_app(settings)``; uvicorn runs it with ``--factory``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from app.database import AsyncDatabase, make_engine
from app.migrating import require_migrated
from app.services.clock import set_time_zone
from app.services.rate_limits import RateLimiter, RateLimitPolicy
from app.settings import Settings, get_settings
from app.web import (
    account_admin_pages,
    account_link_pages,
    account_pages,
    analyst_pages,
    api_admin,
    api_audit,
    api_participants,
    api_reports,
    api_survey,
    audit_pages,
    coordinator_pages,
    health,
    participant_pages,
    privacy_pages,
    report_pages,
    respondent_pages,
    round_pages,
    second_factor_pages,
    sign_in_pages,
)
from app.web.assets import find_frontend, install_assets
from app.web.errors import install_error_handlers
from app.web.rate_limits import RateLimitMiddleware
from app.web.security_headers import (
    BodySizeLimitMiddleware,
    SecurityHeadersMiddleware,
    TrustedHostMiddleware,
)
from app.web.site_files import site_files_router
from app.web.templating import build_templates

logger = logging.getLogger(__name__)
UNNAMED_DATA_CONTROLLER_WARNING = (
    "DATA_CONTROLLER is not set: the privacy notice tells respondents that no data controller "
    "has been named yet. Set DATA_CONTROLLER to the name of the organisation that is the data "
    "controller for this survey (docs/data-protection.md)."
)
WORKER_THREADS = 1000


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    set_time_zone(settings.time_zone)
    if settings.unnamed_data_controller:
        logger.warning(UNNAMED_DATA_CONTROLLER_WARNING)
    engine = make_engine(
        settings.database_url, settings.database_pool_size, settings.sqlite_busy_timeout
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        require_migrated(app.state.engine, settings.database_url)
        app.state.async_database.serve()
        # Sync routes and their session clean-up run on AnyIO's worker threads (40 by default).
        # A request that holds a pooled connection may be waiting for a thread to close its
        # session while every thread waits for a connection: under load everything stalls for
        # the pool timeout and answers 500. With plenty of threads the clean-up always runs,
        # so connections come back and only the pool bounds the database work.
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        yield
        await app.state.async_database.dispose()
        app.state.engine.dispose()

    app = FastAPI(
        title="Partnership Trust Survey",
        version="0.1.0",
        description="Trust between the organisations of a health and care partnership.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI is served from npm's swagger-ui-dist: app/web/site_files.py
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    signing_key = settings.signing_key()
    app.state.secret_key = signing_key  # keys the HMAC of personal API tokens
    # The respondents' hot path (app.web.api_survey, the link limits) runs on this one.
    app.state.async_database = AsyncDatabase(
        settings.database_url, settings.database_pool_size, settings.sqlite_busy_timeout
    )
    app.state.rate_limiter = RateLimiter(engine, signing_key, RateLimitPolicy())
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(
        SessionMiddleware,
        secret_key=signing_key,
        session_cookie="trust_survey_session",
        same_site="lax",
        https_only=settings.is_production,
        max_age=8 * 60 * 60,
    )
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(TrustedHostMiddleware, hosts=settings.trusted_hosts)
    app.add_middleware(SecurityHeadersMiddleware)
    install_error_handlers(app)
    frontend = install_assets(app, find_frontend(settings.nhsuk_frontend_path))
    app.state.templates = build_templates(frontend)
    app.include_router(site_files_router(frontend, app.title, app.openapi_url or "/openapi.json"))
    app.include_router(health.router)
    app.include_router(sign_in_pages.router)
    app.include_router(respondent_pages.router)
    app.include_router(coordinator_pages.router)
    app.include_router(round_pages.router)
    app.include_router(participant_pages.router)
    app.include_router(api_survey.router)
    app.include_router(api_admin.router)
    app.include_router(api_participants.router)
    app.include_router(report_pages.router)
    app.include_router(analyst_pages.router)
    app.include_router(api_reports.router)
    app.include_router(account_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(api_audit.router)
    app.include_router(account_admin_pages.router)
    app.include_router(account_link_pages.router)
    app.include_router(second_factor_pages.router)
    app.include_router(privacy_pages.router)
    return app
