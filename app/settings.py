"""Settings of the survey service, read from the environment (and an optional ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from analysis.anonymity import DEFAULT_THRESHOLD, MINIMUM_THRESHOLD
from app.security import load_or_create_secret_key
from instruments import default_instrument

# Published in earlier versions' source as the default SECRET_KEY: refused everywhere now.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105
MINIMUM_SECRET_KEY_LENGTH = 32
DEFAULT_DATABASE_URL = "sqlite:///./data/trust-survey.sqlite3"
DEFAULT_DATA_FOLDER = Path("data")
SECRET_KEY_FILE_NAME = "secret-key"  # noqa: S105 - a file name
MINIMUM_ANONYMITY_THRESHOLD = MINIMUM_THRESHOLD
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
TEST_CLIENT_HOST = "testserver"  # Starlette's TestClient, trusted when ENVIRONMENT=test


# Retention (docs/data-protection.md explains the choice of each default).
RESPONSE_RETENTION_DAYS = 1095  # 3 years: a round is compared with the next one or two
DRAFT_GRACE_DAYS = 30
AUDIT_RETENTION_DAYS = 730
DEFAULT_PRIVACY_CONTACT = "the survey coordinator who sent you the link"
DEFAULT_LAWFUL_BASIS = (
    "Public task (UK GDPR Article 6(1)(e)): the partnership's organisations survey how they "
    "work together as part of their public functions"
)
DEFAULT_PRIVACY_PURPOSE = (
    "To find out how much the organisations in a partnership trust each other and how well "
    "they work together, so that the partnership can see what to improve"
)


def host_of(netloc: str) -> str:
    """The host of a ``Host`` header or a URL's ``host[:port]``, lower case, without the port
    (an IPv6 address keeps its brackets: ``[::1]``)."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1] if "]" in netloc else netloc
    return netloc.split(":", 1)[0].rstrip(".")


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs session cookies; if unset, a random key kept in SECRET_KEY_FILE.",
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="Where the generated key is kept: secret-key beside the SQLite database.",
    )
    allowed_hosts: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Host names the service answers to besides loopback and PUBLIC_BASE_URL's.",
    )
    anonymity_threshold: int = Field(default=DEFAULT_THRESHOLD, ge=MINIMUM_ANONYMITY_THRESHOLD)
    instrument: str = Field(
        default_factory=default_instrument,
        description="The instrument new rounds use by default (its newest version).",
    )
    time_zone: str = Field(
        default="Europe/London",
        description="The IANA time zone round dates are days of (opening, closing).",
    )
    public_base_url: str | None = Field(
        default=None,
        description="Base of the links handed to respondents; the request's own URL if unset.",
    )
    max_links_per_request: int = Field(default=500, ge=1)
    account_link_hours: int = Field(
        default=72,
        ge=1,
        le=24 * 14,
        description="Hours an e-mailed set-your-password link (invitation or reset) works.",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=500,
        description="Database connections per worker process; as many threads serve requests.",
    )
    sqlite_busy_timeout: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="Seconds a SQLite writer waits for another before the request fails (503).",
    )
    mail_backend: Literal["smtp", "notify", "console"] = Field(
        default="smtp",
        description="How the worker sends e-mail: SMTP, GOV.UK Notify, or printed (development).",
    )
    mail_from: str = Field(
        default="Partnership Trust Survey <trust-survey@localhost>",
        max_length=300,
        description="The From address of every e-mail (SMTP); its domain names the Message-IDs.",
    )
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_timeout: float = Field(default=30.0, gt=0, le=300)
    notify_api_key: SecretStr | None = None
    notify_template_id: str | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    mail_rate_per_minute: int = Field(default=60, ge=1, le=100_000)
    mail_max_attempts: int = Field(default=8, ge=1, le=100)
    mail_retry_seconds: float = Field(default=60.0, gt=0, le=86_400)
    mail_lease_seconds: float = Field(default=300.0, gt=0, le=86_400)
    worker_poll_seconds: float = Field(default=5.0, gt=0, le=3_600)
    nhsuk_frontend_path: Path | None = Field(
        default=None,
        description="The installed nhsuk-frontend package; ./node_modules/nhsuk-frontend if unset.",
    )
    pdf_engine: Literal["auto", "chromium", "weasyprint"] = Field(
        default="auto",
        description="What prints report PDFs: Chromium where installed (auto), else WeasyPrint.",
    )
    chromium_path: Path | None = Field(
        default=None,
        description="The Chromium executable for PDFs; chromium on the PATH if unset.",
    )
    pdf_timeout: float = Field(
        default=30.0, gt=0, le=600, description="Seconds a PDF may take before it fails (503)."
    )
    pdf_concurrency: int = Field(
        default=2, ge=1, le=64, description="PDFs printed at once per worker; others wait."
    )

    # -- retention and the privacy notice (docs/data-protection.md lists these) ----------
    response_retention_days: int = Field(
        default=RESPONSE_RETENTION_DAYS,
        ge=0,
        description="Days after a round closes that its submitted answers are deleted (0: kept).",
    )
    draft_grace_days: int = Field(
        default=DRAFT_GRACE_DAYS,
        ge=0,
        description="Days after a round closes that its unfinished drafts are deleted.",
    )
    audit_retention_days: int = Field(
        default=AUDIT_RETENTION_DAYS,
        ge=0,
        description="Days an audit trail line is kept (0: kept for ever).",
    )
    data_controller: str | None = Field(
        default=None,
        max_length=300,
        description=(
            "Who decides why and how the answers are used, named on the privacy notice (unset: "
            "the notice says that no controller has been named yet, and whom to ask)."
        ),
    )
    privacy_contact: str = Field(
        default=DEFAULT_PRIVACY_CONTACT,
        max_length=300,
        description="The e-mail or postal address for questions about the survey's data.",
    )
    dpo_contact: str | None = Field(
        default=None,
        max_length=300,
        description="The data protection officer's contact, on the privacy notice if set.",
    )
    lawful_basis: str = Field(
        default=DEFAULT_LAWFUL_BASIS,
        max_length=500,
        description="The UK GDPR lawful basis for processing, on the privacy notice.",
    )
    privacy_purpose: str = Field(
        default=DEFAULT_PRIVACY_PURPOSE,
        max_length=1000,
        description="Why the survey is run, in plain words, on the privacy notice.",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        """``ALLOWED_HOSTS=survey.example.nhs.uk,10.0.0.5``: comma-separated host names."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(host_of(str(item)) for item in value if str(item).strip())
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "must be an IANA time zone name, e.g. Europe/London or Europe/Dublin"
            ) from None
        return value

    @field_validator("public_base_url")
    @classmethod
    def _http_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// address, e.g. https://survey.example")
        return value

    @model_validator(mode="after")
    def _secrets_and_production(self) -> Settings:
        problems = []
        if self.secret_key is not None:
            secret = self.secret_key.get_secret_value()
            if secret == DEVELOPMENT_SECRET_KEY:
                problems.append(
                    "SECRET_KEY is the development value published in the source; unset it "
                    "(a random key is then kept in the data folder) or set a random one"
                )
            elif len(secret) < MINIMUM_SECRET_KEY_LENGTH:
                problems.append(
                    f"SECRET_KEY must be a random value of at least {MINIMUM_SECRET_KEY_LENGTH} "
                    "characters"
                )
        if self.environment == "production":
            if self.secret_key is None:
                problems.append(
                    "SECRET_KEY must be set to a random value of at least 32 characters "
                    "when ENVIRONMENT=production"
                )
            if self.public_base_url is None:
                problems.append(
                    "PUBLIC_BASE_URL must be set when ENVIRONMENT=production (the address "
                    "respondents' links start with, e.g. https://survey.example.nhs.uk)"
                )
            if self.mail_backend == "console":
                problems.append(
                    "MAIL_BACKEND=console prints e-mails, personal links included; it is "
                    "refused when ENVIRONMENT=production (use smtp or notify)"
                )
        if self.mail_backend == "notify" and (
            self.notify_api_key is None or not self.notify_template_id
        ):
            problems.append(
                "MAIL_BACKEND=notify needs NOTIFY_API_KEY and NOTIFY_TEMPLATE_ID (a Notify "
                "e-mail template whose subject is ((subject)) and whose body is ((body)))"
            )
        if self.mail_timeout * 2 >= self.mail_lease_seconds:
            problems.append(
                "MAIL_LEASE_SECONDS must be more than twice MAIL_TIMEOUT, so that a claim "
                "never lapses while its message is being sent"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def data_folder(self) -> Path:
        """The SQLite database's folder (``./data`` for PostgreSQL)."""
        url = make_url(self.database_url)
        database = url.database
        if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return DEFAULT_DATA_FOLDER
        return DEFAULT_DATA_FOLDER if database.startswith("file:") else Path(database).parent

    def signing_key(self) -> str:
        """SECRET_KEY, else the random key kept in SECRET_KEY_FILE (made on first use, 0600),
        which every worker of this deployment shares."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.secret_key_file or self.data_folder / SECRET_KEY_FILE_NAME
        return load_or_create_secret_key(path, refused=frozenset({DEVELOPMENT_SECRET_KEY}))

    @property
    def trusted_hosts(self) -> frozenset[str]:
        """The ``Host`` names requests may carry (links are built from the request's host
        when PUBLIC_BASE_URL is unset): loopback, ALLOWED_HOSTS and PUBLIC_BASE_URL's host."""
        hosts = set(LOOPBACK_HOSTS | self.allowed_hosts)
        if self.public_base_url:
            hosts.add(host_of(urlsplit(self.public_base_url).netloc.rsplit("@", 1)[-1]))
        if self.environment == "test":
            hosts.add(TEST_CLIENT_HOST)
        return frozenset(hosts)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def unnamed_data_controller(self) -> bool:
        """Whether a production deployment runs with DATA_CONTROLLER unset: its privacy notice
        tells respondents that no data controller has been named yet (warned of at start-up
        and on the admin's pages; development, the demo and tests are not warned)."""
        return self.is_production and not (self.data_controller or "").strip()


class SettingsError(ValueError):
    """The environment holds a setting the service cannot use; the message names it."""


def load_settings() -> Settings:
    """Read the settings, turning validation errors into one line naming the variable."""
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            name = "_".join(str(part) for part in detail["loc"]).upper()
            message = str(detail["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if name else message)
        raise SettingsError("; ".join(problems)) from None


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return load_settings()
