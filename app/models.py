"""Tables of the survey service.

partnership -> organisation -> survey_round -> invitation -> response.  A response keeps the
answers of one respondent as two JSON objects (items and background questions), so that a whole
round loads as an items matrix in one query, one row per response.  Nothing on a response
identifies a person: no name, e-mail or IP address; on submission the response is detached from
the invitation that led to it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

JSON_DOCUMENT = sa.JSON().with_variant(JSONB(), "postgresql")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _timestamp(*, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(sa.DateTime(timezone=True), nullable=nullable)


class RoundStatus(StrEnum):
    """A round's life: a draft (being set up; opened by a coordinator or on its opening date),
    open, closed (by a coordinator, or by its closing date passing); a closed round may be
    reopened."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class InvitationKind(StrEnum):
    PERSONAL = "personal"
    OPEN = "open"


class ReleasePolicy(StrEnum):
    """When a round's results are published: once it closes (the default), or in interim
    releases that each add at least the round's threshold of responses."""

    AT_CLOSE = "at-close"
    INTERIM = "interim"


class InvitationStatus(StrEnum):
    UNUSED = "unused"
    STARTED = "started"
    SUBMITTED = "submitted"
    REVOKED = "revoked"


class ResponseStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class AccountRole(StrEnum):
    """What an account may do: coordinators run rounds; evaluators read their partnerships'
    reports; analysts read every partnership's reports, pooled figures and raw exports;
    admins do everything."""

    COORDINATOR = "coordinator"
    ADMIN = "admin"
    EVALUATOR = "evaluator"
    ANALYST = "analyst"


ROLE_ORDER = (
    AccountRole.ADMIN,
    AccountRole.COORDINATOR,
    AccountRole.ANALYST,
    AccountRole.EVALUATOR,
)


class Account(SQLModel, table=True):
    """A person with an account: one or more roles (never a respondent).

    ``roles`` holds the account's role names, space-separated in :data:`ROLE_ORDER`
    (``"coordinator evaluator"``); read it through :attr:`role_set`.  ``password_hash`` is
    ``None`` until an invited person sets a password.  A disabled account (``disabled_at``)
    cannot sign in, and its sessions and API tokens stop working at once.  ``totp_secret``
    is set once the person has set up a second factor (an authenticator app).
    """

    __tablename__ = "account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str | None = Field(default=None, max_length=255)
    roles: str = Field(default=AccountRole.COORDINATOR, max_length=100)
    disabled_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    totp_secret: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())

    def has_any_role(self, roles: Collection[str]) -> bool:
        return not self.role_set.isdisjoint(roles)

    @property
    def role_words(self) -> str:
        """The roles for a page: "coordinator and evaluator"."""
        names = [role for role in ROLE_ORDER if role in self.role_set]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def role_text(roles: Collection[str]) -> str:
    """``roles`` as stored in :attr:`Account.roles`: known roles only, in :data:`ROLE_ORDER`."""
    return " ".join(role for role in ROLE_ORDER if role in set(roles))


class Partnership(SQLModel, table=True):
    __tablename__ = "partnership"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    # An option of the partnership_attribute question of the instruments (which one is data).
    kind: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Organisation(SQLModel, table=True):
    """A member organisation of a partnership."""

    __tablename__ = "organisation"
    __table_args__ = (sa.UniqueConstraint("partnership_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: int = Field(foreign_key="partnership.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=200)
    # An option of the organisation_attribute question of the instruments.
    kind: str = Field(max_length=64)


class InstrumentDocument(SQLModel, table=True):
    """One version of an instrument, as the YAML document it was validated from.

    Rounds reference the instrument and version they were opened with, so a round's reports
    keep their questionnaire whatever files the code ships later; a stored version is never
    changed (another document needs another version).
    """

    __tablename__ = "instrument_document"

    instrument_id: str = Field(max_length=64, primary_key=True)
    version: str = Field(max_length=32, primary_key=True)
    title: str = Field(max_length=200)
    document: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    sha256: str = Field(max_length=64)
    source: str = Field(max_length=16)  # "bundled" or "added" (by an admin)
    added_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class SurveyRound(SQLModel, table=True):
    """One run of an instrument in a partnership, between two dates.

    ``opens_on`` and ``closes_on`` are days in the service's time zone (TIME_ZONE); the
    round takes answers from the start of its opening day to the end of its closing day.
    ``closed_on`` is the day it actually closed (earlier than ``closes_on`` when closed
    early); ``None`` while it has not.  ``answers_deleted_on`` is the day the retention purge
    deleted its answers (:mod:`app.services.retention`): its report gives no figure after it.
    """

    __tablename__ = "survey_round"
    __table_args__ = (
        sa.CheckConstraint("anonymity_threshold >= 3", name="anonymity_threshold_at_least_3"),
        sa.CheckConstraint("closes_on >= opens_on", name="closes_after_opening"),
        sa.CheckConstraint("status IN ('draft', 'open', 'closed')", name="status_known"),
        sa.CheckConstraint(
            "release_policy IN ('at-close', 'interim')", name="release_policy_known"
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id", "instrument_version"],
            ["instrument_document.instrument_id", "instrument_document.version"],
            name="fk_survey_round_instrument_document",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    partnership_id: int = Field(foreign_key="partnership.id", ondelete="CASCADE", index=True)
    title: str = Field(max_length=200)
    instrument_id: str = Field(max_length=64)
    instrument_version: str = Field(max_length=32)
    opens_on: date
    closes_on: date
    status: str = Field(default=RoundStatus.OPEN, max_length=16)
    anonymity_threshold: int = Field(default=5)
    release_policy: str = Field(
        default=ReleasePolicy.AT_CLOSE,
        sa_column=sa.Column(sa.String(16), nullable=False, server_default=ReleasePolicy.AT_CLOSE),
    )
    closed_on: date | None = Field(default=None)
    reopened: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )
    answers_deleted_on: date | None = Field(default=None)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Invitation(SQLModel, table=True):
    """A link into a round: personal and single-use, or one open link for the whole round.

    Only the SHA-256 hash of the link's token is stored.
    """

    __tablename__ = "invitation"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('personal', 'open')", name="kind_known"),
        sa.CheckConstraint(
            "status IN ('unused', 'started', 'submitted', 'revoked')", name="status_known"
        ),
        sa.Index("ix_invitation_round_organisation", "round_id", "organisation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="survey_round.id", ondelete="CASCADE")
    organisation_id: int | None = Field(
        default=None, foreign_key="organisation.id", ondelete="SET NULL"
    )
    kind: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    status: str = Field(default=InvitationStatus.UNUSED, max_length=16)
    from_open_link: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    # SHA-256 of the resume code: the second secret, shown only to the respondent, that
    # resuming a started link elsewhere than in the browser that started it needs.
    resume_code_hash: str | None = Field(default=None, max_length=64)
    # An open link's token is HMAC(SECRET_KEY, seed): the round's page can show it again,
    # while the database alone (a backup, say) does not give it away.
    link_seed: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class Response(SQLModel, table=True):
    """One respondent's answers to a round, a draft until submitted."""

    __tablename__ = "response"
    __table_args__ = (
        sa.CheckConstraint("status IN ('draft', 'submitted')", name="status_known"),
        sa.Index("ix_response_round_status", "round_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="survey_round.id", ondelete="CASCADE")
    invitation_id: int | None = Field(
        default=None, foreign_key="invitation.id", ondelete="SET NULL", unique=True
    )
    status: str = Field(default=ResponseStatus.DRAFT, max_length=16)
    instrument_version: str = Field(max_length=32)
    answers: dict[str, int] = Field(
        default_factory=dict, sa_column=sa.Column(JSON_DOCUMENT, nullable=False)
    )
    background: dict[str, str] = Field(
        default_factory=dict, sa_column=sa.Column(JSON_DOCUMENT, nullable=False)
    )
    next_section: str | None = Field(default=None, max_length=64)
    from_open_link: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    # The number of the release (see RoundRelease) that first published this response; None
    # while it is unpublished.
    release: int | None = Field(default=None)
    started_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    submitted_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class PartnershipGrant(SQLModel, table=True):
    """A partnership whose reports an account may read (evaluators) or run (coordinators)."""

    __tablename__ = "partnership_grant"

    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", primary_key=True)
    partnership_id: int = Field(
        foreign_key="partnership.id", ondelete="CASCADE", primary_key=True, index=True
    )
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class RateLimitCounter(SQLModel, table=True):
    """Failed attempts in one fixed window, shared by every worker through the database.

    ``key_hash`` is an HMAC (keyed by SECRET_KEY) of what is limited, an e-mail address or a
    client address, so neither is stored.  ``window_start`` is in seconds since the epoch.
    """

    __tablename__ = "rate_limit_counter"

    bucket: str = Field(max_length=32, primary_key=True)
    key_hash: str = Field(max_length=64, primary_key=True)
    window_start: int = Field(sa_type=sa.BigInteger, primary_key=True, index=True)
    hits: int = Field(default=0)


class RoundRelease(SQLModel, table=True):
    """One publication of a round's results: the responses with ``release <= number`` are
    published.  Releases of one round differ by at least its anonymity threshold."""

    __tablename__ = "round_release"

    round_id: int = Field(foreign_key="survey_round.id", ondelete="CASCADE", primary_key=True)
    number: int = Field(primary_key=True)
    responses: int
    final: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class AccountSession(SQLModel, table=True):
    """A signed-in browser session, kept on the server so that signing out (or disabling an
    account) ends it at once.  Only the SHA-256 hash of the session's secret is stored."""

    __tablename__ = "account_session"

    token_hash: str = Field(max_length=64, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    expires_at: datetime = Field(sa_column=_timestamp())
    # Signed in with a password, waiting for the second factor: no page treats such a session
    # as signed in except the one that asks for the code.
    pending_factor: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )


class RawAccessGrant(SQLModel, table=True):
    """An admin's explicit grant to an analyst of raw (not k-anonymised) row-level exports."""

    __tablename__ = "raw_access_grant"

    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", primary_key=True)
    granted_by_id: int | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    reason: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class OutboxStatus(StrEnum):
    """Where a message of the outbox stands: waiting (or retrying), delivered to the mail
    server or Notify, refused for good, or reported undeliverable afterwards."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"


class OutboxMessage(SQLModel, table=True):
    """One e-mail waiting to go, or gone: the durable outbox the worker sends from.

    Once a message is sent or has failed for good, its recipient and body are erased (the body
    may hold a personal link); what stays is what the per-round counts need.  ``message_id``
    is the Message-ID header, fixed when queued, so that every attempt of one message carries
    the same one.  ``lease_until`` is when a worker's claim on it lapses.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('queued', 'sent', 'failed', 'bounced')", name="status_known"
        ),
        sa.Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index("ix_outbox_message_round_status", "round_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=32)
    round_id: int | None = Field(default=None, foreign_key="survey_round.id", ondelete="CASCADE")
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", ondelete="SET NULL"
    )
    recipient: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    message_id: str = Field(max_length=200, unique=True)
    status: str = Field(default=OutboxStatus.QUEUED, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    lease_until: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    claimed_by: str | None = Field(default=None, max_length=64)
    provider_reference: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    sent_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class Participant(SQLModel, table=True):
    """A person invited to a round by e-mail, kept apart from invitations and responses.

    No column refers to an invitation or a response.  The personal link is rebuilt when
    needed from ``link_seed`` and the deployment's SECRET_KEY (an HMAC), so the database alone
    does not join an address to a link, a draft or a submission.  Deleted when the round
    closes.
    """

    __tablename__ = "participant"
    __table_args__ = (sa.UniqueConstraint("round_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="survey_round.id", ondelete="CASCADE", index=True)
    organisation_id: int = Field(foreign_key="organisation.id", ondelete="CASCADE", index=True)
    email: str = Field(max_length=254)
    link_seed: str = Field(max_length=64, unique=True)
    opt_out_hash: str = Field(max_length=64, unique=True)
    reminders_opted_out: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    undeliverable: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    invited: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class RoundMailing(SQLModel, table=True):
    """A round's invitation and reminder texts and its reminder dates (ISO dates, JSON)."""

    __tablename__ = "round_mailing"

    round_id: int = Field(foreign_key="survey_round.id", ondelete="CASCADE", primary_key=True)
    invitation_subject: str = Field(max_length=300)
    invitation_text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    reminder_subject: str = Field(max_length=300)
    reminder_text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    reminder_dates: list[str] = Field(
        default_factory=list, sa_column=sa.Column(JSON_DOCUMENT, nullable=False)
    )
    # Where the links in the round's e-mails start (PUBLIC_BASE_URL, or the coordinator's
    # page's own address when the invitations were sent); the worker's reminders use it.
    link_base: str | None = Field(default=None, max_length=300)
    updated_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class ReminderRun(SQLModel, table=True):
    """One scheduled reminder of a round, once the worker has queued it (never who got it)."""

    __tablename__ = "reminder_run"

    round_id: int = Field(foreign_key="survey_round.id", ondelete="CASCADE", primary_key=True)
    reminder_on: date = Field(primary_key=True)
    queued: int = Field(default=0)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())


class ApiToken(SQLModel, table=True):
    """A personal API token of an account: ``Authorization: Bearer <token>`` on the API.

    Only an HMAC-SHA256 of the token (keyed by SECRET_KEY) is stored; the token itself is
    shown once, when it is made.  ``prefix`` (its first characters) lets its holder tell their
    tokens apart.  A revoked token keeps its row (``revoked_at``) and stops working at once.
    """

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    revoked_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class AccountLinkPurpose(StrEnum):
    INVITATION = "invitation"  # an invited person sets their first password
    PASSWORD_RESET = "reset"  # noqa: S105 (a purpose, not a password): "forgot password"


class AccountLink(SQLModel, table=True):
    """A set-your-password link sent by e-mail: works once, until ``expires_at``.

    Only the SHA-256 of the link's secret is stored.
    """

    __tablename__ = "account_link"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE", index=True)
    purpose: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utc_now, sa_column=_timestamp())
    expires_at: datetime = Field(sa_column=_timestamp())
    used_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class RolePolicy(SQLModel, table=True):
    """What an admin requires of every account holding ``role``: a second factor (TOTP)."""

    __tablename__ = "role_policy"

    role: str = Field(max_length=32, primary_key=True)
    totp_required: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )


class AuditEvent(SQLModel, table=True):
    """One line of the append-only audit trail: who did what, to what, when.

    ``actor_id`` is not a foreign key, so that the line outlives the account; ``actor`` keeps
    the e-mail address the account had (or ``"worker"``, ``"command line"``).  ``target``
    names what was acted on (``"round 3"``, ``"account ann@example.nhs.uk"``,
    ``"report.xlsx of round 3"``); ``partnership_id`` (not a foreign key either) lets an admin
    filter by partnership.  Never an answer, a link, a password or a token.
    """

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(
        default_factory=utc_now,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False, index=True),
    )
    actor_id: int | None = Field(default=None, index=True)
    actor: str = Field(max_length=254)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=300)
    partnership_id: int | None = Field(default=None, index=True)
    outcome: str = Field(default="done", max_length=16)  # "done", "refused", "failed"
    detail: str = Field(default="", max_length=500)
