"""Typed page contexts: what each page's template is given, as a frozen dataclass.

A route builds one of these and hands it to ``templates.TemplateResponse``; mypy checks the
route, and ``tests/test_page_contexts.py`` checks the template against it (as datasette's
documented template contexts are tested): every variable the template and its partials use
is a field here or a global of the environment, and every field here is used.  A page not
listed in ``PAGE_CONTEXTS`` still takes a plain dict.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

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
from app.reports.documents import ReportFile
from app.reports.rendering import ProfileChart, ReportDocumentPage
from app.services.account_management import AccountRow, PartnershipMember
from app.services.analyst import (
    PooledAgreement,
    PooledAnswers,
    PooledFactorAnalysis,
    PooledOmega,
    PooledReliability,
    PooledView,
)
from app.services.api_tokens import NewToken
from app.services.errors import RoundNotOpenError
from app.services.instruments import InstrumentChoice
from app.services.outbox import DeliveryCounts
from app.services.own_account import AccountSummary
from app.services.participants import Letter, OrganisationParticipants, RowProblem
from app.services.reports import RoundReport, Viewer
from app.services.rounds import OrganisationProgress, RoundState
from app.settings import Settings
from app.web.agreement_notes import IccNote
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


# Coordinator and analyst pages


@dataclass(frozen=True)
class CoordinatorDashboardPage:
    """``coordinator/dashboard.html``: the partnerships one runs; start another."""

    coordinator: Account
    partnerships: Sequence[Partnership]
    partnership_kinds: Mapping[str, str]  # a new partnership's kinds: value: label
    partnership_kind_labels: Mapping[str, str]  # every kind's label, old instruments' too
    form: FormState | None  # the new partnership's problems and input, when it was sent wrong


@dataclass(frozen=True)
class CoordinatorPartnershipPage:
    """``coordinator/partnership.html``: a partnership's organisations and rounds; add one."""

    coordinator: Account
    partnership: Partnership
    organisations: Sequence[Organisation]
    removable: Mapping[int, bool]  # organisation id: whether it may be removed
    rounds: Sequence[SurveyRound]
    organisation_kinds: Mapping[str, str]  # a new organisation's kinds: value: label
    organisation_kind_labels: Mapping[str, str]
    partnership_kind_labels: Mapping[str, str]
    instrument_choices: Mapping[str, str]  # a new round's instruments: key: label
    default_instrument: str  # the key chosen unless another is
    today: date
    threshold: int  # a new round's anonymity threshold unless another is given
    round_state: Callable[[SurveyRound], RoundState]
    form: FormState | None  # the organisation's or round's form, when it was sent wrong


@dataclass(frozen=True)
class PartnershipAccessPage:
    """``coordinator/access.html``: who may see a partnership; invite or remove someone."""

    coordinator: Account
    form: FormState | None
    partnership: Partnership
    members: Sequence[PartnershipMember]
    roles: Mapping[AccountRole, str]  # the roles one may be invited to: role: label


@dataclass(frozen=True)
class CloseRoundPage:
    """``coordinator/close.html``: confirm closing a round early."""

    coordinator: Account
    round: SurveyRound
    partnership: Partnership
    state: RoundState
    submitted: int  # the responses submitted so far


@dataclass(frozen=True)
class ClosingDatePage:
    """``coordinator/closing_date.html``: change an open round's closing date."""

    coordinator: Account
    form: FormState | None
    round: SurveyRound
    today: date


@dataclass(frozen=True)
class ReopenRoundPage:
    """``coordinator/reopen.html``: reopen a closed round until a new closing date."""

    coordinator: Account
    form: FormState | None
    round: SurveyRound
    state: RoundState
    closed_on: date | None
    today: date


@dataclass(frozen=True)
class ReplaceOpenLinkPage:
    """``coordinator/replace_open_link.html``: confirm replacing a round's open link."""

    coordinator: Account
    round: SurveyRound


@dataclass(frozen=True)
class RenamePage:
    """``coordinator/rename.html``: rename a partnership, an organisation or a round."""

    coordinator: Account
    form: FormState | None
    what: str  # "the partnership", "the organisation", "the round"
    current: str  # its name now
    action: str  # where the form posts
    back: str
    field_label: str


@dataclass(frozen=True)
class RemoveOrganisationPage:
    """``coordinator/remove_organisation.html``: confirm removing an organisation."""

    coordinator: Account
    partnership: Partnership
    organisation: Organisation
    removable: bool  # no link of it started or submitted
    unused: int  # its links never used, which stop working


@dataclass(frozen=True)
class DeletePage:
    """``coordinator/delete.html``: confirm deleting a round or a partnership by its name."""

    coordinator: Account
    form: FormState | None
    what: str  # "round" or "partnership"
    name: str
    action: str  # where the form posts
    back: str
    losing: Sequence[str]  # what goes with it, in words


@dataclass(frozen=True)
class PreviewPage:
    """``coordinator/preview.html``: a round's questionnaire, every section on one page."""

    coordinator: Account
    round: SurveyRound
    instrument: Instrument


@dataclass(frozen=True)
class ParticipantsPage:
    """``coordinator/participants.html``: a round's participants, add or remove them, send
    the invitations; counts only, never who has answered."""

    coordinator: Account
    round: SurveyRound
    state: RoundState
    partnership: Partnership
    organisations: Sequence[Organisation]
    counts: Sequence[OrganisationParticipants]
    invitations: DeliveryCounts  # the invitations' e-mails
    all_messages: DeliveryCounts  # every e-mail of the round
    reminders: Sequence[tuple[date, bool]]  # each reminder day, and whether it was sent
    text: str  # the participants typed, kept when they were refused
    page_problems: Sequence[PageProblem]
    row_problems: Sequence[RowProblem]
    added: int | None  # participants just added, if any
    queued: int | None  # invitations just queued, if any
    removed: bool  # a participant was just removed
    remove_problem: str | None  # what is wrong with the address to remove
    remove_value: str  # the address to remove, kept in the form


@dataclass(frozen=True)
class MailingPage:
    """``coordinator/mailing.html``: a round's invitation and reminder texts and dates."""

    coordinator: Account
    round: SurveyRound
    values: Mapping[str, str]  # the texts and dates, as saved or as sent
    problems: Mapping[str, str]  # field: what is wrong with it
    page_problems: Sequence[PageProblem]
    letters: Sequence[Letter]  # the invitation and reminder as sent, when previewed
    placeholders: Sequence[str]  # the ((names)) the texts may use
    saved: bool


@dataclass(frozen=True)
class PooledPage:
    """``analyst/pooled.html``: pooled counts by kind of partnership and pooled Table 4."""

    viewer: Viewer
    view: PooledView
    counts: Sequence[Mapping[Hashable, Any]]  # Table 3's rows: label, responses, partnerships


@dataclass(frozen=True, kw_only=True)
class AnalysisPage:
    """What every analysis page's form is given: the pooled answers (their instrument and
    rounds), the choices to show again, and the problems of a request that does not fit."""

    viewer: Viewer
    all: PooledAnswers
    chosen_rounds: Sequence[str]
    keying: str
    page_problems: Sequence[PageProblem] = ()
    field_errors: Mapping[str, str] = field(default_factory=dict)  # field: its problem


@dataclass(frozen=True, kw_only=True)
class ItemAnalysisPage(AnalysisPage):
    """An analysis of chosen items (or a scale's, filled in)."""

    chosen_items: Sequence[str]
    missing: str
    scale: str


@dataclass(frozen=True, kw_only=True)
class ReliabilityPage(ItemAnalysisPage):
    """``analyst/reliability.html``: Cronbach's alpha of chosen items."""

    pooled: PooledReliability | None = None  # the figures, once asked for


@dataclass(frozen=True, kw_only=True)
class OmegaPage(ItemAnalysisPage):
    """``analyst/omega.html``: McDonald's omega of chosen items, with a bootstrap CI."""

    bootstrap: str
    seed: str
    pooled: PooledOmega | None = None


@dataclass(frozen=True, kw_only=True)
class FactorPage(ItemAnalysisPage):
    """``analyst/factor.html``: exploratory factor analysis of chosen items."""

    factors: str
    method: str
    rotation: str
    pooled: PooledFactorAnalysis | None = None
    factor_names: Sequence[str] = ()  # MR1, MR2, ... (ML1, ... by maximum likelihood)


@dataclass(frozen=True, kw_only=True)
class AgreementPage(AnalysisPage):
    """``analyst/agreement.html``: rwg(j) per partnership and scale, ICC(1) and ICC(2)."""

    chosen_scales: Sequence[str]
    pooled: PooledAgreement | None = None
    icc_notes: Sequence[IccNote] = ()


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
    # Coordinator and analyst pages
    "coordinator/dashboard.html": CoordinatorDashboardPage,
    "coordinator/partnership.html": CoordinatorPartnershipPage,
    "coordinator/access.html": PartnershipAccessPage,
    "coordinator/close.html": CloseRoundPage,
    "coordinator/closing_date.html": ClosingDatePage,
    "coordinator/reopen.html": ReopenRoundPage,
    "coordinator/replace_open_link.html": ReplaceOpenLinkPage,
    "coordinator/rename.html": RenamePage,
    "coordinator/remove_organisation.html": RemoveOrganisationPage,
    "coordinator/delete.html": DeletePage,
    "coordinator/preview.html": PreviewPage,
    "coordinator/participants.html": ParticipantsPage,
    "coordinator/mailing.html": MailingPage,
    "analyst/pooled.html": PooledPage,
    "analyst/reliability.html": ReliabilityPage,
    "analyst/omega.html": OmegaPage,
    "analyst/factor.html": FactorPage,
    "analyst/agreement.html": AgreementPage,
}


# Account, respondent, report and public pages


@dataclass(frozen=True)
class SignInPage:
    """``account/sign_in.html``: e-mail address and password, again after a failure."""

    next: str  # where to go once signed in (checked then, not here)
    email: str  # the address typed, kept after a failure
    failed: bool


@dataclass(frozen=True)
class SignInCodePage:
    """``account/sign_in_code.html``: the second factor's code, after the password."""

    next: str
    form: FormState | None


@dataclass(frozen=True)
class SecondFactorSetUpPage:
    """``account/second_factor_set_up.html``: a new secret as a QR code and in groups, and the
    code that proves the app holds it; while signing in (a role requires one) or from the
    account."""

    account: Account | None  # None while signing in: the header shows no account yet
    action: str  # where the form is sent
    next: str
    sealed: str  # the secret, encrypted for this account, sent back with the code
    grouped: str  # the secret in groups of four, to type by hand
    uri: str  # the otpauth:// address the QR code holds
    qr_svg: str  # the QR code as inline SVG
    form: FormState | None
    required: bool  # whether the account's roles require one (signing in), or it is a choice


@dataclass(frozen=True)
class SecondFactorPage:
    """``account/second_factor.html``: your second factor is on; turning it off."""

    account: Account
    required: bool  # whether one of the account's roles requires it (then it stays on)
    form: FormState | None


@dataclass(frozen=True)
class ForgotPasswordPage:
    """``account/forgot.html``: ask for a set-your-password link, the same answer for all."""

    form: FormState | None
    sent: bool


@dataclass(frozen=True)
class SetPasswordPage:
    """``account/set_password.html``: choose a password from an e-mailed link."""

    form: FormState | None
    token: str  # the link's token, the form's address
    email: str  # the account the link is for


@dataclass(frozen=True)
class LinkUnusablePage:
    """``account/link_unusable.html``: a set-your-password link that is used or too old."""

    forgot: str  # where to ask for a new one


@dataclass(frozen=True)
class StartPage:
    """``respondent/start.html``: what the survey is for; the open link's organisation
    choice, or a personal link's way in (where its respondent left off)."""

    token: str
    round: SurveyRound
    instrument: Instrument
    partnership: Partnership
    open_link: bool
    page_problems: Sequence[PageProblem]
    organisations: Sequence[Organisation]  # the open link's choice (a personal link: none)
    has_draft: bool  # a personal link: whether answers are saved already
    next_url: str  # a personal link: the first page not yet answered (the open link: "")


@dataclass(frozen=True)
class ResumePage:
    """``respondent/resume.html``: the resume code of a started link, asked for."""

    token: str
    round: SurveyRound
    instrument: Instrument
    posted: Sequence[tuple[str, str]]  # fields posted to a page that needed the code
    problem: str | None
    typed: str  # the code as typed, kept after a wrong one
    page_problems: Sequence[PageProblem]


@dataclass(frozen=True)
class SavedPage:
    """``respondent/saved.html``: saved for later, with the link and code to come back."""

    round: SurveyRound
    instrument: Instrument
    resume_url: str
    resume_code: str | None  # grouped for reading


@dataclass(frozen=True)
class ThankYouPage:
    """``respondent/thank_you.html``: the response is sent."""

    round: SurveyRound
    instrument: Instrument


@dataclass(frozen=True)
class TryAgainPage:
    """``respondent/try_again.html``: 503, the posted fields in a form to send again."""

    retry_url: str
    posted: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class UnavailablePage:
    """``respondent/unavailable.html``: the round is closed or not open yet, and when."""

    error: RoundNotOpenError


@dataclass(frozen=True)
class ReportRoundPage:
    """``reports/round.html``: a round's report, its charts as inline SVG (none below the
    threshold), and its downloads."""

    viewer: Viewer
    report: RoundReport
    band_tags: Mapping[str, str]  # a reading's band: its tag's class
    report_files: Sequence[ReportFile]  # the files offered for download
    profiles: Sequence[ProfileChart]
    item_svgs: Mapping[str, str]  # scale id: its items' chart
    heat_maps: Mapping[str, str]  # asymmetry table id: its heat map
    trend_svg: str | None  # the trend over all rounds, when there is one


@dataclass(frozen=True)
class PrivacyPage:
    """``public/privacy.html``: who holds the data, why, for how long, who sees what."""

    settings: Settings
    threshold: int  # the anonymity threshold
    minimum_threshold: int  # the smallest threshold a partnership may choose
    responses_kept: str | None  # in words; None: kept until deleted
    drafts_kept: str
    audit_kept: str | None


@dataclass(frozen=True)
class OptOutPage:
    """``mail/opt_out.html``: stop a round's reminders to one address."""

    token: str
    done: bool  # whether this address has opted out already


@dataclass(frozen=True)
class ProblemPage:
    """``problem.html``: what went wrong, in a sentence (the services' errors and others)."""

    message: str


@dataclass(frozen=True)
class TooManyPage:
    """``too_many.html``: 429, when to try again, and the posted fields kept to send again."""

    message: str
    posted: Sequence[tuple[str, str]]
    retry_url: str
    keeps_answers: bool  # whether a form was posted: its fields are kept, to send again


PAGE_CONTEXTS.update(
    {
        "account/sign_in.html": SignInPage,
        "account/sign_in_code.html": SignInCodePage,
        "account/second_factor_set_up.html": SecondFactorSetUpPage,
        "account/second_factor.html": SecondFactorPage,
        "account/forgot.html": ForgotPasswordPage,
        "account/set_password.html": SetPasswordPage,
        "account/link_unusable.html": LinkUnusablePage,
        "respondent/start.html": StartPage,
        "respondent/resume.html": ResumePage,
        "respondent/saved.html": SavedPage,
        "respondent/thank_you.html": ThankYouPage,
        "respondent/try_again.html": TryAgainPage,
        "respondent/unavailable.html": UnavailablePage,
        "respondent/used.html": NoContext,
        "reports/round.html": ReportRoundPage,
        "reports/document.html": ReportDocumentPage,
        "public/privacy.html": PrivacyPage,
        "mail/opt_out.html": OptOutPage,
        "mail/opt_out_unknown.html": NoContext,
        "problem.html": ProblemPage,
        "too_many.html": TooManyPage,
    }
)
