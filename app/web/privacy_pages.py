"""The privacy notice, ``/privacy``: who holds the survey's data, why, for how long and who
sees what, built from the deployment's settings; public, linked from every page's footer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.settings import MINIMUM_ANONYMITY_THRESHOLD
from app.web.deps import SettingsDep
from app.web.pages import PrivacyPage
from app.web.templating import templates

router = APIRouter(include_in_schema=False)


def period_in_words(days: int) -> str:
    """``1095`` as "3 years", ``30`` as "30 days", ``1`` as "1 day"."""
    if days and days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


@router.get("/privacy", response_class=HTMLResponse)
def privacy_notice(request: Request, settings: SettingsDep) -> Response:
    return templates.TemplateResponse(
        request,
        "public/privacy.html",
        PrivacyPage(
            settings=settings,
            threshold=settings.anonymity_threshold,
            minimum_threshold=MINIMUM_ANONYMITY_THRESHOLD,
            responses_kept=(
                period_in_words(settings.response_retention_days)
                if settings.response_retention_days
                else None
            ),
            drafts_kept=period_in_words(settings.draft_grace_days),
            audit_kept=(
                period_in_words(settings.audit_retention_days)
                if settings.audit_retention_days
                else None
            ),
        ),
    )
