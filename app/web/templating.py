"""The app's templates: one environment per app, built by :func:`build_templates` in
``create_app`` and kept on ``app.state.templates``.

Routes answer with ``templates.TemplateResponse(request, name, context)``: ``templates`` holds
no environment of its own, it renders with the app that is answering ``request``.  A context
is a dict or, for the pages listed in ``app.web.pages``, a typed page context (a dataclass);
either way a lazy ``csrf_token()`` is added, so respondent pages set no cookie.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.background import BackgroundTask
from starlette.responses import Response

from app.security import csrf_token_for
from app.templating import context_dict as context_dict  # its home; the pages use it here
from app.templating import make_environment
from app.web.assets import FrontendAssets
from app.web.page_problems import first_input_id


def _context(request: Request) -> dict[str, Callable[[], str]]:
    def csrf_token() -> str:
        return csrf_token_for(request.session)

    return {"csrf_token": csrf_token}


def build_templates(frontend: FrontendAssets) -> Jinja2Templates:
    """The templates of one app: the shared filters and globals, the pages' own globals
    (``first_input_id`` for error summaries, the frontend's asset URLs)."""
    environment = make_environment()
    environment.globals["first_input_id"] = first_input_id
    environment.globals["frontend"] = frontend
    return Jinja2Templates(env=environment, context_processors=[_context])


class AppTemplates:
    """Renders with the templates of the app answering the request."""

    def TemplateResponse(  # noqa: N802 (the name Starlette's templates use)
        self,
        request: Request,
        name: str,
        context: object = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> Response:
        app_templates: Jinja2Templates = request.app.state.templates
        return app_templates.TemplateResponse(
            request,
            name,
            context_dict(context),
            status_code=status_code,
            headers=headers,
            media_type=media_type,
            background=background,
        )


templates = AppTemplates()
