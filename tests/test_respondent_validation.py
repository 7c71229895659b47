"""What respondents are told about missing and invalid answers, saving for later, and a 503.

Required questions come from the instrument; problems are listed in the error summary (linking
to each question's first input) and inline; answers already given stay on the page, and
nothing saved before is lost.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.instruments import instrument_named
from app.models import Response
from app.services import invitations
from app.services.answers import UNANSWERED, unanswered_required
from app.web.page_problems import first_input_id, page_problems
from tests.conftest import SurveySetUp

INSTRUMENT = instrument_named("trustworthy-collaboration")
SECTIONS = {section.id: section for section in INSTRUMENT.sections}


def _link(session: Session, setup: SurveySetUp) -> str:
    return invitations.create_personal_links(
        session, setup.round_id, organisation_id=setup.organisation_ids[0], count=1, most=1
    )[0]


def _draft(session: Session) -> Response:
    session.expire_all()
    return session.exec(select(Response)).one()


def _section_with_optional_item() -> str:
    for section in INSTRUMENT.sections:
        if any(not INSTRUMENT.item(item_id).required for item_id in section.items):
            return section.id
    raise AssertionError("the instrument has an optional item")


def test_required_comes_from_the_instrument() -> None:
    optional = [i for i in INSTRUMENT.item_ids if not INSTRUMENT.item(i).required]
    assert optional, "the instrument marks some item optional"
    missing = unanswered_required(INSTRUMENT, {}, {})
    assert set(missing) == set(INSTRUMENT.item_ids) - set(optional)
    assert all(text == UNANSWERED for text in missing.values())
    # make a background question required: it is then asked for
    background = [
        q.model_copy(update={"required": q.id == "care_model"}) for q in INSTRUMENT.background
    ]
    strict = INSTRUMENT.model_copy(update={"background": background})
    assert "care_model" in unanswered_required(strict, {}, {})
    shown = page_problems(
        strict, {"care_model": UNANSWERED, "partnership_name": "must be at most 200 characters"}
    )
    assert [p.field_id for p in shown] == ["partnership_name", "care_model"]  # page order
    assert shown[1].message == "Select an answer"
    assert (
        shown[1].href
        == f"#{first_input_id(strict, 'care_model')}"
        == "#care_model-acute-care-collaborations"
    )
    assert (
        shown[0].message == "Enter 200 characters or fewer" and shown[0].href == "#partnership_name"
    )
    assert "Which partnership" in shown[0].summary


def test_optional_items_may_be_left_blank(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    section = SECTIONS[_section_with_optional_item()]
    required = [i for i in section.items if INSTRUMENT.item(i).required]
    optional = [i for i in section.items if not INSTRUMENT.item(i).required]
    blank = client.post(f"/s/{token}/sections/{section.id}", data={})
    assert blank.status_code == 400
    for item_id in required:
        assert f'href="#{item_id}-1"' in blank.text
    for item_id in optional:
        assert f'href="#{item_id}-1"' not in blank.text
        assert f"{item_id}-error" not in blank.text
    answered = client.post(
        f"/s/{token}/sections/{section.id}",
        data={item_id: "3" for item_id in required},
        follow_redirects=False,
    )
    assert answered.status_code == 303


def test_an_invalid_answer_is_reported_and_the_saved_one_kept(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    section = INSTRUMENT.sections[1]
    first, second = section.items[0], section.items[1]
    client.post(f"/s/{token}/sections/{section.id}", data={first: "2", second: "4"})
    bad = client.post(f"/s/{token}/sections/{section.id}", data={first: "9", second: "5"})
    assert bad.status_code == 400
    assert "<title>Error: " in bad.text
    assert f'<a href="#{first}-1">Select one of the answers shown for' in bad.text
    assert re.search(rf'id="{first}-error">.*Select one of the answers shown', bad.text)
    # the saved answer to the first item is not lost, and the good new one is saved
    assert f'id="{first}-2" name="{first}" type="radio" value="2" checked' in bad.text
    assert f'id="{second}-5" name="{second}" type="radio" value="5" checked' in bad.text
    draft = _draft(session)
    assert draft.answers[first] == 2 and draft.answers[second] == 5


def test_a_too_long_text_answer_stays_in_the_box_to_shorten(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    long_name = "A" * 201
    page = client.post(f"/s/{token}/sections/about-you", data={"partnership_name": long_name})
    assert page.status_code == 400
    assert f'value="{long_name}"' in page.text
    assert "Enter 200 characters or fewer" in page.text
    assert 'aria-describedby="partnership_name-error"' in page.text
    assert _draft(session).background["partnership_name"] == "Test partnership 1"


def test_save_and_come_back_later_keeps_a_part_answered_page(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    section = INSTRUMENT.sections[1]
    saved = client.post(
        f"/s/{token}/sections/{section.id}",
        data={section.items[0]: "1", "action": "save-for-later"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/s/{token}/saved"
    page = client.get(saved.headers["location"])
    assert page.status_code == 200 and "Your answers have been saved" in page.text
    assert f"http://testserver/s/{token}" in page.text
    draft = _draft(session)
    assert draft.answers == {section.items[0]: 1}
    assert draft.next_section == INSTRUMENT.sections[0].id  # nothing complete yet
    resumed = client.get(f"/s/{token}")
    assert "Continue where you left off" in resumed.text


def _unreachable_engine() -> sa.Engine:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    return sa.create_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{port}/gone", connect_args={"connect_timeout": 2}
    )


def test_database_unreachable_while_posting_a_page_gives_503_that_keeps_the_answers(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _link(session, make_round())
    section = INSTRUMENT.sections[1]
    posted = {item_id: "4" for item_id in section.items} | {"action": "continue"}
    working = client.app.state.engine  # type: ignore[attr-defined]
    client.app.state.engine = _unreachable_engine()  # type: ignore[attr-defined]
    try:
        down = client.post(f"/s/{token}/sections/{section.id}", data=posted)
        submit_down = client.post(f"/s/{token}/submit")
    finally:
        client.app.state.engine = working  # type: ignore[attr-defined]
    assert down.status_code == 503 and down.headers["retry-after"] == "60"
    assert "Try again" in down.text and "Traceback" not in down.text
    assert f'action="/s/{token}/sections/{section.id}"' in down.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', down.text))
    assert hidden == posted
    assert submit_down.status_code == 503 and f'action="/s/{token}/submit"' in submit_down.text
    assert session.exec(select(Response)).first() is None

    again = client.post(f"/s/{token}/sections/{section.id}", data=hidden, follow_redirects=False)
    assert again.status_code == 303
    assert _draft(session).answers == {item_id: 4 for item_id in section.items}


def test_an_open_link_start_with_an_unknown_organisation_is_explained(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    open_token = invitations.create_open_link(session, setup.round_id)
    for bad in ["999999", "not-a-number"]:
        page = client.post(f"/s/{open_token}/start", data={"organisation_id": bad})
        assert page.status_code == 400
        assert "<title>Error: " in page.text
        assert '<a href="#organisation_id">Select your organisation from the list' in page.text
