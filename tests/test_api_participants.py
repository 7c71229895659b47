"""Participants and invitations through the JSON API, on SQLite and PostgreSQL: all or none,
every bad entry named, counts only (never an address), invitations queued once each."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models import OutboxMessage, Participant
from app.services import accounts
from tests.conftest import COORDINATOR_PASSWORD, SurveySetUp

Auth = tuple[str, str]


def test_participants_are_added_all_or_none_and_invited_once(
    client: TestClient,
    session: Session,
    coordinator: str,
    make_round: Callable[..., SurveySetUp],
) -> None:
    setup = make_round()
    account = accounts.coordinator_by_email(session, coordinator)
    assert account is not None
    accounts.grant_partnership(session, account, setup.partnership_id)
    auth = (coordinator, COORDINATOR_PASSWORD)
    path = f"/api/v1/rounds/{setup.round_id}"
    good = [
        {"email": "ann@example.nhs.uk", "organisation": "Riverside Hospital"},
        {"email": "bo@example.nhs.uk", "organisation": "riverside hospital"},
        {"email": "cy@example.gov.uk", "organisation": "Hillshire Council"},
    ]
    bad = [
        *good,
        {"email": "not an address", "organisation": "Riverside Hospital"},
        {"email": "dee@example.nhs.uk", "organisation": "No Such Trust"},
        {"email": "ANN@example.nhs.uk", "organisation": "Riverside Hospital"},
    ]
    refused = client.post(f"{path}/participants", json={"participants": bad}, auth=auth)
    assert refused.status_code == 422, refused.text
    named = {tuple(problem["loc"]) for problem in refused.json()["detail"]}
    assert named == {
        ("body", "participants", "3"),
        ("body", "participants", "4"),
        ("body", "participants", "5"),
    }, refused.json()
    assert session.exec(select(Participant)).all() == []  # nothing added

    for body in ({"participants": []}, {"participants": [{"email": "x@y.org"}]}, {}):
        assert client.post(f"{path}/participants", json=body, auth=auth).status_code == 422
    nul = [{"email": "e\x00@example.org", "organisation": "Riverside Hospital"}]
    assert (
        client.post(f"{path}/participants", json={"participants": nul}, auth=auth).status_code
        == 422
    )

    added = client.post(f"{path}/participants", json={"participants": good}, auth=auth)
    assert added.status_code == 201 and added.json() == {"added": 3}
    counts = client.get(f"{path}/participants", auth=auth)
    assert counts.status_code == 200
    assert "@" not in counts.text  # counts only
    by_name = {row["organisation_name"]: row for row in counts.json()}
    assert by_name["Riverside Hospital"]["listed"] == 2
    assert by_name["Hillshire Council"] == {
        "organisation_name": "Hillshire Council",
        "listed": 1,
        "invited": 0,
        "opted_out": 0,
        "undeliverable": 0,
    }

    sent = client.post(f"{path}/invitations", auth=auth)
    assert sent.status_code == 200 and sent.json() == {"queued": 3}
    assert client.post(f"{path}/invitations", auth=auth).json() == {"queued": 0}
    session.expire_all()
    queued = session.exec(select(OutboxMessage)).all()
    assert sorted(m.recipient for m in queued) == sorted(p["email"] for p in good)
    after = {
        row["organisation_name"]: row
        for row in client.get(f"{path}/participants", auth=auth).json()
    }
    assert after["Riverside Hospital"]["invited"] == 2

    again = client.post(f"{path}/participants", json={"participants": good[:1]}, auth=auth)
    assert again.status_code == 422 and "already" in again.text
