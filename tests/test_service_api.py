"""The JSON API: answering by link, 422 per field, coordinators with HTTP Basic."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.services import invitations
from tests.conftest import (
    COORDINATOR_PASSWORD,
    SurveySetUp,
    full_answers,
    token_of,
)


def _link(session: Session, setup: SurveySetUp) -> str:
    return invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )[0]


def test_submit_by_api_once_only(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    survey = client.get(f"/api/v1/survey/{token}")
    assert survey.status_code == 200
    body = survey.json()
    assert body["state"] == "open" and body["saved"] is None
    assert body["sections"][0]["id"] == "about-you"

    draft = client.put(f"/api/v1/survey/{token}/draft", json={"answers": {"q10": 2}})
    assert draft.status_code == 200
    saved = draft.json()["saved"]
    assert saved["answers"] == {"q10": 2} and saved["link_status"] == "started"
    assert "q11" in saved["missing"] and "q10" not in saved["missing"]
    code = {"X-Resume-Code": draft.json()["resume_code"]}
    read = client.get(f"/api/v1/survey/{token}", headers=code).json()["saved"]
    assert read["link_status"] == "started" and read["answers"] == {"q10": 2}

    answers = full_answers(3)
    answers.pop("q10")
    done = client.post(
        f"/api/v1/survey/{token}/response",
        json={"answers": answers, "background": {"professional_role": "other"}},
        headers=code,
    )
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "submitted"
    again = client.post(
        f"/api/v1/survey/{token}/response", json={"answers": full_answers()}, headers=code
    )
    assert again.status_code == 409
    assert "already been used" in again.json()["detail"]
    assert client.put(f"/api/v1/survey/{token}/draft", json={}, headers=code).status_code == 409


@pytest.mark.parametrize(
    ("body", "location", "message"),
    [
        ({"answers": {"q99": 3}}, ["body", "answers", "q99"], "unknown item"),
        ({"answers": {"q10": 6}}, ["body", "answers", "q10"], "from 1 to 5"),
        ({"answers": {"q10": 0}}, ["body", "answers", "q10"], "from 1 to 5"),
        ({"answers": {"q10": "4"}}, ["body", "answers", "q10"], "integer"),
        ({"answers": {"q10": 3.5}}, ["body", "answers", "q10"], "integer"),
        ({"answers": {"q10": True}}, ["body", "answers", "q10"], "integer"),
        ({"answers": {"q10": 10**30}}, ["body", "answers", "q10"], "from 1 to 5"),
        ({"background": {"care_model": "x"}}, ["body", "background", "care_model"], "one of"),
        ({"background": {"shoe_size": "9"}}, ["body", "background", "shoe_size"], "unknown"),
        ({"answers": []}, ["body", "answers"], "dictionary"),
        ({"extra": 1}, ["body", "extra"], "not permitted"),
    ],
)
def test_bad_answers_are_422_with_a_message_per_field(
    client: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    body: dict[str, object],
    location: list[str],
    message: str,
) -> None:
    token = _link(session, make_round())
    answer = client.post(f"/api/v1/survey/{token}/response", json=body)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    mine = [d for d in detail if d["loc"][: len(location)] == location]
    assert mine, detail
    assert message in mine[0]["msg"]


def test_missing_required_answers_are_422_each_named(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    answers = full_answers()
    del answers["q10"], answers["q11"]
    answer = client.post(f"/api/v1/survey/{token}/response", json={"answers": answers})
    assert answer.status_code == 422
    fields = {tuple(d["loc"]) for d in answer.json()["detail"]}
    assert fields == {("body", "answers", "q10"), ("body", "answers", "q11")}
    # the optional item q32 may be left out
    answers |= {"q10": 1, "q11": 1}
    del answers["q32"]
    assert (
        client.post(f"/api/v1/survey/{token}/response", json={"answers": answers}).status_code
        == 201
    )


def test_malformed_requests_never_500(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    url = f"/api/v1/survey/{token}/response"
    assert (
        client.post(
            url, content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            url, content=b"\xff\xfe", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert client.post(url, json={"background": {"partnership_name": "a\x00b"}}).status_code == 422
    assert client.get("/api/v1/survey/" + "x" * 5000).status_code == 404
    auth = ("nobody@example.org", "wrong password")
    assert client.get("/api/v1/rounds/99999999999999999999", auth=auth).status_code in {401, 422}


def test_open_link_takes_many_responses_by_api(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    open_token = invitations.create_open_link(session, setup.round_id)
    for _ in range(2):
        answer = client.post(
            f"/api/v1/survey/{open_token}/response", json={"answers": full_answers()}
        )
        assert answer.status_code == 201
    assert client.put(f"/api/v1/survey/{open_token}/draft", json={}).status_code == 404


def test_closed_round_refuses_answers_by_api(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round(opens_in_days=-10, closes_in_days=-2))
    answer = client.post(f"/api/v1/survey/{token}/response", json={"answers": full_answers()})
    assert answer.status_code == 403 and "closed" in answer.json()["detail"]


def test_coordinator_api_sets_up_a_round_and_counts_responses(
    client: TestClient, coordinator: str
) -> None:
    assert client.get("/api/v1/partnerships").status_code == 401
    auth = (coordinator, COORDINATOR_PASSWORD)
    assert client.get("/api/v1/partnerships", auth=(coordinator, "wrong")).status_code == 401
    created = client.post(
        "/api/v1/partnerships", json={"name": "Bay Partnership", "kind": "other"}, auth=auth
    )
    assert created.status_code == 201
    partnership_id = created.json()["id"]
    duplicate = client.post(
        "/api/v1/partnerships", json={"name": "Bay Partnership", "kind": "other"}, auth=auth
    )
    assert duplicate.status_code == 409
    bad = client.post("/api/v1/partnerships", json={"name": "Cove", "kind": "nonsense"}, auth=auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "kind"]
    organisation = client.post(
        f"/api/v1/partnerships/{partnership_id}/organisations",
        json={"name": "Bay Hospital", "kind": "acute-trust"},
        auth=auth,
    ).json()
    low = client.post(
        f"/api/v1/partnerships/{partnership_id}/rounds",
        json={
            "title": "R",
            "opens_on": "2026-01-01",
            "closes_on": "2026-02-01",
            "anonymity_threshold": 2,
        },
        auth=auth,
    )
    assert low.status_code == 422
    backwards = client.post(
        f"/api/v1/partnerships/{partnership_id}/rounds",
        json={"title": "R", "opens_on": "2026-03-01", "closes_on": "2026-02-01"},
        auth=auth,
    )
    assert backwards.status_code == 422
    assert backwards.json()["detail"][0]["loc"] == ["body", "closes_on"]
    survey_round = client.post(
        f"/api/v1/partnerships/{partnership_id}/rounds",
        json={"title": "Autumn", "opens_on": "2020-01-01", "closes_on": "2099-12-31"},
        auth=auth,
    ).json()
    assert survey_round["anonymity_threshold"] == 5 and survey_round["state"] == "open"
    links = client.post(
        f"/api/v1/rounds/{survey_round['id']}/links",
        json={"count": 8, "organisation_id": organisation["id"]},
        auth=auth,
    )
    assert links.status_code == 201
    tokens = [token_of(link) for link in links.json()["links"]]
    assert len(set(tokens)) == 8 and all(len(t) >= 43 for t in tokens)
    sent = client.post(f"/api/v1/survey/{tokens[0]}/response", json={"answers": full_answers()})
    assert sent.status_code == 201, sent.text
    client.put(f"/api/v1/survey/{tokens[1]}/draft", json={"answers": {"q10": 1}})
    progress = client.get(f"/api/v1/rounds/{survey_round['id']}/progress", auth=auth).json()
    # one started and one submitted: both below the threshold of 5, so neither is shown
    assert progress == [
        {
            "organisation_id": organisation["id"],
            "organisation_name": "Bay Hospital",
            "through_open_link": False,
            "invited": 8,
            "started": None,
            "started_hidden": "below-threshold",
            "submitted": None,
            "submitted_hidden": "below-threshold",
            "completion_rate": None,
        }
    ]
    for token in tokens[2:7]:
        more = client.post(f"/api/v1/survey/{token}/response", json={"answers": full_answers()})
        assert more.status_code == 201
    shown = client.get(f"/api/v1/rounds/{survey_round['id']}/progress", auth=auth).json()
    assert shown[0] | {"completion_rate": None} == progress[0] | {
        "submitted": 6,
        "submitted_hidden": None,
    }
    assert shown[0]["completion_rate"] == pytest.approx(6 / 8)
    open_link = client.post(f"/api/v1/rounds/{survey_round['id']}/open-link", auth=auth)
    assert open_link.status_code == 201
    closed = client.post(f"/api/v1/rounds/{survey_round['id']}/close", auth=auth).json()
    assert closed["state"] == "closed"
    assert client.get(f"/api/v1/survey/{tokens[7]}").json()["state"] == "closed"


def test_openapi_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/survey/{token}/response" in paths
    assert "/api/v1/rounds/{round_id}/progress" in paths
    assert not any(path.startswith("/s/") for path in paths)
