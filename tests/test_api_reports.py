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


def test_report_json_table4_is_favourable_keyed_with_the_printed_direction_named(
    client: TestClient, readers: int
) -> None:
    """The JSON's table4 block gives every scale's mean, median and mode favourable-keyed
    (higher is better, the page's score), the report's printed direction only under
    as_printed, and no figure in any other direction; /openapi.json declares the shape."""
    from analysis.frequencies import spss_round

    auth = ("ev@example.org", PASSWORD)
    data = client.get(f"/api/v1/reports/rounds/{readers}", auth=auth).json()
    table4 = data["table4"]
    assert table4["direction"] == "favourable-high"
    page_table = next(t for t in data["tables"] if t["id"] == "table4")
    shown = {row["key"]: row["text"] for row in page_table["rows"]}
    instrument = instrument_named("trustworthy-collaboration")
    assert {s["scale_id"] for s in table4["scales"]} == {s.id for s in instrument.scales}
    for scale in table4["scales"]:
        text = shown[scale["scale_id"]]
        assert spss_round(scale["mean"], 2) == text["score"], scale["scale_id"]
        assert scale["mean_ci"][0] <= scale["mean"] <= scale["mean_ci"][1]
        printed = scale["as_printed"]
        assert spss_round(printed["mean"], 2) == text["mean"], scale["scale_id"]
        assert spss_round(printed["median"], 2) == text["median"], scale["scale_id"]
        # Printed against the favourable direction exactly when its mean is the reflection.
        reflected = abs(printed["mean"] + scale["mean"] - 6) < 1e-9
        same = abs(printed["mean"] - scale["mean"]) < 1e-9
        assert printed["lower_is_better"] == (reflected and not same), scale["scale_id"]
        assert {"score", "score_ci", "favourable"}.isdisjoint(scale)
    competition = next(
        s for s in table4["scales"] if instrument.scale(s["scale_id"]).favourable == "low"
    )
    assert competition["as_printed"]["lower_is_better"]
    benchmark = competition["benchmark"]
    assert benchmark["mean"] + competition["as_printed"]["benchmark_mean"] == pytest.approx(6)
    for breakdown in data["breakdowns"]:
        for group in breakdown["groups"]:
            if group["table4"]:
                assert group["table4"]["direction"] == "favourable-high"

    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    report_table4 = schemas["RoundReportOut"]["properties"]["table4"]
    assert "Table4Out" in str(report_table4)
    scale_schema = schemas["ScaleSummaryOut"]["properties"]
    assert {"mean", "median", "mode", "mean_ci", "as_printed", "benchmark"} <= set(scale_schema)
    assert "lower_is_better" in schemas["AsPrintedOut"]["properties"]


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
