"""A round's whole life through the JSON API, on SQLite and PostgreSQL: the instrument and
version chosen at creation, opening now, a new closing date, closing and reopening, renames,
removing an organisation, deletion behind the typed name, and the open link shown again or
replaced only when asked.  Bad input is a 422 naming the field, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.services import invitations, rounds
from tests.conftest import COORDINATOR_PASSWORD, full_answers, token_of

Auth = tuple[str, str]


@pytest.fixture
def auth(coordinator: str) -> Auth:
    return (coordinator, COORDINATOR_PASSWORD)


def _day(days: int) -> str:
    return (rounds.today() + timedelta(days=days)).isoformat()


def _fields(answer: httpx.Response) -> list[list[Any]]:
    """The ``loc`` of each problem of a 422."""
    assert answer.status_code == 422, answer.text
    return [problem["loc"] for problem in answer.json()["detail"]]


def _partnership(client: TestClient, auth: Auth, name: str = "Harbour Partnership") -> int:
    made = client.post(
        "/api/v1/partnerships",
        json={"name": name, "kind": "urgent-and-emergency-care"},
        auth=auth,
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _round(client: TestClient, auth: Auth, partnership_id: int, **given: object) -> Any:
    body = {"title": "Spring round", "opens_on": _day(-1), "closes_on": _day(20), **given}
    made = client.post(f"/api/v1/partnerships/{partnership_id}/rounds", json=body, auth=auth)
    assert made.status_code == 201, made.text
    return made.json()


def test_a_round_chooses_its_instrument_and_version(client: TestClient, auth: Auth) -> None:
    listed = client.get("/api/v1/instruments", auth=auth)
    assert listed.status_code == 200
    offered = {(c["instrument_id"], c["version"]): c for c in listed.json()}
    assert ("trustworthy-collaboration", "2017.1") in offered
    assert offered[("trustworthy-collaboration", "2026.1")]["newest"] is True
    assert offered[("trustworthy-collaboration", "2017.1")]["newest"] is False
    self_check = [key for key in offered if key[0] == "partnership-self-check"]
    assert len(self_check) == 1 and offered[self_check[0]]["source"] == "bundled"

    partnership_id = _partnership(client, auth)
    default = _round(client, auth, partnership_id)
    assert (default["instrument_id"], default["instrument_version"]) == (
        "trustworthy-collaboration",
        "2026.1",
    )
    older = _round(client, auth, partnership_id, instrument_version="2017.1")
    assert (older["instrument_id"], older["instrument_version"]) == (
        "trustworthy-collaboration",
        "2017.1",
    )
    checked = _round(client, auth, partnership_id, instrument_id="partnership-self-check")
    assert (checked["instrument_id"], checked["instrument_version"]) == self_check[0]
    survey = client.get(f"/api/v1/rounds/{checked['id']}", auth=auth).json()
    assert survey["instrument_id"] == "partnership-self-check"

    url = f"/api/v1/partnerships/{partnership_id}/rounds"
    body = {"title": "R", "opens_on": _day(0), "closes_on": _day(5)}
    for given, field in (
        ({"instrument_id": "no-such-instrument"}, "instrument_id"),
        (
            {"instrument_id": "trustworthy-collaboration", "instrument_version": "1999"},
            "instrument_version",
        ),
        ({"instrument_version": "9.9"}, "instrument_version"),
        ({"instrument_id": ""}, "instrument_id"),
        ({"instrument_id": 7}, "instrument_id"),
        ({"instrument_version": "2017.1\n"}, "instrument_version"),
        ({"opens_on": _day(-9), "closes_on": _day(-1)}, "closes_on"),  # already past
    ):
        answer = client.post(url, json={**body, **given}, auth=auth)
        assert _fields(answer) == [["body", field]], given
    unknown = client.post(url, json={**body, "instrument_id": "no-such-instrument"}, auth=auth)
    assert "partnership-self-check" in unknown.json()["detail"][0]["msg"]
    assert len(client.get(url, auth=auth).json()) == 3  # nothing made by the refusals


def test_open_now_new_closing_date_close_and_reopen(
    client: TestClient, session: Session, auth: Auth
) -> None:
    partnership_id = _partnership(client, auth)
    draft = _round(client, auth, partnership_id, opens_on=_day(3), closes_on=_day(10))
    path = f"/api/v1/rounds/{draft['id']}"
    assert draft["state"] == "not-yet-open" and draft["status"] == "draft"
    assert client.post(f"{path}/close", auth=auth).status_code == 400  # not open yet
    opened = client.post(f"{path}/open-now", auth=auth)
    assert opened.status_code == 200, opened.text
    assert opened.json()["state"] == "open" and opened.json()["opens_on"] == _day(0)
    again = client.post(f"{path}/open-now", auth=auth)
    assert again.status_code == 400 and "already open" in again.json()["detail"]

    extended = client.put(f"{path}/closing-date", json={"closes_on": _day(30)}, auth=auth)
    assert extended.status_code == 200 and extended.json()["closes_on"] == _day(30)
    for bad in ({"closes_on": _day(-1)}, {"closes_on": "31/12/2030"}, {"closes_on": None}, {}):
        answer = client.put(f"{path}/closing-date", json=bad, auth=auth)
        assert _fields(answer) == [["body", "closes_on"]], bad
    extra = client.put(f"{path}/closing-date", json={"closes_on": _day(5), "x": 1}, auth=auth)
    assert _fields(extra) == [["body", "x"]]
    assert client.get(path, auth=auth).json()["closes_on"] == _day(30)

    token = invitations.create_personal_links(
        session, draft["id"], organisation_id=None, count=1, most=1
    )[0]
    sent = client.post(f"/api/v1/survey/{token}/response", json={"answers": full_answers()})
    assert sent.status_code == 201, sent.text
    closed = client.post(f"{path}/close", auth=auth).json()
    assert closed["state"] == "closed"
    moved = client.put(f"{path}/closing-date", json={"closes_on": _day(40)}, auth=auth)
    assert moved.status_code == 400 and "reopen" in moved.json()["detail"]
    assert _fields(client.post(f"{path}/reopen", json={"closes_on": _day(-2)}, auth=auth)) == [
        ["body", "closes_on"]
    ]
    assert _fields(client.post(f"{path}/reopen", auth=auth)) == [["body"]]
    reopened = client.post(f"{path}/reopen", json={"closes_on": _day(14)}, auth=auth)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["state"] == "open" and reopened.json()["closes_on"] == _day(14)
    assert rounds.get_round(session, draft["id"]).reopened == 1
    twice = client.post(f"{path}/reopen", json={"closes_on": _day(15)}, auth=auth)
    assert twice.status_code == 400 and "not closed" in twice.json()["detail"]


def test_renames_and_deletions_need_the_typed_name(
    client: TestClient, session: Session, auth: Auth
) -> None:
    partnership_id = _partnership(client, auth, "Harbour Partnership")
    _partnership(client, auth, "Quayside Partnership")
    survey = _round(client, auth, partnership_id, title="Spring 2027")
    path = f"/api/v1/rounds/{survey['id']}"

    renamed = client.put(f"{path}/title", json={"title": "  Spring 2027 (ICS)  "}, auth=auth)
    assert renamed.status_code == 200 and renamed.json()["title"] == "Spring 2027 (ICS)"
    for bad in ({"title": "   "}, {"title": "Bell\x07here"}, {"title": "x" * 201}, {"name": "N"}):
        answer = client.put(f"{path}/title", json=bad, auth=auth)
        assert ["body", "title"] in _fields(answer), bad

    partnership = f"/api/v1/partnerships/{partnership_id}"
    moved = client.put(f"{partnership}/name", json={"name": "Harbour ICS"}, auth=auth)
    assert moved.status_code == 200 and moved.json()["name"] == "Harbour ICS"
    taken = client.put(f"{partnership}/name", json={"name": "Quayside Partnership"}, auth=auth)
    assert taken.status_code == 409 and "already exists" in taken.json()["detail"]
    assert _fields(client.put(f"{partnership}/name", json={"name": ""}, auth=auth)) == [
        ["body", "name"]
    ]

    for body in ({"confirm_name": "Spring 2027"}, {"confirm_name": 5}, {}):
        answer = client.request("DELETE", path, json=body, auth=auth)
        assert _fields(answer) == [["body", "confirm_name"]], body
    assert client.request("DELETE", path, auth=auth).status_code == 422
    assert client.get(path, auth=auth).status_code == 200
    gone = client.request("DELETE", path, json={"confirm_name": " spring 2027 (ics)"}, auth=auth)
    assert gone.status_code == 200 and gone.json() == {"deleted": "round", "id": survey["id"]}
    assert client.get(path, auth=auth).status_code == 404
    assert client.request("DELETE", path, json={"confirm_name": "x"}, auth=auth).status_code == 404

    _round(client, auth, partnership_id, title="Autumn")
    refused = client.request("DELETE", partnership, json={"confirm_name": "Harbour"}, auth=auth)
    assert _fields(refused) == [["body", "confirm_name"]]
    deleted = client.request("DELETE", partnership, json={"confirm_name": "HARBOUR ICS"}, auth=auth)
    assert deleted.status_code == 200 and deleted.json()["deleted"] == "partnership"
    assert client.get(partnership, auth=auth).status_code == 404
    names = [p["name"] for p in client.get("/api/v1/partnerships", auth=auth).json()]
    assert names == ["Quayside Partnership"]


def test_organisations_are_renamed_and_removed_only_without_responses(
    client: TestClient, session: Session, auth: Auth
) -> None:
    partnership_id = _partnership(client, auth)
    organisations = f"/api/v1/partnerships/{partnership_id}/organisations"
    made = [
        client.post(organisations, json={"name": name, "kind": "acute-trust"}, auth=auth).json()
        for name in ("Bay Hospital", "Cliff Hospital", "Dune Hospital")
    ]
    survey = _round(client, auth, partnership_id)
    links: dict[int, list[str]] = {}
    for organisation in made:
        given = client.post(
            f"/api/v1/rounds/{survey['id']}/links",
            json={"count": 1, "organisation_id": organisation["id"]},
            auth=auth,
        )
        links[organisation["id"]] = [token_of(link) for link in given.json()["links"]]
    bay, cliff, dune = (organisation["id"] for organisation in made)
    started = client.put(f"/api/v1/survey/{links[cliff][0]}/draft", json={"answers": {"q10": 2}})
    assert started.status_code == 200, started.text

    renamed = client.put(f"{organisations}/{bay}/name", json={"name": "Bay NHS Trust"}, auth=auth)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Bay NHS Trust"
    clash = client.put(f"{organisations}/{bay}/name", json={"name": "Dune Hospital"}, auth=auth)
    assert clash.status_code == 409
    assert _fields(client.put(f"{organisations}/{bay}/name", json={}, auth=auth)) == [
        ["body", "name"]
    ]

    kept = client.request("DELETE", f"{organisations}/{cliff}", auth=auth)
    assert kept.status_code == 400 and "cannot be removed" in kept.json()["detail"]
    removed = client.request("DELETE", f"{organisations}/{dune}", auth=auth)
    assert removed.status_code == 200 and removed.json() == {"deleted": "organisation", "id": dune}
    assert client.get(f"/api/v1/survey/{links[dune][0]}").status_code == 404  # link revoked
    remaining = {o["id"] for o in client.get(organisations, auth=auth).json()}
    assert remaining == {bay, cliff}
    for spelled in (f"0{bay}", f"{bay}.0", "abc", str(dune)):
        answer = client.put(f"{organisations}/{spelled}/name", json={"name": "X"}, auth=auth)
        assert answer.status_code == 404, spelled
    other = _partnership(client, auth, "Other Partnership")
    elsewhere = f"/api/v1/partnerships/{other}/organisations/{bay}"
    assert client.request("DELETE", elsewhere, auth=auth).status_code == 404
    assert client.put(f"{elsewhere}/name", json={"name": "X"}, auth=auth).status_code == 404


def test_the_open_link_is_shown_again_and_replaced_only_when_asked(
    client: TestClient, auth: Auth
) -> None:
    partnership_id = _partnership(client, auth)
    survey = _round(client, auth, partnership_id)
    path = f"/api/v1/rounds/{survey['id']}/open-link"
    assert client.get(path, auth=auth).json() == {"link": None, "has_open_link": False}
    made = client.post(path, auth=auth)
    assert made.status_code == 201
    link = made.json()["link"]
    assert client.get(path, auth=auth).json() == {"link": link, "has_open_link": True}

    refused = client.post(path, auth=auth)
    assert refused.status_code == 409 and "replace" in refused.json()["detail"]
    assert _fields(client.post(path, json={"replace": "yes"}, auth=auth)) == [["body", "replace"]]
    assert _fields(client.post(path, json={"replace": True, "x": 1}, auth=auth)) == [["body", "x"]]
    assert client.post(path, json={"replace": False}, auth=auth).status_code == 409
    assert client.get(f"/api/v1/survey/{token_of(link)}").status_code == 200

    replaced = client.post(path, json={"replace": True}, auth=auth)
    assert replaced.status_code == 201
    new_link = replaced.json()["link"]
    assert new_link != link
    assert client.get(f"/api/v1/survey/{token_of(link)}").status_code == 404
    assert client.get(f"/api/v1/survey/{token_of(new_link)}").status_code == 200
    assert client.get(path, auth=auth).json() == {"link": new_link, "has_open_link": True}
