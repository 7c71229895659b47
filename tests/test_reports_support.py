"""Helpers for the report tests (no tests here)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models import Response, ResponseStatus, utc_now
from app.services.accounts import add_account
from app.services.demo import seed_demo

PASSWORD = "report reader password"


def seeded_demo_round(session: Session) -> int:
    seed = seed_demo(
        session,
        instrument_id="trustworthy-collaboration",
        anonymity_threshold=5,
    )
    return seed.round_id


def add_responses(
    session: Session,
    round_id: int,
    answers: list[dict[str, int]],
    background: list[dict[str, str]],
    version: str = "2017.1",
) -> None:
    for given, about in zip(answers, background, strict=True):
        session.add(
            Response(
                round_id=round_id,
                status=ResponseStatus.SUBMITTED,
                instrument_version=version,
                answers=given,
                background=about,
                submitted_at=utc_now(),
            )
        )
    session.commit()


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    page = client.get("/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture
def admin(client: TestClient, session: Session) -> TestClient:
    """The test client signed in as an admin (who reads every round's report)."""
    add_account(session, "admin@example.org", PASSWORD, "admin")
    sign_in(client, "admin@example.org")
    return client


def report_json(client: TestClient, round_id: int) -> dict:  # type: ignore[type-arg]
    """A round's report from the API, as an evaluator's script reads it."""
    answer = client.get(f"/api/v1/reports/rounds/{round_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]
