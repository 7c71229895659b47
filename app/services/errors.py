"""Errors the services raise; routes turn them into pages or JSON with a status code."""

from __future__ import annotations

from datetime import date


class SurveyServiceError(Exception):
    """Base of every error a service raises on purpose."""


class RecordNotFoundError(SurveyServiceError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"no {kind} {key}")
        self.kind = kind
        self.key = key


class DuplicateRecordError(SurveyServiceError):
    """A name that must be unique is already taken."""


class InvalidRequestError(SurveyServiceError):
    """A request that makes no sense in the current state (e.g. closing dates before opening)."""


class LinkAlreadyUsedError(SurveyServiceError):
    def __init__(self) -> None:
        super().__init__(
            "this link has already been used to submit a response; each personal link "
            "can be used only once"
        )


class RoundNotOpenError(SurveyServiceError):
    """The round is closed or not yet open."""

    def __init__(self, state: str, opens_on: date, closes_on: date) -> None:
        when = f"it is open from {opens_on:%d %B %Y} to {closes_on:%d %B %Y}"
        message = {
            "not-yet-open": f"this survey is not open yet: {when}",
            "closed": f"this survey has closed: {when}",
        }.get(state, f"this survey is not open: {when}")
        super().__init__(message)
        self.state = state
        self.opens_on = opens_on
        self.closes_on = closes_on


class FieldValidationError(SurveyServiceError):
    """Input that does not fit; ``problems`` maps each field to a message.

    ``location`` places the fields in a request (``("body", "answers")``) for a 422 answer.
    """

    def __init__(self, problems: dict[str, str], location: tuple[str, ...] = ("body",)) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems.items()))
        self.problems = problems
        self.location = location
