"""A real survey service on loopback for load and fault tests: database, server process, round.

* :func:`fresh_database` gives an empty, migrated database: a SQLite file in a folder, or a
  PostgreSQL schema of its own (dropped afterwards) named by ``options=-csearch_path``.
* :func:`start_server` runs the real command, ``trust-survey serve``, on a free port and waits
  for ``/healthz``; :func:`kill_server` sends SIGKILL, :func:`stop_server` SIGTERM.
* :func:`prepare_round` makes a partnership, a round and ``count`` personal links through the
  services (not timed: the links are the respondents' own, made beforehand).
* :func:`distinct_answers` gives respondent ``number`` answers no other respondent has (its
  number in base 5 over the items), so stored responses can be matched to who sent them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app import migrating
from app.database import make_engine
from app.instruments import instrument_named
from app.services import invitations, partnerships, rounds

SECRET_KEY = "load-and-fault-test-secret-key-0123456789abcdef"
INSTRUMENT = "trustworthy-collaboration"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def fresh_database(backend: str, folder: Path, postgres_url: str | None = None) -> Iterator[str]:
    """An empty migrated database of ``backend`` (``sqlite`` or ``postgresql``)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'survey.sqlite3'}"
        migrating.upgrade(url)
        yield url
        return
    base = postgres_url or os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    schema = f"trust_load_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        migrating.upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    base_url: str
    port: int
    database_url: str
    process: subprocess.Popen[bytes]
    log: Path


def _command() -> list[str]:
    executable = Path(sys.executable).with_name("trust-survey")
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "app.cli"]


def wait_healthy(base_url: str, timeout: float = 60, expect: int = 200) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as answer:
                if answer.status == expect:
                    return
        except urllib.error.HTTPError as error:
            if error.code == expect:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base_url}/healthz did not answer {expect} within {timeout} s")


def start_server(
    database_url: str,
    log: Path,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    factory: str | None = None,
    healthy_status: int = 200,
) -> Server:
    """``trust-survey serve`` on loopback; its output goes to ``log`` (appended).

    ``factory`` (``module:function``) runs that app factory under uvicorn instead.
    """
    port = port or free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "ENVIRONMENT": "test",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    with log.open("ab") as output:
        command = [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if factory:
            command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--no-access-log"]
            command += ["--host", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(
            command,
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", port, database_url, process, log)
    try:
        wait_healthy(server.base_url, expect=healthy_status)
    except RuntimeError:
        kill_server(server)
        raise RuntimeError("the server did not start:\n" + log.read_text()) from None
    return server


def kill_server(server: Server) -> None:
    """SIGKILL: no clean shutdown, as in a crash or an OOM kill."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_server(server)


@dataclass
class PreparedRound:
    round_id: int
    tokens: list[str]


def open_bench_round(session: Session, partnership_name: str, title: str) -> int:
    """A new partnership with one round of the bundled instrument, open since yesterday."""
    partnership = partnerships.create_partnership(session, partnership_name, "other")
    assert partnership.id is not None
    survey_round = rounds.open_round(
        session,
        partnership.id,
        title=title,
        opens_on=date.today() - timedelta(days=1),
        closes_on=date.today() + timedelta(days=30),
        anonymity_threshold=5,
        instrument_id=INSTRUMENT,
    )
    assert survey_round.id is not None
    return survey_round.id


def prepare_round(
    database_url: str, count: int, name: str = "Load test partnership"
) -> PreparedRound:
    engine = make_engine(database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            round_id = open_bench_round(session, name, "Load round")
            tokens: list[str] = []
            while len(tokens) < count:
                batch = min(500, count - len(tokens))
                tokens += invitations.create_personal_links(
                    session, round_id, organisation_id=None, count=batch, most=500
                )
            return PreparedRound(round_id, tokens)
    finally:
        engine.dispose()


def item_ids() -> list[str]:
    return list(instrument_named(INSTRUMENT).item_ids)


def distinct_answers(number: int) -> dict[str, int]:
    """Answers unique to respondent ``number``: its digits in base 5 (plus one) per item."""
    answers: dict[str, int] = {}
    for item_id in item_ids():
        answers[item_id] = number % 5 + 1
        number //= 5
    return answers


def answer_key(answers: dict[str, int]) -> tuple[int, ...]:
    return tuple(int(answers[item_id]) for item_id in item_ids())


@dataclass
class StoredRound:
    submitted: Counter[tuple[int, ...]]
    drafts: list[dict[str, int]]
    invitation_status: Counter[str]
    submitted_without_link: int


def stored_round(database_url: str, round_id: int) -> StoredRound:
    """What the database holds for a round: submitted answer vectors (counted), drafts."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT status, answers, invitation_id FROM response WHERE round_id = :r"),
                {"r": round_id},
            ).all()
            statuses = connection.execute(
                sa.text("SELECT status, count(*) FROM invitation WHERE round_id = :r GROUP BY 1"),
                {"r": round_id},
            ).all()
    finally:
        engine.dispose()
    import json

    submitted: Counter[tuple[int, ...]] = Counter()
    drafts: list[dict[str, int]] = []
    detached = 0
    for status, answers, invitation_id in rows:
        parsed = json.loads(answers) if isinstance(answers, str) else answers
        if status == "submitted":
            submitted[answer_key(parsed)] += 1
            detached += invitation_id is None
        else:
            drafts.append(parsed)
    return StoredRound(
        submitted=submitted,
        drafts=drafts,
        invitation_status=Counter({status: int(n) for status, n in statuses}),
        submitted_without_link=detached,
    )
