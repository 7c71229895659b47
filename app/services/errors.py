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


class InstrumentRejectedError(SurveyServiceError):
    """An instrument document that does not validate, or clashes with a stored version; the
    message is one line naming the file and the field."""


class LinkAlreadyUsedError(SurveyServiceError):
    def __init__(self) -> None:
        super().__init__(
            "this link has already been used to submit a response; each personal link "
            "can be used only once"
        )


class RoundNotOpenError(SurveyServiceError):
    """The round is closed or not yet open.

    A closed round is described by the day it actually closed (``closed_on``), never by a
    planned closing date in the future.
    """

    def __init__(
        self, state: str, opens_on: date, closes_on: date, closed_on: date | None = None
    ) -> None:
        when = f"it is open from {opens_on:%-d %B %Y} to {closes_on:%-d %B %Y}"
        if state == "closed":
            message = (
                f"this survey closed on {closed_on:%-d %B %Y}"
                if closed_on is not None
                else "this survey has closed"
            )
        elif state == "not-yet-open":
            message = f"this survey is not open yet: {when}"
        else:
            message = f"this survey is not open: {when}"
        super().__init__(message)
        self.state = state
        self.opens_on = opens_on
        self.closes_on = closes_on
        self.closed_on = closed_on


class FieldValidationError(SurveyServiceError):
    """Input that does not fit; ``problems`` maps each field to a message.

    ``location`` places the fields in a request (``("body", "answers")``) for a 422 answer.
    """

    def __init__(self, problems: dict[str, str], location: tuple[str, ...] = ("body",)) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems.items()))
        self.problems = problems
        self.location = location


class ResumeCodeError(SurveyServiceError):
    """A started link's draft asked for without its resume code (``given`` False) or with a
    wrong one.  Started and submitted links answer alike, so the link alone tells neither."""

    def __init__(self, *, given: bool) -> None:
        super().__init__(
            "that resume code is not right for this link; check it and try again"
            if given
            else "this link has been started: its saved answers need the resume code shown "
            "to the person who started it"
        )
        self.given = given


class TooManyResumeCodesError(SurveyServiceError):
    """Too many wrong resume codes for one link lately."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
        super().__init__(
            f"too many wrong resume codes have been tried for this link; wait {wait} and try again"
        )
        self.retry_after = retry_after


class PdfUnavailableError(SurveyServiceError):
    """A PDF could not be made just now (the printer failed, timed out or was busy)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "the PDF could not be made just now; try again in a minute, or download the report "
            "as HTML and print it from the browser"
        )
        self.reason = reason
