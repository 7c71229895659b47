"""Report pages and downloads: who may read what (404 otherwise), anonymity, breakdowns, change."""

from __future__ import annotations

import io
from collections.abc import Callable

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.services import reports
from app.services.accounts import add_account
from app.services.demo import DEMO_PARTNERSHIP
from app.services.errors import FieldValidationError, InvalidRequestError
from app.services.partnerships import get_partnership
from tests.conftest import SurveySetUp, full_answers
from tests.test_reports_support import PASSWORD, add_responses, seeded_demo_round, sign_in

DOWNLOADS = ["report.html", "report.xlsx", "answers.csv", "scores.csv", "answers.sav"]


@pytest.fixture
def demo_round(session: Session) -> int:
    return seeded_demo_round(session)


def test_evaluator_reads_granted_partnership_and_nothing_else(
    client: TestClient,
    session: Session,
    demo_round: int,
    make_round: Callable[..., SurveySetUp],
) -> None:
    other = make_round()
    other_name = get_partnership(session, other.partnership_id).name
    add_account(session, "ev@example.org", PASSWORD, "evaluator", [DEMO_PARTNERSHIP])
    add_account(session, "other@example.org", PASSWORD, "evaluator", [other_name])
    sign_in(client, "ev@example.org")
    page = client.get(f"/reports/rounds/{demo_round}")
    assert page.status_code == 200
    assert "Summary of the scales (Table 4)" in page.text
    assert "Recommendation 6" in page.text and "change-table" not in page.text  # first round
    for path in [
        f"/reports/rounds/{other.round_id}",
        "/reports/rounds/999999",
        "/reports/rounds/abc",
        "/reports/rounds/0",
        "/analyst",
        "/analyst/reliability",
        f"/reports/rounds/{demo_round}/nothing.txt",
    ]:
        assert client.get(path).status_code == 404, path
    for name in DOWNLOADS:
        assert client.get(f"/reports/rounds/{demo_round}/{name}").status_code == 200, name
        assert client.get(f"/reports/rounds/{other.round_id}/{name}").status_code == 404, name
    assert client.get(f"/api/v1/reports/rounds/{other.round_id}").status_code == 404
    assert client.get(f"/api/v1/reports/rounds/{other.round_id}/answers").status_code == 404
    listed = client.get("/api/v1/reports/rounds").json()
    # The demo's closed round (the 39 responses) and its open round for trying the links.
    assert demo_round in [r["round_id"] for r in listed]
    assert {r["partnership"] for r in listed} == {DEMO_PARTNERSHIP}


def test_coordinators_read_no_reports_and_evaluators_no_coordinator_screens(
    client: TestClient, session: Session, demo_round: int
) -> None:
    add_account(session, "co@example.org", PASSWORD, "coordinator")
    add_account(session, "ev@example.org", PASSWORD, "evaluator", [DEMO_PARTNERSHIP])
    refused = client.post("/sign-in", data={"email": "co@example.org", "password": PASSWORD})
    assert refused.status_code == 403  # no CSRF token
    page = client.get("/sign-in")
    from tests.conftest import csrf_from

    evaluator = TestClient(client.app)
    answer = evaluator.post(
        "/sign-in",
        data={
            "email": "ev@example.org",
            "password": PASSWORD,
            "csrf_token": csrf_from(evaluator.get("/sign-in").text),
        },
        follow_redirects=False,
    )
    # One sign-in for every role: the evaluator lands on the reports, and the coordinator
    # screens are "not found" to them.
    assert answer.status_code == 303 and answer.headers["location"] == "/reports"
    assert evaluator.get("/coordinator").status_code == 404
    answer = client.post(
        "/sign-in",
        data={"email": "co@example.org", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert client.get(f"/reports/rounds/{demo_round}").status_code == 404
    assert client.get(f"/reports/rounds/{demo_round}/answers.csv").status_code == 404
    assert client.get(f"/api/v1/reports/rounds/{demo_round}").status_code == 404


def test_signed_out_readers_are_sent_to_sign_in(client: TestClient, demo_round: int) -> None:
    answer = client.get(f"/reports/rounds/{demo_round}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in?next=")
    assert client.get(f"/api/v1/reports/rounds/{demo_round}").status_code == 401


def test_below_the_threshold_only_the_count_is_given_everywhere(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    small = make_round()
    add_responses(session, small.round_id, [full_answers(2)] * 4, [{}] * 4)
    add_account(session, "an@example.org", PASSWORD, "analyst")
    sign_in(client, "an@example.org")
    page = client.get(f"/reports/rounds/{small.round_id}").text
    assert 'id="below-threshold"' in page and 'id="table4"' not in page
    data = client.get(f"/api/v1/reports/rounds/{small.round_id}").json()
    assert data["responses"] == 4 and data["results_visible"] is False and "table4" not in data
    for part in ("answers", "scores"):
        assert "records" not in client.get(f"/api/v1/reports/rounds/{small.round_id}/{part}").json()
    # No file is offered: each would hold only the count the page shows.
    assert 'id="no-downloads"' in page and 'id="downloads"' not in page
    for name in [*DOWNLOADS, "report.pdf"]:
        answer = client.get(f"/reports/rounds/{small.round_id}/{name}", follow_redirects=False)
        assert answer.status_code == 303, name  # to the report, which says why there is none
        assert answer.headers["location"] == f"/reports/rounds/{small.round_id}#download"
    pooled = client.get("/api/v1/analyst/pooled").json()
    assert pooled["table4"] is None
    assert [r["pooled"] for r in pooled["rounds"]] == [False]


def test_threshold_is_at_least_3_and_fixed_once_answers_arrive(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    fresh = make_round()
    with pytest.raises(FieldValidationError, match="at least 3"):
        reports.change_anonymity_threshold(session, fresh.round_id, 2)
    assert reports.change_anonymity_threshold(session, fresh.round_id, 8).anonymity_threshold == 8
    add_responses(session, fresh.round_id, [full_answers()], [{}])
    with pytest.raises(InvalidRequestError, match="fixed once answers"):
        reports.change_anonymity_threshold(session, fresh.round_id, 10)


def test_breakdowns_hide_small_groups_and_match_the_k_anonymous_files(
    client: TestClient, session: Session, demo_round: int
) -> None:
    add_account(session, "ad@example.org", PASSWORD, "admin")
    sign_in(client, "ad@example.org")
    data = client.get(f"/api/v1/reports/rounds/{demo_round}").json()
    answers = pd.read_csv(
        io.BytesIO(client.get(f"/reports/rounds/{demo_round}/answers.csv").content)
    )
    assert "partnership_name" not in answers.columns
    assert list(answers["respondent"]) == list(range(1, 40))
    # Demo: acute 9, commissioner 8, mental health 6, local authority 5, primary care 5,
    # community 3, voluntary 2, ambulance 1. Groups are as published in the row-level files,
    # where the rare combinations with role and care model are blanked first.
    for breakdown in data["breakdowns"]:
        question = breakdown["question"]
        groups = {g["value"]: g for g in breakdown["groups"]}
        shown = {v for v, g in groups.items() if g["shown"]}
        hidden = [g for g in groups.values() if not g["shown"]]
        column = answers[question].fillna("not-stated")
        for value in shown:  # a shown group is exactly the file's rows with its value
            assert groups[value]["table4"]["n"] == int((column == value).sum()) >= 5
        assert not hidden or len(hidden) > 1  # never one hidden group on its own
    by_type = {g["value"]: g for g in data["breakdowns"][0]["groups"]}
    assert {v for v, g in by_type.items() if g["shown"]} >= {
        "acute-trust",
        "commissioner",
        "mental-health-trust",
        "local-authority",
        "primary-care",
    }
    assert "ambulance-trust" not in by_type and "voluntary-sector" not in by_type
    assert set(answers["organisation_type"].dropna()) == {
        "acute-trust",
        "commissioner",
        "mental-health-trust",
        "local-authority",
        "primary-care",
    }
    assert data["row_level"]["withheld"].startswith("To keep every combination")


def test_change_since_the_previous_round(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    from datetime import date, timedelta

    from app.services import rounds

    first = make_round(opens_in_days=-60, closes_in_days=-30)
    second = rounds.open_round(
        session,
        first.partnership_id,
        title="Autumn round",
        opens_on=date.today() - timedelta(days=1),
        closes_on=date.today() + timedelta(days=10),
        anonymity_threshold=5,
        instrument_id="trustworthy-collaboration",
        instrument_version="2017.1",
    )
    assert second.id is not None
    add_responses(session, first.round_id, [full_answers(v) for v in (2, 3, 2, 3, 2, 3)], [{}] * 6)
    add_responses(session, second.id, [full_answers(v) for v in (4, 5, 4, 5, 4, 5)], [{}] * 6)
    rounds.close_round(session, second.id)  # results are published when a round closes
    add_account(session, "ad@example.org", PASSWORD, "admin")
    sign_in(client, "ad@example.org")
    change = client.get(f"/api/v1/reports/rounds/{second.id}").json()["change"]
    assert change["previous_round_id"] == first.round_id
    trust = next(s for s in change["scales"] if s["scale_id"] == "inter_individual_trust")
    assert trust["difference"] == pytest.approx(2.0)
    assert trust["ci"][0] > 0 and trust["clear"] is True
    page = client.get(f"/reports/rounds/{second.id}").text
    assert 'id="change-table"' in page and "2.00 (" in page
