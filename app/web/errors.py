"""Service errors as HTTP answers: JSON under /api, pages elsewhere."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError

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


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


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
    template = {
        LinkAlreadyUsedError: "respondent/used.html",
        RoundNotOpenError: "respondent/unavailable.html",
    }.get(type(exc), "problem.html")
    return templates.TemplateResponse(
        request, template, {"error": exc, "message": str(exc)}, status_code=code, headers=headers
    )


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequiredError)
    return RedirectResponse(
        f"/coordinator/login?next={exc.next_path}", status_code=status.HTTP_303_SEE_OTHER
    )


async def _database_down(request: Request, exc: Exception) -> Response:
    message = "the database is not available; try again in a minute"
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=503)
    return templates.TemplateResponse(
        request, "problem.html", {"message": message}, status_code=503
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
        {"message": f"the form was not filled in correctly ({fields}); go back and try again"},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _form_invalid)
    app.add_exception_handler(SurveyServiceError, _service_error)
    app.add_exception_handler(LoginRequiredError, _login_required)
    app.add_exception_handler(OperationalError, _database_down)
