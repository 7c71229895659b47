"""Settings of the survey service, read from the environment (and an optional ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105
DEFAULT_DATABASE_URL = "sqlite:///./data/trust-survey.sqlite3"
MINIMUM_ANONYMITY_THRESHOLD = 3


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    anonymity_threshold: int = Field(default=5, ge=MINIMUM_ANONYMITY_THRESHOLD)
    instrument: str = "trustworthy-collaboration"
    public_base_url: str | None = Field(
        default=None,
        description="Base of the links handed to respondents; the request's own URL if unset.",
    )
    max_links_per_request: int = Field(default=500, ge=1)

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


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
