"""Fixed-window counters of failed attempts, kept in the database so that every worker of the
app (and every machine in front of one database) counts against the same total.

A counter is one row per (bucket, key, window): ``hits`` is raised by an atomic upsert
(``INSERT ... ON CONFLICT DO UPDATE``, on SQLite >= 3.24 and PostgreSQL alike), so two workers
counting at the same moment both count.  The key is an HMAC of the e-mail or client address
(:func:`app.security.rate_limit_key`); nothing in the table names a person or an address.
Windows that have ended are pruned as new failures are counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from app.models import RateLimitCounter
from app.security import rate_limit_key

_COUNTERS = RateLimitCounter.__table__  # type: ignore[attr-defined]
PRUNE_EVERY_SECONDS = 60


@dataclass(frozen=True)
class Limit:
    """At most ``most`` failures per ``window_seconds`` for one key of ``bucket``."""

    bucket: str
    most: int
    window_seconds: int

    def window_start(self, now: float) -> int:
        second = int(now)
        return second - second % self.window_seconds

    def retry_after(self, now: float) -> int:
        """Seconds until the current window ends (at least 1)."""
        return max(1, self.window_start(now) + self.window_seconds - int(now))


@dataclass(frozen=True)
class RateLimitPolicy:
    """The limits the app applies; tests may hand the app smaller ones."""

    login_per_email: Limit = Limit("login-email", 10, 15 * 60)
    login_per_address: Limit = Limit("login-address", 50, 15 * 60)
    link_per_address: Limit = Limit("link-address", 50, 10 * 60)
    # Wrong resume codes per started link (never per address: a shared proxy must not lock
    # respondents out); the browser that started the link needs no code.
    resume_code_per_link: Limit = Limit("resume-code", 10, 15 * 60)


@dataclass(frozen=True)
class Refusal:
    """A limit that has been reached, and how long until it lifts."""

    limit: Limit
    retry_after: int


class RateLimiter:
    """Checks and counts failures for one app (one engine and one secret key)."""

    def __init__(self, engine: Engine, secret_key: str, policy: RateLimitPolicy) -> None:
        self.engine = engine
        self.secret_key = secret_key
        self.policy = policy
        self._last_pruned = 0.0

    def _key(self, limit: Limit, value: str) -> str:
        return rate_limit_key(self.secret_key, limit.bucket, value)

    def refusal(self, checks: list[tuple[Limit, str]], now: float | None = None) -> Refusal | None:
        """The first of ``checks`` (a limit and the value it counts) already at its limit."""
        moment = time.time() if now is None else now
        with self.engine.connect() as connection:
            for limit, value in checks:
                hits = connection.execute(
                    sa.select(_COUNTERS.c.hits).where(
                        _COUNTERS.c.bucket == limit.bucket,
                        _COUNTERS.c.key_hash == self._key(limit, value),
                        _COUNTERS.c.window_start == limit.window_start(moment),
                    )
                ).scalar_one_or_none()
                if hits is not None and hits >= limit.most:
                    return Refusal(limit, limit.retry_after(moment))
        return None

    def count_failure(self, checks: list[tuple[Limit, str]], now: float | None = None) -> None:
        """Add one failure to each of ``checks``' current windows (atomically)."""
        moment = time.time() if now is None else now
        with self.engine.begin() as connection:
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            for limit, value in checks:
                statement = insert(_COUNTERS).values(
                    bucket=limit.bucket,
                    key_hash=self._key(limit, value),
                    window_start=limit.window_start(moment),
                    hits=1,
                )
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=["bucket", "key_hash", "window_start"],
                        set_={"hits": _COUNTERS.c.hits + 1},
                    )
                )
            if moment - self._last_pruned >= PRUNE_EVERY_SECONDS:
                self._last_pruned = moment
                connection.execute(prune_statement(self.policy, moment))

    def hits(self, limit: Limit, value: str, now: float | None = None) -> int:
        """Failures counted for ``value`` in the current window (for tests and operators)."""
        moment = time.time() if now is None else now
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(_COUNTERS.c.hits).where(
                    _COUNTERS.c.bucket == limit.bucket,
                    _COUNTERS.c.key_hash == self._key(limit, value),
                    _COUNTERS.c.window_start == limit.window_start(moment),
                )
            ).scalar_one_or_none()
        return int(found or 0)


def prune_statement(policy: RateLimitPolicy, now: float) -> sa.Delete:
    """Delete the windows that ended before now (the longest window of the policy)."""
    longest = max(
        policy.login_per_email.window_seconds,
        policy.login_per_address.window_seconds,
        policy.link_per_address.window_seconds,
        policy.resume_code_per_link.window_seconds,
    )
    return sa.delete(_COUNTERS).where(_COUNTERS.c.window_start < int(now) - longest)
