"""Schemathesis over every operation of ``/openapi.json``: no 5xx, responses match the schema.

The app runs in-process (ASGI) on a migrated database seeded with the demo partnership (a
round with submitted responses, a personal and an open link) and an admin account, so that
signed-in operations and real link tokens and ids are fuzzed too, not only the 401 and 404
paths.  Each operation gets a bounded number of generated cases (``FUZZ_EXAMPLES``, 25 by
default) with its path ids and tokens drawn half the time from the seeded records.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlmodel import Session

from tests.conftest import TEST_SECRET

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
ADMIN_EMAIL = "fuzz-admin@example.org"
ADMIN_PASSWORD = "fuzzing admin password 123"


@dataclass(frozen=True)
class Seeded:
    app: FastAPI
    auth_header: str
    real: dict[str, list[str]]


@pytest.fixture
def seeded(migrated_url: str) -> Iterator[Seeded]:
    from app.database import make_engine
    from app.main import create_app
    from app.services import demo, invitations
    from app.services.accounts import add_account
    from app.services.rate_limits import Limit, RateLimitPolicy
    from app.settings import Settings

    app_settings = Settings(environment="test", database_url=migrated_url, secret_key=TEST_SECRET)
    engine = make_engine(migrated_url)
    with Session(engine, expire_on_commit=False) as session:
        seed = demo.seed_demo(
            session,
            instrument_id=app_settings.instrument,
            anonymity_threshold=5,
        )
        add_account(session, ADMIN_EMAIL, ADMIN_PASSWORD, role="admin")
        from app.services.rounds import get_round

        partnership_id = get_round(session, seed.round_id).partnership_id
        more = invitations.create_personal_links(
            session, seed.round_id, organisation_id=None, count=3, most=10
        )
    engine.dispose()
    credentials = base64.b64encode(f"{ADMIN_EMAIL}:{ADMIN_PASSWORD}".encode()).decode()
    real = {
        "token": [seed.respondent_token, seed.open_token, *more],
        "round_id": [str(seed.round_id)],
        "partnership_id": [str(partnership_id)],
    }
    app = create_app(app_settings)
    # The rate limits (tests/test_rate_limits.py) would answer 429 in place of the handlers
    # being fuzzed once a few hundred unknown tokens and wrong passwords had been tried.
    unlimited = Limit("unlimited", 10**9, 60)
    app.state.rate_limiter.policy = RateLimitPolicy(unlimited, unlimited, unlimited)
    yield Seeded(app, f"Basic {credentials}", real)


Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def _operations(schema: schemathesis.schemas.BaseSchema) -> list[Operation]:
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    return operations


def _fuzz(
    operation: Operation, seeded: Seeded, failures: list[str], statuses: Counter[int]
) -> None:
    """Up to ``EXAMPLES`` valid and invalid requests to one operation (shrunk on failure)."""
    path_names = [p.name for p in operation.path_parameters]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy() | operation.as_strategy(GenerationMode.NEGATIVE),
        picks=st.fixed_dictionaries(
            {name: st.none() | st.sampled_from(seeded.real.get(name, ["1"])) for name in path_names}
        ),
        signed_in=st.sampled_from([True, True, True, False])
        if operation.security
        else st.just(False),
    )
    def run(case: Case[Any], picks: dict[str, str | None], signed_in: bool) -> None:
        for name, value in picks.items():
            if value is not None:
                case.path_parameters = {**(case.path_parameters or {}), name: value}
        headers = {"Authorization": seeded.auth_header} if signed_in else {}
        try:
            response = case.call(headers=headers)
            statuses[response.status_code] += 1
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except Exception as error:
            failures.append(
                f"{operation.label}: {case.as_curl_command()}\n{type(error).__name__}: {error}"
            )
            raise

    # Hypothesis shrinks a failing case and raises it again: it is in ``failures`` by then.
    with contextlib.suppress(Exception):
        run()


def test_every_operation_answers_without_a_server_error(seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded.app)
    operations = _operations(schema)
    assert len(operations) >= 20, "the API's operations were not all found"
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:
        _fuzz(operation, seeded, failures, statuses)
    assert not failures, "\n\n".join(failures[-5:])
    assert statuses[200] + statuses[201] > len(operations), statuses
    assert not any(code >= 500 for code in statuses), statuses


def test_every_report_and_analyst_operation_declares_its_response(seeded: Seeded) -> None:
    """No report or analyst route answers an undeclared shape (``response_model=None`` gives
    an empty schema, which any answer would match)."""
    from fastapi.testclient import TestClient

    document = TestClient(seeded.app).get("/openapi.json").json()
    checked = 0
    for path, methods in document["paths"].items():
        if not path.startswith(("/api/v1/reports", "/api/v1/analyst")):
            continue
        for method, operation in methods.items():
            content = operation["responses"]["200"]["content"]["application/json"]
            schema = content["schema"]
            assert schema.get("$ref") or schema.get("items", {}).get("$ref"), (method, path)
            checked += 1
    assert checked >= 9
