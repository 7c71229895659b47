"""Settings of the survey service, read from the environment (and an optional ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from analysis.anonymity import DEFAULT_THRESHOLD, MINIMUM_THRESHOLD

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105
DEFAULT_DATABASE_URL = "sqlite:///./data/trust-survey.sqlite3"
MINIMUM_ANONYMITY_THRESHOLD = MINIMUM_THRESHOLD


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    anonymity_threshold: int = Field(default=DEFAULT_THRESHOLD, ge=MINIMUM_ANONYMITY_THRESHOLD)
    instrument: str = "trustworthy-collaboration"
    public_base_url: str | None = Field(
        default=None,
        description="Base of the links handed to respondents; the request's own URL if unset.",
    )
    max_links_per_request: int = Field(default=500, ge=1)
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
    nhsuk_frontend_path: Path | None = Field(
        default=None,
        description="The installed nhsuk-frontend package; ./node_modules/nhsuk-frontend if unset.",
    )

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        if self.environment == "production":
            secret = self.secret_key.get_secret_value()
            if secret == DEVELOPMENT_SECRET_KEY or len(secret) < 32:
                raise ValueError(
                    "SECRET_KEY must be set to a random value of at least 32 characters "
                    "when ENVIRONMENT=production"
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


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
