"""The yardstick for submissions: a minimal async FastAPI app doing the same database work.

``uvicorn --factory bench.baseline_app:create_app`` (reads ``DATABASE_URL`` like the app).
Raw drivers, no ORM and no SQLAlchemy: ``aiosqlite`` on the same SQLite file (WAL, the
app's pragmas, one writer at a time per process as the app does), ``psycopg`` 3 async
connections on the same PostgreSQL database.  A pool of ``DATABASE_POOL_SIZE`` connections
(default 20), like the app's.  No middleware, no validation beyond parsing the JSON.

* ``POST /baseline/{token}/response``: claim the personal link with a conditional UPDATE
  (unused or started -> submitted), merge its draft (or insert the response), detach it from
  the link: one transaction.  409 when the link was used.
* ``PUT /baseline/{token}/draft``: start the link if unused (conditional UPDATE with the
  resume code's hash), merge the answers into its draft or insert the draft: one transaction.
* ``GET /baseline/{token}``: the link and its round (one SELECT), and the questionnaire as
  ready-made JSON.
* ``POST /bare/{round_id}``: a bare INSERT of a submitted response.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from sqlalchemy.engine import make_url

INSTRUMENT_VERSION = "2026.1"  # the version bench rounds open with (the newest)


def _hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


class _Pool:
    """At most ``size`` connections, made on demand, handed out first come first served."""

    def __init__(self, size: int, connect: Any) -> None:
        self._idle: asyncio.LifoQueue[Any] = asyncio.LifoQueue()
        self._made = 0
        self._size = size
        self._connect = connect
        self._made_lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        if self._idle.empty() and self._made < self._size:
            self._made += 1
            connection = await self._connect()
        else:
            connection = await self._idle.get()
        try:
            yield connection
        finally:
            self._idle.put_nowait(connection)


class SqliteWork:
    """The statements on SQLite (``?`` parameters, JSON as text)."""

    def __init__(self, path: str, pool_size: int) -> None:
        import aiosqlite

        async def connect() -> Any:
            connection = await aiosqlite.connect(path)
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA foreign_keys=ON")
            await connection.execute("PRAGMA busy_timeout=30000")
            return connection

        self.pool = _Pool(pool_size, connect)
        self.write_lock = asyncio.Lock()  # SQLite has one writer; queue here, not in its lock

    @staticmethod
    def _time(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    async def submit(
        self, token_hash: str, answers: dict[str, int], background: dict[str, str]
    ) -> bool:
        hour = self._time(_hour())
        async with self.write_lock, self.pool.connection() as db:
            cursor = await db.execute(
                "UPDATE invitation SET status = 'submitted' WHERE token_hash = ? "
                "AND kind = 'personal' AND status IN ('unused', 'started') "
                "RETURNING id, round_id, from_open_link",
                (token_hash,),
            )
            claimed = await cursor.fetchone()
            if claimed is None:
                await db.rollback()
                return False
            link_id, round_id, from_open = claimed
            cursor = await db.execute(
                "SELECT id, answers, background FROM response "
                "WHERE invitation_id = ? AND status = 'draft'",
                (link_id,),
            )
            draft = await cursor.fetchone()
            if draft is not None:
                merged = {**json.loads(draft[1]), **answers}
                known = {**json.loads(draft[2]), **background}
                await db.execute(
                    "UPDATE response SET status = 'submitted', answers = ?, background = ?, "
                    "invitation_id = NULL, next_section = NULL, updated_at = ?, "
                    "submitted_at = ? WHERE id = ?",
                    (json.dumps(merged), json.dumps(known), hour, hour, draft[0]),
                )
            else:
                await db.execute(
                    "INSERT INTO response (round_id, status, instrument_version, answers, "
                    "background, from_open_link, started_at, updated_at, submitted_at) "
                    "VALUES (?, 'submitted', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        round_id,
                        INSTRUMENT_VERSION,
                        json.dumps(answers),
                        json.dumps(background),
                        from_open,
                        hour,
                        hour,
                        hour,
                    ),
                )
            await db.commit()
            return True

    async def save_draft(
        self, token_hash: str, code_hash: str, answers: dict[str, int], background: dict[str, str]
    ) -> bool:
        hour = self._time(_hour())
        async with self.write_lock, self.pool.connection() as db:
            await db.execute(
                "UPDATE invitation SET status = 'started', resume_code_hash = ? "
                "WHERE token_hash = ? AND status = 'unused' AND resume_code_hash IS NULL",
                (code_hash, token_hash),
            )
            cursor = await db.execute(
                "SELECT i.id, i.round_id, r.id, r.answers, r.background FROM invitation i "
                "LEFT JOIN response r ON r.invitation_id = i.id AND r.status = 'draft' "
                "WHERE i.token_hash = ? AND i.status = 'started'",
                (token_hash,),
            )
            found = await cursor.fetchone()
            if found is None:
                await db.rollback()
                return False
            link_id, round_id, draft_id, old_answers, old_background = found
            if draft_id is not None:
                await db.execute(
                    "UPDATE response SET answers = ?, background = ?, updated_at = ? WHERE id = ?",
                    (
                        json.dumps({**json.loads(old_answers), **answers}),
                        json.dumps({**json.loads(old_background), **background}),
                        hour,
                        draft_id,
                    ),
                )
            else:
                await db.execute(
                    "INSERT INTO response (round_id, invitation_id, status, instrument_version, "
                    "answers, background, from_open_link, started_at, updated_at) "
                    "VALUES (?, ?, 'draft', ?, ?, ?, 0, ?, ?)",
                    (
                        round_id,
                        link_id,
                        INSTRUMENT_VERSION,
                        json.dumps(answers),
                        json.dumps(background),
                        hour,
                        hour,
                    ),
                )
            await db.commit()
            return True

    async def read(self, token_hash: str) -> bool:
        async with self.pool.connection() as db:
            cursor = await db.execute(
                "SELECT i.id, i.status, s.title, s.opens_on, s.closes_on FROM invitation i "
                "JOIN survey_round s ON s.id = i.round_id WHERE i.token_hash = ?",
                (token_hash,),
            )
            return await cursor.fetchone() is not None

    async def bare(
        self, round_id: int, answers: dict[str, int], background: dict[str, str]
    ) -> None:
        hour = self._time(_hour())
        async with self.write_lock, self.pool.connection() as db:
            await db.execute(
                "INSERT INTO response (round_id, status, instrument_version, answers, background, "
                "from_open_link, started_at, updated_at, submitted_at) "
                "VALUES (?, 'submitted', ?, ?, ?, 0, ?, ?, ?)",
                (
                    round_id,
                    INSTRUMENT_VERSION,
                    json.dumps(answers),
                    json.dumps(background),
                    hour,
                    hour,
                    hour,
                ),
            )
            await db.commit()


class PostgresWork:
    """The same statements on PostgreSQL (psycopg 3 async, JSONB)."""

    def __init__(self, conninfo: str, pool_size: int) -> None:
        import psycopg

        async def connect() -> Any:
            return await psycopg.AsyncConnection.connect(conninfo)

        self.pool = _Pool(pool_size, connect)

    async def submit(
        self, token_hash: str, answers: dict[str, int], background: dict[str, str]
    ) -> bool:
        hour = _hour()
        async with self.pool.connection() as db, db.transaction():
            cursor = await db.execute(
                "UPDATE invitation SET status = 'submitted' WHERE token_hash = %s "
                "AND kind = 'personal' AND status IN ('unused', 'started') "
                "RETURNING id, round_id, from_open_link",
                (token_hash,),
            )
            claimed = await cursor.fetchone()
            if claimed is None:
                return False
            link_id, round_id, from_open = claimed
            cursor = await db.execute(
                "SELECT id, answers, background FROM response "
                "WHERE invitation_id = %s AND status = 'draft'",
                (link_id,),
            )
            draft = await cursor.fetchone()
            if draft is not None:
                await db.execute(
                    "UPDATE response SET status = 'submitted', answers = %s::jsonb, "
                    "background = %s::jsonb, invitation_id = NULL, next_section = NULL, "
                    "updated_at = %s, submitted_at = %s WHERE id = %s",
                    (
                        json.dumps({**draft[1], **answers}),
                        json.dumps({**draft[2], **background}),
                        hour,
                        hour,
                        draft[0],
                    ),
                )
            else:
                await db.execute(
                    "INSERT INTO response (round_id, status, instrument_version, answers, "
                    "background, from_open_link, started_at, updated_at, submitted_at) "
                    "VALUES (%s, 'submitted', %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s)",
                    (
                        round_id,
                        INSTRUMENT_VERSION,
                        json.dumps(answers),
                        json.dumps(background),
                        from_open,
                        hour,
                        hour,
                        hour,
                    ),
                )
            return True

    async def save_draft(
        self, token_hash: str, code_hash: str, answers: dict[str, int], background: dict[str, str]
    ) -> bool:
        hour = _hour()
        async with self.pool.connection() as db, db.transaction():
            await db.execute(
                "UPDATE invitation SET status = 'started', resume_code_hash = %s "
                "WHERE token_hash = %s AND status = 'unused' AND resume_code_hash IS NULL",
                (code_hash, token_hash),
            )
            cursor = await db.execute(
                "SELECT i.id, i.round_id, r.id, r.answers, r.background FROM invitation i "
                "LEFT JOIN response r ON r.invitation_id = i.id AND r.status = 'draft' "
                "WHERE i.token_hash = %s AND i.status = 'started'",
                (token_hash,),
            )
            found = await cursor.fetchone()
            if found is None:
                return False
            link_id, round_id, draft_id, old_answers, old_background = found
            if draft_id is not None:
                await db.execute(
                    "UPDATE response SET answers = %s::jsonb, background = %s::jsonb, "
                    "updated_at = %s WHERE id = %s",
                    (
                        json.dumps({**old_answers, **answers}),
                        json.dumps({**old_background, **background}),
                        hour,
                        draft_id,
                    ),
                )
            else:
                await db.execute(
                    "INSERT INTO response (round_id, invitation_id, status, instrument_version, "
                    "answers, background, from_open_link, started_at, updated_at) "
                    "VALUES (%s, %s, 'draft', %s, %s::jsonb, %s::jsonb, false, %s, %s)",
                    (
                        round_id,
                        link_id,
                        INSTRUMENT_VERSION,
                        json.dumps(answers),
                        json.dumps(background),
                        hour,
                        hour,
                    ),
                )
            return True

    async def read(self, token_hash: str) -> bool:
        async with self.pool.connection() as db:
            cursor = await db.execute(
                "SELECT i.id, i.status, s.title, s.opens_on, s.closes_on FROM invitation i "
                "JOIN survey_round s ON s.id = i.round_id WHERE i.token_hash = %s",
                (token_hash,),
            )
            found = await cursor.fetchone()
            await db.rollback()
            return found is not None

    async def bare(
        self, round_id: int, answers: dict[str, int], background: dict[str, str]
    ) -> None:
        hour = _hour()
        async with self.pool.connection() as db, db.transaction():
            await db.execute(
                "INSERT INTO response (round_id, status, instrument_version, answers, background, "
                "from_open_link, started_at, updated_at, submitted_at) "
                "VALUES (%s, 'submitted', %s, %s::jsonb, %s::jsonb, false, %s, %s, %s)",
                (
                    round_id,
                    INSTRUMENT_VERSION,
                    json.dumps(answers),
                    json.dumps(background),
                    hour,
                    hour,
                    hour,
                ),
            )


def _questionnaire() -> bytes:
    """The questionnaire as the real API shows it, made once (the baseline does no work
    for it per request: it is the same for every link of a round)."""
    from app.instruments import instrument_named
    from app.web.api_survey import _sections

    instrument = instrument_named("trustworthy-collaboration")
    sections = [section.model_dump(mode="json") for section in _sections(instrument)]
    return json.dumps({"sections": sections, "saved": {"link_status": "unused"}}).encode()


def create_app() -> FastAPI:
    url = make_url(os.environ["DATABASE_URL"])
    pool_size = int(os.environ.get("DATABASE_POOL_SIZE", "20"))
    work: SqliteWork | PostgresWork
    if url.get_backend_name() == "sqlite":
        work = SqliteWork(url.database or "", pool_size)
    else:
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        work = PostgresWork(conninfo, pool_size)
    questionnaire = _questionnaire()
    app = FastAPI()

    def hashed(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/baseline/{token}/response")
    async def submit(token: str, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        done = await work.submit(hashed(token), body.get("answers", {}), body.get("background", {}))
        return Response(
            b'{"status":"submitted"}' if done else b'{"detail":"used"}',
            201 if done else 409,
            media_type="application/json",
        )

    @app.put("/baseline/{token}/draft")
    async def draft(token: str, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        code = request.headers.get("x-resume-code", "")
        done = await work.save_draft(
            hashed(token),
            hashed(f"{hashed(token)}:{code}"),
            body.get("answers", {}),
            body.get("background", {}),
        )
        return Response(
            b'{"saved":{}}' if done else b'{"detail":"used"}',
            200 if done else 409,
            media_type="application/json",
        )

    @app.get("/baseline/{token}")
    async def read(token: str) -> Response:
        found = await work.read(hashed(token))
        return Response(
            questionnaire if found else b'{"detail":"not found"}',
            200 if found else 404,
            media_type="application/json",
        )

    @app.post("/bare/{round_id}", status_code=201)
    async def bare(round_id: int, request: Request) -> Response:
        body = json.loads(await request.body())
        await work.bare(round_id, body["answers"], body["background"])
        return Response(b'{"status":"submitted"}', 201, media_type="application/json")

    return app
