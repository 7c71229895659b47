"""Errors as HTTP answers: JSON under /api (and to clients that ask for JSON only), pages
elsewhere: a "page not found", an unknown survey link (the same page for a link that never
existed, a mistyped one and a withdrawn one), a server error, and the services' errors."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.services.errors import (
    DuplicateRecordError,
    FieldValidationError,
    InstrumentRejectedError,
    InvalidRequestError,
    LinkAlreadyUsedError,
    PdfUnavailableError,
    RecordNotFoundError,
    ResumeCodeError,
    RoundNotOpenError,
    SurveyServiceError,
    TooManyResumeCodesError,
)
from app.web.deps import LoginRequiredError
from app.web.pages import NoContext, ProblemPage, UnavailablePage
from app.web.templating import templates

STATUS_OF: dict[type[SurveyServiceError], int] = {
    RecordNotFoundError: status.HTTP_404_NOT_FOUND,
    DuplicateRecordError: status.HTTP_409_CONFLICT,
    LinkAlreadyUsedError: status.HTTP_409_CONFLICT,
    RoundNotOpenError: status.HTTP_403_FORBIDDEN,
    InvalidRequestError: status.HTTP_400_BAD_REQUEST,
    FieldValidationError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    InstrumentRejectedError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ResumeCodeError: status.HTTP_403_FORBIDDEN,
    TooManyResumeCodesError: status.HTTP_429_TOO_MANY_REQUESTS,
    PdfUnavailableError: status.HTTP_503_SERVICE_UNAVAILABLE,
}


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped, so that a 422 echoing a lone surrogate
    the client sent (which UTF-8 cannot hold) is still an answer, not a 500."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


logger = logging.getLogger(__name__)
NOT_PAGES = ("/api/", "/assets/", "/static/", "/openapi.json")


def _is_api(request: Request) -> bool:
    """Whether the answer is JSON: the API, files, and clients that accept JSON but not HTML."""
    if request.url.path.startswith(NOT_PAGES):
        return True
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


def _not_found_page(request: Request, headers: dict[str, str] | None = None) -> Response:
    """Respondents (``/s/...``) are told how to get a working link; others, where to go."""
    template = (
        "respondent/unknown_link.html" if request.url.path.startswith("/s/") else "not_found.html"
    )
    return templates.TemplateResponse(
        request, template, NoContext(), status_code=status.HTTP_404_NOT_FOUND, headers=headers
    )


def validation_detail(error: FieldValidationError) -> list[dict[str, object]]:
    """FastAPI's 422 shape: one entry per field, ``loc`` ending in the field's path."""
    return [
        {"loc": [*error.location, *field.split(".")], "msg": message, "type": "value_error"}
        for field, message in error.problems.items()
    ]


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SurveyServiceError)
    code = next(
        (value for kind, value in STATUS_OF.items() if isinstance(exc, kind)),
        status.HTTP_400_BAD_REQUEST,
    )
    headers = (
        {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyResumeCodesError) else None
    )
    if _is_api(request):
        if isinstance(exc, FieldValidationError):
            return _AsciiJSONResponse({"detail": validation_detail(exc)}, status_code=code)
        return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers)
    if isinstance(exc, RecordNotFoundError):
        return _not_found_page(request, headers)
    template, context = _service_error_page(exc)
    return templates.TemplateResponse(request, template, context, status_code=code, headers=headers)


def _service_error_page(exc: SurveyServiceError) -> tuple[str, object]:
    """The page of a service's error and its context: a used link, a round not open, or the
    error's message."""
    if type(exc) is LinkAlreadyUsedError:
        return "respondent/used.html", NoContext()
    if type(exc) is RoundNotOpenError:
        return "respondent/unavailable.html", UnavailablePage(error=exc)
    return "problem.html", ProblemPage(message=str(exc))


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequiredError)
    return RedirectResponse(
        f"/sign-in?next={quote(exc.next_path)}", status_code=status.HTTP_303_SEE_OTHER
    )


async def _database_down(request: Request, exc: Exception) -> Response:
    message = "the database is not available; try again in a minute"
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=503)
    return templates.TemplateResponse(
        request, "problem.html", ProblemPage(message=message), status_code=503
    )


async def _form_invalid(request: Request, exc: Exception) -> Response:
    """Malformed forms on pages get a page; the API keeps FastAPI's JSON 422."""
    assert isinstance(exc, RequestValidationError)
    if _is_api(request):
        detail = jsonable_encoder(exc.errors())
        return _AsciiJSONResponse(
            {"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    fields = ", ".join(
        f"{error['loc'][-1]}: {error['msg']}" for error in exc.errors() if error.get("loc")
    )
    return templates.TemplateResponse(
        request,
        "problem.html",
        ProblemPage(
            message=f"the form was not filled in correctly ({fields}); go back and try again"
        ),
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's errors (no such route, method not allowed): the page or FastAPI's JSON."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if _is_api(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    if exc.status_code == status.HTTP_404_NOT_FOUND:
        return _not_found_page(request, headers)
    message = str(exc.detail) if exc.detail else "the request could not be answered"
    return templates.TemplateResponse(
        request,
        "problem.html",
        ProblemPage(message=message),
        status_code=exc.status_code,
        headers=headers,
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    """Anything unforeseen: a page that says so, never a traceback (Starlette logs it)."""
    code = status.HTTP_500_INTERNAL_SERVER_ERROR
    if _is_api(request):
        return JSONResponse({"detail": "internal server error"}, status_code=code)
    try:
        return templates.TemplateResponse(
            request, "server_error.html", NoContext(), status_code=code
        )
    except Exception:  # the templates themselves failed: still no traceback
        logger.exception("the server error page could not be drawn")
        return Response("Sorry, there is a problem with the service.", status_code=code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
    app.add_exception_handler(RequestValidationError, _form_invalid)
    app.add_exception_handler(SurveyServiceError, _service_error)
    app.add_exception_handler(LoginRequiredError, _login_required)
    app.add_exception_handler(OperationalError, _database_down)
