"""Load test: many respondents answering at once through the real server on loopback.

Each respondent has a personal link made beforehand and completes the whole questionnaire
through the JSON API, as a browser would page by page: read the questionnaire, save a draft
for each section (six saves), submit.  Every respondent's answers are unique to them, so
afterwards the database is checked: every accepted submission is stored exactly once, none is
stored that was not accepted, every link is marked submitted and no draft is left over.

A request that fails (503, connection error) is retried up to three times, as a person would;
a retried submission answered 409 ("already used") counts as accepted (the first attempt was
stored) and the exactly-once check still has to hold.

The client is :mod:`bench.lean_client` (raw asyncio streams, one keep-alive connection per
respondent), so the figures are the server's: under httpx the same baseline server took ten
times as long, most of it in the client.  ``--target baseline`` runs the same questionnaires
against :mod:`bench.baseline_app` (the same database work on raw async drivers), the
yardstick for the real server's wall time.

Run: ``.venv/bin/python bench/load_test.py --backend sqlite --respondents 200 [--target
baseline]`` (``--backend postgresql`` uses TEST_POSTGRES_URL, default the local ``test``
database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.lean_client import Answer, Connection, ConnectionClosedError
from bench.live_service import (
    answer_key,
    distinct_answers,
    fresh_database,
    prepare_round,
    start_server,
    stop_server,
    stored_round,
)

RETRIES = 3


@dataclass
class LoadOutcome:
    """What the clients saw."""

    accepted: set[int] = field(default_factory=set)
    accepted_after_retry: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    seconds: float = 0.0


@dataclass
class LoadCheck:
    """What the database holds afterwards, against what the clients were told."""

    lost: int
    duplicated: int
    unexpected: int
    links_not_submitted: int
    drafts_left: int

    @property
    def exactly_once(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.links_not_submitted)


async def _request(
    client: Connection,
    outcome: LoadOutcome,
    kind: str,
    method: str,
    url: str,
    body: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[Answer, bool]:
    """The answer, and whether it came after a retry."""
    last_error = ""
    for attempt in range(RETRIES + 1):
        start = time.perf_counter()
        try:
            answer = await client.request(method, url, body, headers)
        except (OSError, ConnectionClosedError, asyncio.IncompleteReadError) as error:
            last_error = f"{type(error).__name__}: {error}"
        else:
            outcome.latencies[kind].append(time.perf_counter() - start)
            outcome.statuses[answer.status] += 1
            if answer.status != 503:
                return answer, attempt > 0
            last_error = "503"
        outcome.retries += 1
        await asyncio.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"{kind} failed {RETRIES + 1} times: {last_error}")


def resume_code_for(token: str) -> str:
    """The resume code a simulated respondent starts its link with (the API lets a client
    choose its own, so that a first save whose answer was lost can be sent again), kept from
    one run to the next like a person's note of it."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    chosen = random.Random(f"resume-{token}")  # a test respondent's code, not a secret
    return "".join(chosen.choice(alphabet) for _ in range(10))


class StatusError(Exception):
    pass


def _ok(answer: Answer) -> Answer:
    if answer.status >= 400:
        raise StatusError(f"answered {answer.status}: {answer.text[:200]}")
    return answer


async def respondent(
    client: Connection, number: int, token: str, outcome: LoadOutcome, prefix: str
) -> None:
    base = f"{prefix}/{token}"
    code = {"X-Resume-Code": resume_code_for(token)}
    try:
        survey, _ = await _request(client, outcome, "read", "GET", base, headers=code)
        _ok(survey)
        if survey.json()["saved"]["link_status"] == "submitted":
            # Sent before (e.g. the server died before it could answer): a person would see
            # "already submitted" and stop.
            outcome.accepted_after_retry.add(number)
            return
        answers = distinct_answers(number)
        for section in survey.json()["sections"]:
            ids = [question["id"] for question in section["questions"]]
            body: dict[str, object] = {"answers": {i: answers[i] for i in ids if i in answers}}
            for question in section["questions"]:
                if question["id"] == "professional_role":
                    role = random.choice(sorted(question["options"]))
                    body["background"] = {"professional_role": role}
            saved, _ = await _request(
                client, outcome, "draft", "PUT", f"{base}/draft", body, headers=code
            )
            _ok(saved)
        done, retried = await _request(
            client, outcome, "submit", "POST", f"{base}/response", {}, headers=code
        )
        if done.status == 201:
            outcome.accepted.add(number)
        elif done.status == 409 and retried:
            outcome.accepted_after_retry.add(number)
        else:
            outcome.failed[number] = f"submit answered {done.status}: {done.text[:200]}"
    except (RuntimeError, StatusError) as error:
        outcome.failed[number] = str(error)[:300]


async def run_respondents(
    base_url: str, tokens: list[str], concurrency: int, prefix: str = "/api/v1/survey"
) -> LoadOutcome:
    outcome = LoadOutcome()
    gate = asyncio.Semaphore(concurrency)
    idle: list[Connection] = [Connection(base_url) for _ in range(concurrency)]
    for connection in idle:  # connected before the clock starts, as browsers would be
        await connection.request("GET", "/healthz")

    async def one(number: int, token: str) -> None:
        async with gate:
            client = idle.pop()
            try:
                await respondent(client, number, token, outcome, prefix)
            finally:
                idle.append(client)

    start = time.perf_counter()
    await asyncio.gather(*(one(number, token) for number, token in enumerate(tokens)))
    outcome.seconds = time.perf_counter() - start
    for connection in idle:
        await connection.close()
    return outcome


def check_storage(database_url: str, round_id: int, outcome: LoadOutcome) -> LoadCheck:
    stored = stored_round(database_url, round_id)
    accepted = outcome.accepted | outcome.accepted_after_retry
    expected = Counter(answer_key(distinct_answers(number)) for number in accepted)
    lost = sum(1 for key in expected if stored.submitted[key] == 0)
    duplicated = sum(count - 1 for count in stored.submitted.values() if count > 1)
    unexpected = sum(1 for key in stored.submitted if key not in expected)
    return LoadCheck(
        lost=lost,
        duplicated=duplicated,
        unexpected=unexpected,
        links_not_submitted=len(accepted) - stored.invitation_status.get("submitted", 0),
        drafts_left=len(stored.drafts),
    )


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def describe(outcome: LoadOutcome, check: LoadCheck, respondents: int) -> str:
    every = [value for values in outcome.latencies.values() for value in values]
    lines = [
        f"respondents {respondents}, accepted {len(outcome.accepted)} "
        f"(+{len(outcome.accepted_after_retry)} on retry), failed {len(outcome.failed)}, "
        f"retries {outcome.retries}, statuses {dict(sorted(outcome.statuses.items()))}",
        f"wall {outcome.seconds:.2f} s; {len(every) / outcome.seconds:.1f} requests/s; "
        f"{(len(outcome.accepted) + len(outcome.accepted_after_retry)) / outcome.seconds:.1f}"
        " completed questionnaires/s",
    ]
    for kind in ["all", *sorted(outcome.latencies)]:
        values = every if kind == "all" else outcome.latencies[kind]
        lines.append(
            f"  {kind:>7}: n={len(values):>5} p50 {percentile(values, 0.50) * 1000:8.1f} ms  "
            f"p95 {percentile(values, 0.95) * 1000:8.1f} ms  "
            f"p99 {percentile(values, 0.99) * 1000:8.1f} ms  "
            f"mean {statistics.fmean(values) * 1000 if values else float('nan'):8.1f} ms"
        )
    lines.append(
        f"storage: lost {check.lost}, duplicated {check.duplicated}, unexpected "
        f"{check.unexpected}, links not marked submitted {check.links_not_submitted}, "
        f"drafts left {check.drafts_left} -> "
        + ("EXACTLY ONCE" if check.exactly_once else "NOT EXACTLY ONCE")
    )
    if outcome.failed:
        first = sorted(outcome.failed.items())[:3]
        lines.append("first failures: " + "; ".join(f"#{n}: {why}" for n, why in first))
    return "\n".join(lines)


def run_load_test(
    backend: str,
    respondents: int,
    concurrency: int,
    folder: Path,
    postgres_url: str | None = None,
    factory: str | None = None,
    target: str = "app",
) -> tuple[LoadOutcome, LoadCheck]:
    """Fresh database, real server, ``respondents`` answering ``concurrency`` at a time."""
    prefix = "/api/v1/survey"
    if target == "baseline":
        factory, prefix = "bench.baseline_app:create_app", "/baseline"
    with fresh_database(backend, folder, postgres_url) as database_url:
        prepared = prepare_round(database_url, respondents)
        server = start_server(database_url, folder / "server.log", factory=factory)
        try:
            outcome = asyncio.run(
                run_respondents(server.base_url, prepared.tokens, concurrency, prefix)
            )
        finally:
            stop_server(server)
        return outcome, check_storage(database_url, prepared.round_id, outcome)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--respondents", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_POSTGRES_URL"))
    parser.add_argument(
        "--factory",
        help="serve this app factory (module:function) instead of `trust-survey serve`, "
        "e.g. bench.patched_app:create_app",
    )
    parser.add_argument(
        "--target",
        choices=["app", "baseline"],
        default="app",
        help="the real server, or the same-work baseline (bench/baseline_app.py)",
    )
    args = parser.parse_args()
    server = "baseline" if args.target == "baseline" else "trust-survey serve"
    server = args.factory or server
    print(
        f"load test: {args.backend}, {args.respondents} respondents, {args.concurrency} at once; "
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"server: {server}"
    )
    with tempfile.TemporaryDirectory() as folder:
        outcome, check = run_load_test(
            args.backend,
            args.respondents,
            args.concurrency,
            Path(folder),
            args.postgres_url,
            args.factory,
            args.target,
        )
        print(describe(outcome, check, args.respondents))
    return 0 if check.exactly_once and not outcome.failed else 1


if __name__ == "__main__":
    sys.exit(main())
