"""Counters for rate limits, kept in the database so that every worker of the app (and every
machine in front of one database) counts against the same total.

A counter is one row per (bucket, key, window): ``hits`` is raised by an atomic upsert
(``INSERT ... ON CONFLICT DO UPDATE``, on SQLite >= 3.24 and PostgreSQL alike), so two workers
counting at the same moment both count.  The key is an HMAC of what is counted (an e-mail, a
client address, a browser, a round; :func:`app.security.rate_limit_key`); nothing in the table
names a person, an address or a link.  Windows that have ended are pruned as new failures are
counted.

Two kinds of limit:

* **fixed**: at most ``most`` per window, then refused until the window ends;
* **progressive** (``first_wait_seconds`` > 0): ``most`` failures go through freely; after
  that each failure doubles the wait before the next attempt, from ``first_wait_seconds`` up
  to ``longest_wait_seconds``.  The second of the last failure is kept in a row of its own
  (bucket ``<bucket>+last``, ``hits`` = seconds since the window started).

Failures (wrong passwords, unknown links) are counted after the answer with
:meth:`RateLimiter.count_failure`; uses that are limited whether or not they succeed (starting
through an open link) are taken before with :meth:`RateLimiter.take`, which counts and checks
in one transaction, so parallel requests cannot all slip under a limit.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import AsyncDatabase
from app.models import Invitation, InvitationStatus, RateLimitCounter
from app.security import hash_link_token, rate_limit_key

_COUNTERS = RateLimitCounter.__table__  # type: ignore[attr-defined]
_INVITATIONS = Invitation.__table__  # type: ignore[attr-defined]
_READ_HITS = sa.select(_COUNTERS.c.hits).where(
    _COUNTERS.c.bucket == sa.bindparam("bucket"),
    _COUNTERS.c.key_hash == sa.bindparam("key_hash"),
    _COUNTERS.c.window_start == sa.bindparam("window_start"),
)
PRUNE_EVERY_SECONDS = 60
LAST_SUFFIX = "+last"
LONGEST_TOKEN = 200


@dataclass(frozen=True)
class Limit:
    """At most ``most`` per ``window_seconds`` for one key of ``bucket``.

    With ``first_wait_seconds`` > 0 the limit is progressive: after ``most`` failures, each
    further failure doubles the wait before the next attempt (capped at
    ``longest_wait_seconds``) instead of refusing until the window ends.
    """

    bucket: str
    most: int
    window_seconds: int
    first_wait_seconds: int = 0
    longest_wait_seconds: int = 0

    def __post_init__(self) -> None:
        if self.most < 1 or self.window_seconds < 1:
            raise ValueError(f"{self.bucket}: most and window_seconds must be at least 1")
        if self.first_wait_seconds < 0 or (
            self.first_wait_seconds and self.longest_wait_seconds < self.first_wait_seconds
        ):
            raise ValueError(f"{self.bucket}: waits must be 0 < first <= longest")
        if len(self.bucket) + len(LAST_SUFFIX) > 32:
            raise ValueError(f"{self.bucket}: bucket names are at most {32 - len(LAST_SUFFIX)}")

    @property
    def progressive(self) -> bool:
        return self.first_wait_seconds > 0

    def window_start(self, now: float) -> int:
        second = int(now)
        return second - second % self.window_seconds

    def retry_after(self, now: float) -> int:
        """Seconds until the current window ends (at least 1)."""
        return max(1, self.window_start(now) + self.window_seconds - int(now))

    def wait_after(self, failures: int) -> int:
        """Seconds a progressive limit waits after the ``failures``-th failure of a window."""
        if not self.progressive or failures < self.most:
            return 0
        doublings = min(failures - self.most, 40)
        return min(self.longest_wait_seconds, self.first_wait_seconds * (1 << doublings))

    def most_in_window(self) -> int:
        """The most failures one key can make in one window, trying as fast as it may."""
        if not self.progressive:
            return self.most
        failures, elapsed = self.most, 0
        while elapsed + self.wait_after(failures) < self.window_seconds:
            elapsed += self.wait_after(failures)
            failures += 1
        return failures


@dataclass(frozen=True)
class RateLimitPolicy:
    """The limits the app applies; tests may hand the app smaller ones.

    Signing in: a browser that has signed in to an account before (it holds a signed device
    cookie for it) is limited only by ``login_per_device``; any other attempt by the
    progressive ``login_per_email_address`` (one e-mail from one address),
    ``login_per_email`` (one e-mail from everywhere) and ``login_per_address`` (every
    e-mail from one address).  Open links: each start (``POST /s/{open}/start``) or
    submission through the API takes one from ``open_per_browser`` (per browser cookie and
    round; clients without the cookie share one per address), ``open_per_address`` and
    ``open_per_round``.
    """

    login_per_email: Limit = Limit("login-email", 20, 60 * 60, 1, 15 * 60)
    login_per_address: Limit = Limit("login-address", 100, 15 * 60)
    link_per_address: Limit = Limit("link-address", 50, 10 * 60)
    login_per_email_address: Limit = Limit("login-email-address", 5, 60 * 60, 2, 15 * 60)
    login_per_device: Limit = Limit("login-device", 10, 15 * 60)
    open_per_browser: Limit = Limit("open-browser", 3, 24 * 60 * 60)
    open_per_address: Limit = Limit("open-address", 150, 60 * 60)
    open_per_round: Limit = Limit("open-round", 300, 60 * 60)
    # Wrong resume codes per started link (never per address: a shared proxy must not lock
    # respondents out); the browser that started the link needs no code.
    resume_code_per_link: Limit = Limit("resume-code", 10, 15 * 60)
    # "Forgot password" (POST /sign-in/forgot), taken whether or not the address is an
    # account's: per address asked about (beyond it, nothing more is sent, and the answer is
    # the same) and per client address (beyond it, 429).
    reset_per_email: Limit = Limit("reset-email", 3, 60 * 60)
    reset_per_address: Limit = Limit("reset-address", 20, 60 * 60)
    # Wrong second-factor codes: per pending sign-in (it then ends: the password is asked
    # again) and per account (however many sign-ins an attacker who knows the password starts).
    second_factor_per_session: Limit = Limit("second-factor", 5, 10 * 60)
    second_factor_per_account: Limit = Limit("second-factor-account", 20, 60 * 60)

    def limits(self) -> list[Limit]:
        """Every limit of the policy."""
        found = [getattr(self, field.name) for field in dataclasses.fields(self)]
        return [limit for limit in found if isinstance(limit, Limit)]


@dataclass(frozen=True)
class Refusal:
    """A limit that has been reached, and how long until it lifts."""

    limit: Limit
    retry_after: int


@dataclass(frozen=True)
class LiveLink:
    """What the limits need to know of a link that works: its kind and round."""

    kind: str
    round_id: int


class RateLimiter:
    """Checks and counts for one app (one engine and one secret key)."""

    def __init__(self, engine: Engine, secret_key: str, policy: RateLimitPolicy) -> None:
        self.engine = engine
        self.secret_key = secret_key
        self.policy = policy
        self._last_pruned = 0.0

    def _key(self, limit: Limit, value: str) -> str:
        return rate_limit_key(self.secret_key, limit.bucket, value)

    def _read(self, connection: Connection, bucket: str, key: str, window: int) -> int | None:
        found = connection.execute(
            sa.select(_COUNTERS.c.hits).where(
                _COUNTERS.c.bucket == bucket,
                _COUNTERS.c.key_hash == key,
                _COUNTERS.c.window_start == window,
            )
        ).scalar_one_or_none()
        return None if found is None else int(found)

    @staticmethod
    def _reached(limit: Limit, hits: int | None, moment: float) -> Refusal | bool:
        """A fixed limit's refusal; ``True`` when a progressive one needs its last failure's
        second (:meth:`_waited`); ``False`` when the limit is not reached."""
        if hits is None or hits < limit.most:
            return False
        return True if limit.progressive else Refusal(limit, limit.retry_after(moment))

    @staticmethod
    def _waited(limit: Limit, hits: int, last: int | None, moment: float) -> Refusal | None:
        window = limit.window_start(moment)
        waited = int(moment) - (window + (last or 0))
        wait = min(limit.wait_after(hits) - waited, limit.retry_after(moment))
        return Refusal(limit, wait) if wait > 0 else None

    def refusal(self, checks: list[tuple[Limit, str]], now: float | None = None) -> Refusal | None:
        """The first of ``checks`` (a limit and the value it counts) already at its limit."""
        moment = time.time() if now is None else now
        with self.engine.connect() as connection:
            for limit, value in checks:
                key, window = self._key(limit, value), limit.window_start(moment)
                hits = self._read(connection, limit.bucket, key, window)
                reached = self._reached(limit, hits, moment)
                if isinstance(reached, Refusal):
                    return reached
                if reached and hits is not None:
                    last = self._read(connection, limit.bucket + LAST_SUFFIX, key, window)
                    if (refusal := self._waited(limit, hits, last, moment)) is not None:
                        return refusal
        return None

    # The same on the async path, on the request's own connection -----------------------

    async def _read_async(
        self, connection: AsyncConnection, bucket: str, key: str, window: int
    ) -> int | None:
        found = (
            await connection.execute(
                _READ_HITS, {"bucket": bucket, "key_hash": key, "window_start": window}
            )
        ).scalar_one_or_none()
        return None if found is None else int(found)

    async def refusal_on(
        self, connection: AsyncConnection, checks: list[tuple[Limit, str]], now: float | None = None
    ) -> Refusal | None:
        """:meth:`refusal` on ``connection`` (no second connection for the request)."""
        moment = time.time() if now is None else now
        for limit, value in checks:
            key, window = self._key(limit, value), limit.window_start(moment)
            hits = await self._read_async(connection, limit.bucket, key, window)
            reached = self._reached(limit, hits, moment)
            if isinstance(reached, Refusal):
                return reached
            if reached and hits is not None:
                last = await self._read_async(connection, limit.bucket + LAST_SUFFIX, key, window)
                if (refusal := self._waited(limit, hits, last, moment)) is not None:
                    return refusal
        return None

    async def count_failure_on(
        self,
        database: AsyncDatabase,
        connection: AsyncConnection,
        checks: list[tuple[Limit, str]],
        now: float | None = None,
    ) -> None:
        """:meth:`count_failure` on ``connection``, committed at once (ends its transaction)."""
        moment = time.time() if now is None else now
        statements = self._failure_statements(connection.dialect.name, checks, moment)
        await _execute_committed(database, connection, statements)

    async def take_on(
        self,
        database: AsyncDatabase,
        connection: AsyncConnection,
        checks: list[tuple[Limit, str]],
        now: float | None = None,
    ) -> Refusal | None:
        """:meth:`take` on ``connection``, committed at once (ends its transaction)."""
        moment = time.time() if now is None else now
        async with database.writing():
            try:
                for limit, value in checks:
                    statement = self._upsert_for(connection.dialect.name, limit, value, moment, 1)
                    hits = (
                        await connection.execute(statement.returning(_COUNTERS.c.hits))
                    ).scalar_one()
                    if hits > limit.most:
                        return Refusal(limit, limit.retry_after(moment))
                if (prune := self._prune_statement(moment)) is not None:
                    await connection.execute(prune)
                await connection.commit()
                return None
            finally:
                await connection.rollback()

    async def give_back_on(
        self,
        database: AsyncDatabase,
        connection: AsyncConnection,
        checks: list[tuple[Limit, str]],
        now: float | None = None,
    ) -> None:
        """:meth:`give_back` on ``connection``, committed at once."""
        moment = time.time() if now is None else now
        await _execute_committed(database, connection, self._give_back_statements(checks, moment))

    def _upsert(
        self, connection: Connection, limit: Limit, value: str, moment: float, step: int
    ) -> sa.Insert:
        return self._upsert_for(connection.dialect.name, limit, value, moment, step)

    def _upsert_for(
        self, dialect: str, limit: Limit, value: str, moment: float, step: int
    ) -> sa.Insert:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(_COUNTERS).values(
            bucket=limit.bucket,
            key_hash=self._key(limit, value),
            window_start=limit.window_start(moment),
            hits=max(step, 0),
        )
        return statement.on_conflict_do_update(
            index_elements=["bucket", "key_hash", "window_start"],
            set_={"hits": _COUNTERS.c.hits + step},
        )

    def count_failure(self, checks: list[tuple[Limit, str]], now: float | None = None) -> None:
        """Add one failure to each of ``checks``' current windows (atomically)."""
        moment = time.time() if now is None else now
        with self.engine.begin() as connection:
            for statement in self._failure_statements(connection.dialect.name, checks, moment):
                connection.execute(statement)

    def _failure_statements(
        self, dialect: str, checks: list[tuple[Limit, str]], moment: float
    ) -> list[sa.Executable]:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statements: list[sa.Executable] = []
        for limit, value in checks:
            statements.append(self._upsert_for(dialect, limit, value, moment, 1))
            if limit.progressive:
                window = limit.window_start(moment)
                last = insert(_COUNTERS).values(
                    bucket=limit.bucket + LAST_SUFFIX,
                    key_hash=self._key(limit, value),
                    window_start=window,
                    hits=int(moment) - window,
                )
                statements.append(
                    last.on_conflict_do_update(
                        index_elements=["bucket", "key_hash", "window_start"],
                        set_={"hits": last.excluded.hits},
                    )
                )
        if (prune := self._prune_statement(moment)) is not None:
            statements.append(prune)
        return statements

    def take(self, checks: list[tuple[Limit, str]], now: float | None = None) -> Refusal | None:
        """Count one use against each of ``checks``, unless one would go over its limit.

        The counts and the check are one transaction: when a limit is reached nothing is
        counted (a refused attempt uses up nothing) and the refusal is returned.
        """
        moment = time.time() if now is None else now
        with self.engine.begin() as connection:
            for limit, value in checks:
                statement = self._upsert(connection, limit, value, moment, 1)
                hits = connection.execute(statement.returning(_COUNTERS.c.hits)).scalar_one()
                if hits > limit.most:
                    connection.rollback()
                    return Refusal(limit, limit.retry_after(moment))
            self._prune(connection, moment)
        return None

    def give_back(self, checks: list[tuple[Limit, str]], now: float | None = None) -> None:
        """Undo a :meth:`take` whose request did not go through (a form to correct)."""
        moment = time.time() if now is None else now
        with self.engine.begin() as connection:
            for statement in self._give_back_statements(checks, moment):
                connection.execute(statement)

    def _give_back_statements(
        self, checks: list[tuple[Limit, str]], moment: float
    ) -> list[sa.Update]:
        return [
            sa.update(_COUNTERS)
            .where(
                _COUNTERS.c.bucket == limit.bucket,
                _COUNTERS.c.key_hash == self._key(limit, value),
                _COUNTERS.c.window_start == limit.window_start(moment),
                _COUNTERS.c.hits > 0,
            )
            .values(hits=_COUNTERS.c.hits - 1)
            for limit, value in checks
        ]

    def _prune(self, connection: Connection, moment: float) -> None:
        if (statement := self._prune_statement(moment)) is not None:
            connection.execute(statement)

    def _prune_statement(self, moment: float) -> sa.Delete | None:
        """The prune of ended windows, at most once a minute per process."""
        if moment - self._last_pruned < PRUNE_EVERY_SECONDS:
            return None
        self._last_pruned = moment
        return prune_statement(self.policy, moment)

    def hits(self, limit: Limit, value: str, now: float | None = None) -> int:
        """Counted for ``value`` in the current window (for tests and operators)."""
        moment = time.time() if now is None else now
        with self.engine.connect() as connection:
            found = self._read(
                connection, limit.bucket, self._key(limit, value), limit.window_start(moment)
            )
        return found or 0

    def live_link(self, token: str) -> LiveLink | None:
        """The kind and round of the link ``token`` if it works (not unknown, not revoked)."""
        if not token or len(token) > LONGEST_TOKEN:
            return None
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(_INVITATIONS.c.kind, _INVITATIONS.c.round_id).where(
                    _INVITATIONS.c.token_hash == hash_link_token(token),
                    _INVITATIONS.c.status != InvitationStatus.REVOKED,
                )
            ).first()
        return None if found is None else LiveLink(str(found.kind), int(found.round_id))


def prune_statement(policy: RateLimitPolicy, now: float) -> sa.Delete:
    """Delete the windows that ended before now (the longest window of the policy)."""
    longest = max(limit.window_seconds for limit in policy.limits())
    return sa.delete(_COUNTERS).where(_COUNTERS.c.window_start < int(now) - longest)


async def _execute_committed(
    database: AsyncDatabase, connection: AsyncConnection, statements: Iterable[sa.Executable]
) -> None:
    """``statements`` on ``connection`` as one committed write (ends its transaction)."""
    async with database.writing():
        try:
            for statement in statements:
                await connection.execute(statement)
            await connection.commit()
        finally:
            await connection.rollback()
