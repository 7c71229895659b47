"""The reports API with HTTP Basic: report JSON, pooled counts, reliability, threshold."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.instruments import instrument_named
from app.services.accounts import add_account, coordinator_by_email, grant_partnership
from app.services.demo import DEMO_PARTNERSHIP
from app.services.rounds import close_round
from tests.conftest import COORDINATOR_PASSWORD, SurveySetUp, full_answers
from tests.test_reports_support import PASSWORD, add_responses, seeded_demo_round


@pytest.fixture
def readers(session: Session) -> int:
    round_id = seeded_demo_round(session)
    add_account(session, "an@example.org", PASSWORD, "analyst")
    add_account(session, "ev@example.org", PASSWORD, "evaluator", [DEMO_PARTNERSHIP])
    return round_id


def test_report_json_by_basic_auth(client: TestClient, readers: int) -> None:
    answer = client.get(f"/api/v1/reports/rounds/{readers}", auth=("ev@example.org", PASSWORD))
    assert answer.status_code == 200
    data = answer.json()
    trust = next(
        s for s in data["table4"]["scales"] if s["scale_id"] == "inter_organisational_trust"
    )
    assert trust["benchmark"]["mean"] == pytest.approx(3.3)  # 2.7 restated in the trust direction
    assert trust["benchmark"]["published_direction"] == "raw"
    assert data["readings"][0]["band_label"] in {"Strength", "Borderline", "Concern"}
    assert len(data["frequencies"]) == len(instrument_named("trustworthy-collaboration").items)
    records = client.get(
        f"/api/v1/reports/rounds/{readers}/scores", auth=("ev@example.org", PASSWORD)
    ).json()["records"]
    assert len(records) == 39 and "inter_individual_trust" in records[0]
    assert (
        client.get(
            f"/api/v1/reports/rounds/{readers}", auth=("ev@example.org", "wrong")
        ).status_code
        == 401
    )
    assert (
        client.get("/api/v1/analyst/pooled", auth=("ev@example.org", PASSWORD)).status_code == 404
    )


def test_reliability_pairwise_and_listwise_and_bad_input(client: TestClient, readers: int) -> None:
    auth = ("an@example.org", PASSWORD)
    url = "/api/v1/analyst/reliability?item=q26&item=q27&item=q28"
    listwise = client.get(url + "&missing=listwise", auth=auth).json()
    assert round(listwise["alpha"], 3) == 0.833 and listwise["missing"] == "listwise"
    assert [i["item"] for i in listwise["items"]] == ["q26", "q27", "q28"]
    assert all(i["alpha_if_deleted"] is not None for i in listwise["items"])
    assert listwise["ci"][0] < listwise["alpha"] < listwise["ci"][1]
    pairwise = client.get(url + f"&round={readers}&missing=pairwise", auth=auth).json()
    assert pairwise["missing"] == "pairwise" and pairwise["rounds"][0]["pooled"] is True
    bad = client.get("/api/v1/analyst/reliability?item=q26&item=nope", auth=auth)
    assert bad.status_code == 422 and "nope" in bad.text
    assert client.get(url + "&round=999", auth=auth).status_code == 422
    assert client.get(url + "&missing=sometimes", auth=auth).status_code == 422


def test_pooled_leaves_out_rounds_below_their_threshold(
    client: TestClient, session: Session, readers: int, make_round: Callable[..., SurveySetUp]
) -> None:
    small = make_round()
    add_responses(session, small.round_id, [full_answers(1)] * 3, [{}] * 3)
    big = make_round()
    add_responses(session, big.round_id, [full_answers(5), full_answers(4)] * 3, [{}] * 6)
    for survey_round in (small, big):  # pooled figures use closed rounds only
        close_round(session, survey_round.round_id)
    pooled = client.get("/api/v1/analyst/pooled", auth=("an@example.org", PASSWORD)).json()
    assert pooled["table4"]["n"] == 39 + 6
    totals = {row["kind"]: row for row in pooled["partnership_kinds"]}
    assert totals["urgent-and-emergency-care"]["responses"] == 6
    assert totals["urgent-and-emergency-care"]["partnerships"] == 1
    assert totals["total"]["responses"] == 45
    assert {r["round_id"]: r["pooled"] for r in pooled["rounds"]}[small.round_id] is False


def test_threshold_endpoint(
    client: TestClient, coordinator: str, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    fresh = make_round()
    auth = (coordinator, COORDINATOR_PASSWORD)
    url = f"/api/v1/rounds/{fresh.round_id}/anonymity-threshold"
    # Coordinators run only the partnerships granted to them (tests/test_authorisation.py).
    assert client.put(url, json={"anonymity_threshold": 7}, auth=auth).status_code == 404
    account = coordinator_by_email(session, coordinator)
    assert account is not None
    grant_partnership(session, account, fresh.partnership_id)
    assert (
        client.put(url, json={"anonymity_threshold": 7}, auth=auth).json()["anonymity_threshold"]
        == 7
    )
    assert client.put(url, json={"anonymity_threshold": 2}, auth=auth).status_code == 422
    add_responses(session, fresh.round_id, [full_answers()], [{}])
    refused = client.put(url, json={"anonymity_threshold": 9}, auth=auth)
    assert refused.status_code == 400 and "fixed once answers" in refused.text
