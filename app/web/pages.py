"""Typed page contexts: what each page's template is given, as a frozen dataclass.

A route builds one of these and hands it to ``templates.TemplateResponse``; mypy checks the
route, and ``tests/test_page_contexts.py`` checks the template against it (as datasette's
documented template contexts are tested): every variable the template and its partials use
is a field here or a global of the environment, and every field here is used.  A page not
listed in ``PAGE_CONTEXTS`` still takes a plain dict.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from analysis.instrument import Instrument, Section
from app.models import (
    Account,
    AccountRole,
    ApiToken,
    AuditEvent,
    Organisation,
    Partnership,
    SurveyRound,
)
from app.services.account_management import AccountRow
from app.services.api_tokens import NewToken
from app.services.instruments import InstrumentChoice
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


@dataclass(frozen=True)
class AdminAccountsPage:
    """``admin/accounts.html``: every account, filtered by role, partnership and words."""

    account: Account
    rows: Sequence[AccountRow]
    partnerships: Sequence[Partnership]  # the partnership filter's choices
    chosen: Mapping[str, str]  # the filters asked for: role, partnership, q
    roles: Mapping[AccountRole, str]  # role: its label


@dataclass(frozen=True)
class InviteAccountPage:
    """``admin/invite.html``: invite someone, with roles and partnerships."""

    account: Account
    form: FormState | None
    roles: Mapping[AccountRole, str]
    partnerships: Sequence[Partnership]
    partnership_choices: Mapping[str, str]  # partnership id: name


@dataclass(frozen=True)
class AdminAccountPage:
    """``admin/account.html``: one account's roles, partnerships, disabling and removing."""

    account: Account  # the admin reading the page
    form: FormState | None
    row: AccountRow  # the account shown
    roles: Mapping[AccountRole, str]
    others: Sequence[Partnership]  # the partnerships it may still be given
    is_self: bool


@dataclass(frozen=True)
class RemoveAccountPage:
    """``admin/remove_account.html``: confirm removing an account by typing its address."""

    account: Account
    form: FormState | None
    row: AccountRow
    is_self: bool


@dataclass(frozen=True)
class SecurityPage:
    """``admin/security.html``: which roles must use a second factor."""

    account: Account
    roles: Mapping[AccountRole, str]
    chosen: Collection[str]  # the roles ticked: the policy, or what was sent
    form: FormState | None
    saved: bool
    own_summary: AccountSummary  # the admin's own second factor, for the warning


@dataclass(frozen=True)
class PageLink:
    """One link of a numbered pagination (or an ellipsis between them)."""

    number: int
    href: str
    current: bool = False
    ellipsis: bool = False


@dataclass(frozen=True)
class AuditLine:
    """A line of the trail as the page shows it: its action and detail in words."""

    event: AuditEvent
    action: str
    detail: str


@dataclass(frozen=True)
class AuditPage:
    """``admin/audit.html``: the trail, newest first, a page of lines, with its filters."""

    coordinator: Account
    form: FormState  # the filters as sent, and their problems
    lines: Sequence[AuditLine]
    shown_time: Callable[[datetime], str]
    time_zone: str
    partnership_names: Mapping[int, str]
    actions: Mapping[str, str]  # the action filter's choices: value: label
    partnership_choices: Mapping[str, str]
    total: int
    page: int
    pages: int
    first_shown: int
    last_shown: int
    page_links: Sequence[PageLink]
    previous_href: str | None
    next_href: str | None
    csv_href: str
    filtered: bool


@dataclass(frozen=True)
class InstrumentsPage:
    """``admin/instruments.html``: the questionnaires new rounds may use; add one."""

    coordinator: Account
    form: FormState | None  # the upload's problem, when it was refused
    choices: Sequence[InstrumentChoice]


PAGE_CONTEXTS: dict[str, type] = {
    "admin/accounts.html": AdminAccountsPage,
    "admin/invite.html": InviteAccountPage,
    "admin/account.html": AdminAccountPage,
    "admin/remove_account.html": RemoveAccountPage,
    "admin/security.html": SecurityPage,
    "admin/audit.html": AuditPage,
    "admin/instruments.html": InstrumentsPage,
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
