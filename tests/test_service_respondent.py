"""The questionnaire over HTTP: page by page, resumed, checked, submitted once only."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.instruments import instrument_named
from app.models import Invitation, InvitationStatus, Response
from app.services import invitations
from app.web.respondent_pages import RESUME_COOKIE
from tests.conftest import SurveySetUp

INSTRUMENT = instrument_named("trustworthy-collaboration")


def _personal_link(session: Session, setup: SurveySetUp) -> str:
    return invitations.create_personal_links(
        session, setup.round_id, organisation_id=setup.organisation_ids[0], count=1, most=1
    )[0]


def _page_answers(section_id: str, value: int = 4) -> dict[str, str]:
    section = next(s for s in INSTRUMENT.sections if s.id == section_id)
    answers = {item_id: str(value) for item_id in section.items}
    if section.background:
        answers |= {
            "partnership_name": "Test partnership",
            "care_model": "urgent-and-emergency-care",
            "organisation_type": "acute-trust",
            "professional_role": "medical",
        }
    return answers


def test_answered_page_by_page_resumed_and_submitted_once(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    token = _personal_link(session, setup)
    start = client.get(f"/s/{token}")
    assert start.status_code == 200
    assert "Who will see your answers" in start.text and "10 minutes" in start.text
    assert "Start now" in start.text
    assert "set-cookie" not in start.headers
    sections = [s.id for s in INSTRUMENT.sections]

    first = client.get(f"/s/{token}/sections/{sections[0]}")
    assert first.status_code == 200
    # the link already tells the partnership's name, care model and organisation type
    assert 'value="Test partnership 1"' in first.text
    assert 'value="acute-trust" checked' in first.text

    # answer half the pages, then come back later with the same link
    for section_id in sections[:3]:
        saved = client.post(
            f"/s/{token}/sections/{section_id}",
            data=_page_answers(section_id),
            follow_redirects=False,
        )
        assert saved.status_code == 303
    resumed = client.get(f"/s/{token}")
    assert "Continue where you left off" in resumed.text
    assert f"/s/{token}/sections/{sections[3]}" in resumed.text
    page = client.get(f"/s/{token}/sections/{sections[1]}")
    assert page.text.count("checked") == len(INSTRUMENT.sections[1].items)

    # each item is a radio group in a fieldset with a legend
    fieldsets = re.findall(r'<fieldset class="nhsuk-fieldset" id="(q\d+)"', page.text)
    assert fieldsets == INSTRUMENT.sections[1].items
    assert page.text.count("<legend") == len(fieldsets)

    for section_id in sections[3:]:
        client.post(f"/s/{token}/sections/{section_id}", data=_page_answers(section_id))
    check = client.get(f"/s/{token}/check")
    assert check.status_code == 200
    assert "Check your answers" in check.text
    assert f"/s/{token}/sections/{sections[2]}?change=1" in check.text

    # a change link goes back to the check page
    changed = client.post(
        f"/s/{token}/sections/{sections[1]}",
        data=_page_answers(sections[1], 2) | {"change": "1"},
        follow_redirects=False,
    )
    assert changed.headers["location"] == f"/s/{token}/check"

    submitted = client.post(f"/s/{token}/submit", follow_redirects=False)
    assert submitted.status_code == 303
    thanks = client.get(submitted.headers["location"])
    assert "your answers have been submitted" in thanks.text

    again = client.post(f"/s/{token}/submit")
    assert again.status_code == 409
    assert "already been used" in again.text
    used = client.get(f"/s/{token}")
    assert used.status_code == 409 and "This link has already been used" in used.text
    assert client.get(f"/s/{token}/sections/{sections[0]}").status_code == 409

    response = session.exec(select(Response)).one()
    assert response.status == "submitted"
    assert response.invitation_id is None  # detached from the link
    assert response.answers["q10"] == 2 and response.answers["q52"] == 4
    assert response.background["professional_role"] == "medical"
    columns = {c.name for c in sa.inspect(Response).columns}  # type: ignore[union-attr]
    assert not columns & {"name", "email", "ip", "ip_address", "user_agent", "token"}
    invitation = session.exec(select(Invitation)).one()
    assert invitation.status == InvitationStatus.SUBMITTED
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64


def test_missing_required_answers_are_listed_and_valid_ones_kept(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _personal_link(session, make_round())
    section = INSTRUMENT.sections[1]
    partial = {section.items[0]: "5", section.items[1]: "9"}
    answer = client.post(f"/s/{token}/sections/{section.id}", data=partial)
    assert answer.status_code == 400
    assert "There is a problem" in answer.text
    # the error summary links to the first radio of the unanswered question
    assert f'href="#{section.items[2]}-1"' in answer.text
    assert (
        f'id="{section.items[0]}-5" name="{section.items[0]}" type="radio" value="5" checked'
        in (answer.text)
    )
    check = client.get(f"/s/{token}/check")
    assert "Not answered yet" in check.text
    refused = client.post(f"/s/{token}/submit")
    assert refused.status_code == 400 and "answer this question" in refused.text


def test_closed_and_not_yet_open_rounds_say_so_with_their_dates(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    early = make_round(opens_in_days=3, closes_in_days=10)
    late = make_round(opens_in_days=-20, closes_in_days=-1)
    early_page = client.get(f"/s/{_personal_link(session, early)}")
    assert early_page.status_code == 403
    assert "not open yet" in early_page.text and "It opens on" in early_page.text
    late_token = _personal_link(session, late)
    late_page = client.get(f"/s/{late_token}")
    assert late_page.status_code == 403 and "has closed" in late_page.text
    posted = client.post(f"/s/{late_token}/sections/about-you", data={"care_model": "other"})
    assert posted.status_code == 403


def test_unknown_link_is_404(client: TestClient) -> None:
    assert client.get("/s/not-a-real-token").status_code == 404


def test_open_link_gives_each_respondent_a_link_to_resume(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    open_token = invitations.create_open_link(session, setup.round_id)
    start = client.get(f"/s/{open_token}")
    assert start.status_code == 200 and "Hillshire Council" in start.text
    began = client.post(
        f"/s/{open_token}/start",
        data={"organisation_id": str(setup.organisation_ids[1])},
        follow_redirects=False,
    )
    assert began.status_code == 303
    own_token = began.headers["location"].split("/")[2]
    assert own_token != open_token
    page = client.get(began.headers["location"])
    assert "bookmark this page" in page.text
    assert 'value="local-authority" checked' in page.text
    # a second visitor of the open link gets a different link
    other = client.post(f"/s/{open_token}/start", data={}, follow_redirects=False)
    assert other.headers["location"].split("/")[2] not in {own_token, open_token}
    # a replaced open link stops working
    invitations.create_open_link(session, setup.round_id)
    assert client.get(f"/s/{open_token}").status_code == 404


def test_answering_works_when_the_key_comes_from_the_secret_key_file(
    migrated_url: str, session: Session, make_round: Callable[..., SurveySetUp], tmp_path: Path
) -> None:
    # scripts/serve sets no SECRET_KEY: the key is made in SECRET_KEY_FILE on first use, and
    # the resume cookie must be signed with it (it once read SECRET_KEY itself, and the first
    # saved page of every respondent answered 500).
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(
        environment="development",
        database_url=migrated_url,
        secret_key=None,
        secret_key_file=tmp_path / "secret-key",
        allowed_hosts=frozenset({"testserver"}),
    )
    setup = make_round()
    token = _personal_link(session, setup)
    first = INSTRUMENT.sections[0].id
    with TestClient(create_app(settings)) as client:
        saved = client.post(
            f"/s/{token}/sections/{first}", data=_page_answers(first), follow_redirects=False
        )
        assert saved.status_code == 303, saved.text[:500]
        assert RESUME_COOKIE in saved.headers.get("set-cookie", "")
        # the cookie is honoured: the next page opens without asking for the code
        following = client.get(saved.headers["location"])
        assert following.status_code == 200
        assert "resume code" not in following.text.lower() or "Save and continue" in following.text
    assert (tmp_path / "secret-key").exists()
