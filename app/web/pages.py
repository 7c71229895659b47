"""Typed page contexts: what each page's template is given, as a frozen dataclass.

A route builds one of these and hands it to ``templates.TemplateResponse``; mypy checks the
route, and ``tests/test_page_contexts.py`` checks the template against it (as datasette's
documented template contexts are tested): every variable the template and its partials use
is a field here or a global of the environment, and every field here is used.  A page not
listed in ``PAGE_CONTEXTS`` still takes a plain dict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from analysis.instrument import Instrument, Section
from app.models import Account, ApiToken, Organisation, Partnership, SurveyRound
from app.services.api_tokens import NewToken
from app.services.own_account import AccountSummary
from app.services.reports import Viewer
from app.services.rounds import OrganisationProgress, RoundState
from app.web.forms import FormState
from app.web.page_problems import PageProblem


@dataclass(frozen=True)
class NoContext:
    """A page that needs nothing but the environment's globals."""


@dataclass(frozen=True)
class CoordinatorRoundPage:
    """``coordinator/round.html``: a round, its progress (counts only), links and closing."""

    coordinator: Account
    round: SurveyRound
    state: RoundState
    instrument: Instrument
    partnership: Partnership
    organisations: Sequence[Organisation]
    progress: Sequence[OrganisationProgress]
    total: OrganisationProgress | None
    most_links: int
    open_link: str | None  # the round's open link, shown again (None: none, or an old one)
    has_open_link: bool
    form: FormState | None  # the links form's problems and input, when it was sent wrong
    reads_report: bool  # whether this account may open the round's report itself


@dataclass(frozen=True)
class ReportsIndexPage:
    """``reports/index.html``: the partnerships a reader may read, each with its rounds."""

    viewer: Viewer
    listed: Sequence[tuple[Partnership, Sequence[SurveyRound]]]
    round_state: Callable[[SurveyRound], RoundState]
    state_names: Mapping[RoundState, str]
    state_tags: Mapping[RoundState, str]


@dataclass(frozen=True)
class SectionPage:
    """``respondent/section.html``: one section of the questionnaire."""

    token: str
    instrument: Instrument
    section: Section
    position: int
    back_url: str
    back_text: str
    answers: Mapping[str, int]
    background: Mapping[str, str]
    posted_text: Mapping[str, str]
    page_problems: Sequence[PageProblem]
    problems: Mapping[str, str]
    change: bool
    focus: str  # the question the respondent came to change: its chosen answer is focused
    prefilled: Sequence[str]  # the questions the link filled in, before anything was saved
    new: bool
    resume_code: str | None


@dataclass(frozen=True)
class CheckPage:
    """``respondent/check.html``: every answer, with a Change link to each question."""

    token: str
    instrument: Instrument
    answers: Mapping[str, int]
    background: Mapping[str, str]
    missing: Mapping[str, str]
    page_problems: Sequence[PageProblem]
    back_url: str
    new: bool
    resume_code: str | None


@dataclass(frozen=True)
class AccountTokensPage:
    """``account/tokens.html``: the account's API tokens, a new one shown once."""

    account: Account
    tokens: Sequence[ApiToken]
    new_token: NewToken | None  # just made: its secret, shown this once
    problem: str | None  # what is wrong with the name asked for
    name: str  # the name asked for, kept in the form


@dataclass(frozen=True)
class AccountSummaryPage:
    """``account/summary.html``: who you are, your roles and partnerships, what to change."""

    account: Account
    summary: AccountSummary
    done: str | None  # the message of what was just done, if anything


@dataclass(frozen=True)
class PasswordPage:
    """``account/password.html``: change your own password."""

    account: Account
    form: FormState | None
    minimum: int  # the shortest password accepted


PAGE_CONTEXTS: dict[str, type] = {
    "account/tokens.html": AccountTokensPage,
    "account/summary.html": AccountSummaryPage,
    "account/password.html": PasswordPage,
    "coordinator/round.html": CoordinatorRoundPage,
    "reports/index.html": ReportsIndexPage,
    "respondent/section.html": SectionPage,
    "respondent/check.html": CheckPage,
    "not_found.html": NoContext,
    "server_error.html": NoContext,
    "respondent/unknown_link.html": NoContext,
}
