"""Insiders with a link (issue 10, attack 6): whoever holds a personal link (the coordinator
downloads them all) cannot read a started link's answers, change them, or tell a started link
from a submitted one; after close nothing changes; the respondent resumes in the same browser
with the link alone and anywhere else with the resume code; coordinators' progress counts
below the threshold cannot be read, directly or by difference; open-link arrivals are counted
as such; stored times are to the hour.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.instruments import instrument_named
from app.models import Invitation, Response
from app.services import invitations, partnerships, rounds
from app.services.accounts import add_account
from tests.conftest import (
    COORDINATOR_PASSWORD,
    SurveySetUp,
    csrf_from,
    full_answers,
)

INSTRUMENT = instrument_named("trustworthy-collaboration")
SECTIONS = [section.id for section in INSTRUMENT.sections]
ROLE = "medical"  # the answer an insider wants to read
CODE = re.compile(r'id="resume-code">([0-9A-Z]{5}-[0-9A-Z]{5})<')


def _links(session: Session, setup: SurveySetUp, count: int = 1) -> list[str]:
    return invitations.create_personal_links(
        session, setup.round_id, organisation_id=setup.organisation_ids[0], count=count, most=50
    )


def _page_answers(section_id: str, value: int = 4) -> dict[str, str]:
    section = next(s for s in INSTRUMENT.sections if s.id == section_id)
    answers = {item_id: str(value) for item_id in section.items}
    if section.background:
        answers |= {
            "partnership_name": "Test partnership",
            "care_model": "urgent-and-emergency-care",
            "organisation_type": "acute-trust",
            "professional_role": ROLE,
        }
    return answers


@pytest.fixture
def insider(client: TestClient) -> Iterator[TestClient]:
    """A second browser on the same app: the coordinator, holding the links but no cookie."""
    other = TestClient(client.app)
    yield other
    other.close()


@pytest.fixture
def admin(session: Session) -> str:
    """An admin account (runs every partnership)."""
    add_account(session, "admin@example.org", COORDINATOR_PASSWORD, role="admin")
    return "admin@example.org"


def _start_by_pages(respondent: TestClient, token: str, pages: int = 1) -> str:
    """The respondent answers ``pages`` pages in their browser; returns the code shown."""
    shown = ""
    for section_id in SECTIONS[:pages]:
        saved = respondent.post(f"/s/{token}/sections/{section_id}", data=_page_answers(section_id))
        assert saved.status_code == 200, saved.text  # followed to the next page
        found = CODE.search(saved.text)
        shown = shown or (found.group(1) if found else "")
    assert shown, "the page after starting shows the resume code"
    return shown


def _submit_by_pages(respondent: TestClient, token: str) -> str:
    code = _start_by_pages(respondent, token, len(SECTIONS))
    done = respondent.post(f"/s/{token}/submit")
    assert done.status_code == 200 and "have been submitted" in done.text
    return code


# -- reading a draft by token -----------------------------------------------------------------


def test_a_draft_cannot_be_read_with_the_link_alone_by_api(
    client: TestClient,
    insider: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
) -> None:
    token = _links(session, make_round())[0]
    saved = client.put(
        f"/api/v1/survey/{token}/draft",
        json={"answers": {"q10": 1}, "background": {"professional_role": ROLE}},
    )
    assert saved.status_code == 200
    read = insider.get(f"/api/v1/survey/{token}")
    assert read.status_code == 200  # the questionnaire, nothing more
    assert read.json()["saved"] is None
    assert not {"answers", "background", "link_status", "missing"} & set(read.json())
    assert "link_status" not in read.text and '"started"' not in read.text
    # a guessed code is refused (and says nothing of the answers)
    wrong = insider.get(f"/api/v1/survey/{token}", headers={"X-Resume-Code": "AAAAA-AAAAA"})
    assert wrong.status_code == 403 and ROLE not in wrong.text


def test_a_draft_cannot_be_read_with_the_link_alone_on_pages(
    client: TestClient,
    insider: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
) -> None:
    token = _links(session, make_round())[0]
    _start_by_pages(client, token, 2)
    for path in [
        f"/s/{token}",
        *(f"/s/{token}/sections/{section_id}" for section_id in SECTIONS[:2]),
        f"/s/{token}/check",
        f"/s/{token}/saved",
    ]:
        page = insider.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert "Enter your resume code" in page.text, path
        assert f'value="{ROLE}" checked' not in page.text and "checked" not in page.text, path


# -- changing a draft by token ----------------------------------------------------------------


def test_a_draft_cannot_be_changed_with_the_link_alone(
    client: TestClient,
    insider: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
) -> None:
    token = _links(session, make_round())[0]
    _start_by_pages(client, token, 2)
    refused = [
        insider.put(f"/api/v1/survey/{token}/draft", json={"answers": {"q10": 1}}),
        insider.post(f"/api/v1/survey/{token}/response", json={"answers": full_answers(1)}),
        insider.post(f"/s/{token}/sections/{SECTIONS[1]}", data=_page_answers(SECTIONS[1], 1)),
        insider.post(f"/s/{token}/submit"),
    ]
    assert [answer.status_code for answer in refused] == [403] * 4, [r.text for r in refused]
    assert (
        "Enter your resume code" in refused[2].text and "Enter your resume code" in refused[3].text
    )
    draft = session.exec(select(Response)).one()
    session.refresh(draft)
    assert draft.status == "draft"
    assert {draft.answers[item] for item in INSTRUMENT.sections[1].items} == {4}


def test_after_close_a_draft_cannot_be_changed(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    token = _links(session, setup)[0]
    started = client.put(f"/api/v1/survey/{token}/draft", json={"answers": {"q10": 2}})
    code = {"X-Resume-Code": started.json()["resume_code"]}
    rounds.close_round(session, setup.round_id)
    later = client.put(f"/api/v1/survey/{token}/draft", json={"answers": {"q10": 5}}, headers=code)
    assert later.status_code == 403 and "closed" in later.json()["detail"]
    sent = client.post(
        f"/api/v1/survey/{token}/response", json={"answers": full_answers()}, headers=code
    )
    assert sent.status_code == 403 and "closed" in sent.json()["detail"]
    # nor with the link alone, which does not read the draft either
    alone = client.put(f"/api/v1/survey/{token}/draft", json={"answers": {"q10": 5}})
    assert alone.status_code == 403
    assert client.get(f"/api/v1/survey/{token}").json()["saved"] is None
    draft = session.exec(select(Response)).one()
    session.refresh(draft)
    assert draft.status == "draft" and draft.answers == {"q10": 2}


def test_after_close_pages_change_nothing(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    token = _links(session, setup)[0]
    _start_by_pages(client, token, 2)
    rounds.close_round(session, setup.round_id)
    posted = client.post(f"/s/{token}/sections/{SECTIONS[1]}", data=_page_answers(SECTIONS[1], 1))
    assert posted.status_code == 403 and "has closed" in posted.text
    assert client.post(f"/s/{token}/submit").status_code == 403
    draft = session.exec(select(Response)).one()
    session.refresh(draft)
    assert {draft.answers[item] for item in INSTRUMENT.sections[1].items} == {4}


# -- started and submitted alike --------------------------------------------------------------


def _seen_by_link_alone(insider: TestClient, token: str) -> list[tuple[int, str]]:
    """Every answer an insider gets with the token alone (the token blanked out)."""
    requests = [
        ("GET", f"/s/{token}", None, None),
        ("GET", f"/s/{token}/sections/{SECTIONS[0]}", None, None),
        ("GET", f"/s/{token}/check", None, None),
        ("GET", f"/s/{token}/saved", None, None),
        ("GET", f"/s/{token}/thank-you", None, None),
        ("POST", f"/s/{token}/sections/{SECTIONS[0]}", _page_answers(SECTIONS[0]), None),
        ("POST", f"/s/{token}/submit", {}, None),
        ("POST", f"/s/{token}/resume", {"resume_code": "AAAAA-AAAAA"}, None),
        ("GET", f"/api/v1/survey/{token}", None, None),
        ("PUT", f"/api/v1/survey/{token}/draft", None, {"answers": {"q10": 1}}),
        ("POST", f"/api/v1/survey/{token}/response", None, {"answers": full_answers()}),
    ]
    seen = []
    for method, path, form, body in requests:
        answer = insider.request(method, path, data=form, json=body)
        text = re.sub(r'nonce="[^"]*"', "", answer.text.replace(token, "TOKEN"))
        seen.append((answer.status_code, text))
    return seen


def test_started_and_submitted_links_look_the_same_without_the_code(
    client: TestClient,
    insider: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
) -> None:
    started, submitted, api_submitted = _links(session, make_round(), 3)
    _start_by_pages(client, started, 2)
    _submit_by_pages(client, submitted)
    code = client.put(f"/api/v1/survey/{api_submitted}/draft", json={}).json()["resume_code"]
    sent = client.post(
        f"/api/v1/survey/{api_submitted}/response",
        json={"answers": full_answers()},
        headers={"X-Resume-Code": code},
    )
    assert sent.status_code == 201
    seen = _seen_by_link_alone(insider, started)
    assert seen == _seen_by_link_alone(insider, submitted)
    assert seen == _seen_by_link_alone(insider, api_submitted)
    assert "already been used" not in str(seen)


# -- resuming ---------------------------------------------------------------------------------


def test_the_same_browser_resumes_with_the_link_alone(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _links(session, make_round())[0]
    first = client.post(
        f"/s/{token}/sections/{SECTIONS[0]}",
        data=_page_answers(SECTIONS[0]),
        follow_redirects=False,
    )
    assert first.status_code == 303
    assert first.headers["location"] == f"/s/{token}/sections/{SECTIONS[1]}?new=1"
    cookie = first.headers["set-cookie"]
    assert f"Path=/s/{token};" in cookie and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # over plain HTTP in tests; Secure in production
    shown = client.get(first.headers["location"])
    code = CODE.search(shown.text)
    assert code, "the first page after starting shows the resume code"
    resumed = client.get(f"/s/{token}")
    assert "Continue where you left off" in resumed.text
    page = client.get(f"/s/{token}/sections/{SECTIONS[0]}")
    assert f'value="{ROLE}" checked' in page.text
    saved = client.post(
        f"/s/{token}/sections/{SECTIONS[1]}",
        data=_page_answers(SECTIONS[1]) | {"action": "save-for-later"},
    )
    assert "Your answers have been saved" in saved.text and code.group(1) in saved.text
    invitation = session.exec(select(Invitation)).one()
    session.refresh(invitation)
    assert invitation.resume_code_hash and code.group(1) not in invitation.resume_code_hash
    assert len(invitation.resume_code_hash) == 64


def test_another_browser_resumes_with_the_code(
    client: TestClient,
    insider: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
) -> None:
    token = _links(session, make_round())[0]
    code = _start_by_pages(client, token, 2)
    # wrong code: a clear message, nothing saved shown
    wrong = insider.post(f"/s/{token}/resume", data={"resume_code": "AAAAA-AAAAA"})
    assert wrong.status_code == 400 and "resume code is not right" in wrong.text
    assert "checked" not in wrong.text
    # the code, typed in small letters without its dash, lets the other browser carry on
    typed = insider.post(f"/s/{token}/resume", data={"resume_code": code.lower().replace("-", " ")})
    assert typed.status_code == 200 and "Continue where you left off" in typed.text
    assert f"/s/{token}/sections/{SECTIONS[2]}" in typed.text
    page = insider.get(f"/s/{token}/sections/{SECTIONS[0]}")
    assert f'value="{ROLE}" checked' in page.text
    # and by API with the header
    read = insider.get(f"/api/v1/survey/{token}", headers={"X-Resume-Code": code})
    saved = read.json()["saved"]
    assert saved["link_status"] == "started" and saved["background"]["professional_role"] == ROLE
    assert saved["next_section"] == SECTIONS[2]


def test_a_page_posted_without_the_code_is_kept_until_the_code_is_given(
    client: TestClient,
    insider: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
) -> None:
    token = _links(session, make_round())[0]
    code = _start_by_pages(client, token, 1)
    posted = insider.post(f"/s/{token}/sections/{SECTIONS[1]}", data=_page_answers(SECTIONS[1], 2))
    assert posted.status_code == 403 and "Enter your resume code" in posted.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', posted.text))
    assert hidden["then"] == f"sections/{SECTIONS[1]}"
    assert {hidden[item] for item in INSTRUMENT.sections[1].items} == {"2"}
    carried = insider.post(f"/s/{token}/resume", data=hidden | {"resume_code": code})
    assert carried.status_code == 200 and f"Section 3 of {len(SECTIONS)}" in carried.text
    draft = session.exec(select(Response)).one()
    session.refresh(draft)
    assert {draft.answers[item] for item in INSTRUMENT.sections[1].items} == {2}


def test_wrong_codes_are_limited_per_link(
    client: TestClient,
    insider: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
) -> None:
    token, other = _links(session, make_round(), 2)
    code = _start_by_pages(client, token)
    other_code = client.put(f"/api/v1/survey/{other}/draft", json={}).json()["resume_code"]
    most = client.app.state.rate_limiter.policy.resume_code_per_link.most  # type: ignore[attr-defined]
    for number in range(most):
        guess = insider.get(
            f"/api/v1/survey/{token}", headers={"X-Resume-Code": f"AAAAA-{number:05d}"}
        )
        assert guess.status_code == 403, number
    # now even the right code waits, by API and on the page
    limited = insider.get(f"/api/v1/survey/{token}", headers={"X-Resume-Code": code})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    page = insider.post(f"/s/{token}/resume", data={"resume_code": code})
    assert page.status_code == 429 and "too many wrong resume codes" in page.text.lower()
    # the browser that started the link is not locked out, nor is another link
    assert "Continue where you left off" in client.get(f"/s/{token}").text
    elsewhere = insider.get(f"/api/v1/survey/{other}", headers={"X-Resume-Code": other_code})
    assert elsewhere.status_code == 200 and elsewhere.json()["saved"]["link_status"] == "started"


def test_the_api_gives_the_code_once_and_needs_it_after(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    token = _links(session, make_round())[0]
    first = client.put(f"/api/v1/survey/{token}/draft", json={"answers": {"q10": 2}})
    code = first.json()["resume_code"]
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", code)
    headers = {"X-Resume-Code": code}
    second = client.put(
        f"/api/v1/survey/{token}/draft", json={"answers": {"q11": 3}}, headers=headers
    )
    assert second.status_code == 200 and second.json()["resume_code"] is None
    assert second.json()["saved"]["answers"] == {"q10": 2, "q11": 3}
    assert client.put(f"/api/v1/survey/{token}/draft", json={}).status_code == 403
    # an API client may start a link with a code of its own, to retry a lost first answer
    own = _links(session, make_round())[0]
    mine = {"X-Resume-Code": "23456-789AB"}
    for _ in range(2):
        again = client.put(
            f"/api/v1/survey/{own}/draft", json={"answers": {"q10": 1}}, headers=mine
        )
        assert again.status_code == 200
    bad = client.put(
        f"/api/v1/survey/{_links(session, make_round())[0]}/draft",
        json={},
        headers={"X-Resume-Code": "0000"},
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["header", "X-Resume-Code"]


# -- progress counts ---------------------------------------------------------------------------


def test_progress_does_not_say_that_a_named_person_answered(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp], admin: str
) -> None:
    setup = make_round()
    ambulance = partnerships.add_organisation(
        session, setup.partnership_id, "Ambulance Service", "ambulance-trust"
    )
    assert ambulance.id is not None
    hospital = invitations.create_personal_links(
        session, setup.round_id, organisation_id=setup.organisation_ids[0], count=10, most=50
    )
    council = invitations.create_personal_links(
        session, setup.round_id, organisation_id=setup.organisation_ids[1], count=7, most=50
    )
    lone = invitations.create_personal_links(
        session, setup.round_id, organisation_id=ambulance.id, count=1, most=1
    )
    answered = [*hospital[:6], *council[:6], *lone]
    for token in answered:
        sent = client.post(f"/api/v1/survey/{token}/response", json={"answers": full_answers()})
        assert sent.status_code == 201
    total = len(answered)  # the round's total, which the coordinator is told

    progress = client.get(
        f"/api/v1/rounds/{setup.round_id}/progress", auth=(admin, COORDINATOR_PASSWORD)
    ).json()
    by_name = {row["organisation_name"]: row for row in progress}
    assert by_name["Ambulance Service"]["invited"] == 1
    assert by_name["Ambulance Service"]["submitted"] is None
    assert by_name["Ambulance Service"]["submitted_hidden"] == "below-threshold"
    assert by_name["Ambulance Service"]["completion_rate"] is None
    shown = [row["submitted"] for row in progress if row["submitted"] is not None]
    hidden = [row for row in progress if row["submitted"] is None]
    # not by difference either: what the totals leave is shared by two groups or more, and is
    # at least the threshold
    assert len(hidden) >= 2 and total - sum(shown) >= 5
    # every started count is 0 here: none is shown for a group that had links
    assert all(row["started"] is None for row in progress if row["invited"])

    form = client.get("/sign-in")
    client.post(
        "/sign-in",
        data={
            "email": admin,
            "password": COORDINATOR_PASSWORD,
            "csrf_token": csrf_from(form.text),
        },
    )
    page = client.get(f"/coordinator/rounds/{setup.round_id}")
    row = re.search(
        r"<tr[^>]*>\s*<td[^>]*>(?:<span[^>]*>[^<]*</span>)?Ambulance Service</td>(.*?)</tr>",
        page.text,
        re.S,
    )
    assert row, page.text[:2000]
    cells = [
        re.sub(r"<span[^>]*>[^<]*</span>", "", cell)
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    ]
    assert cells[0] == "1" and cells[1:3] == ["fewer than 5", "fewer than 5"]
    assert "100%" not in row.group(1)


def test_open_link_arrivals_are_marked_and_counted_as_such(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp], admin: str
) -> None:
    setup = make_round()
    open_token = invitations.create_open_link(session, setup.round_id)
    began = client.post(
        f"/s/{open_token}/start",
        data={"organisation_id": str(setup.organisation_ids[0])},
        follow_redirects=False,
    )
    own = began.headers["location"].split("/")[2]
    assert "trust_survey_resume" in began.headers["set-cookie"]
    first = client.get(began.headers["location"])
    assert CODE.search(first.text), "the first page after starting shows the resume code"
    for section_id in SECTIONS:
        client.post(f"/s/{own}/sections/{section_id}", data=_page_answers(section_id))
    assert "have been submitted" in client.post(f"/s/{own}/submit").text
    for _ in range(5):  # five people's browsers (one browser may start only a few)
        browser = TestClient(client.app)
        browser.get(f"/api/v1/survey/{open_token}")  # where the browser cookie is given out
        straight = browser.post(
            f"/api/v1/survey/{open_token}/response", json={"answers": full_answers()}
        )
        assert straight.status_code == 201
    minted = session.exec(select(Invitation).where(Invitation.kind == "personal")).one()
    assert minted.from_open_link
    stored = session.exec(select(Response)).all()
    assert len(stored) == 6 and all(response.from_open_link for response in stored)

    progress = client.get(
        f"/api/v1/rounds/{setup.round_id}/progress", auth=(admin, COORDINATOR_PASSWORD)
    ).json()
    by_name = {row["organisation_name"]: row for row in progress}
    arrivals = by_name["Through the open link"]
    assert arrivals["through_open_link"] and arrivals["invited"] is None
    assert arrivals["submitted"] == 6
    # the minted link is not a link issued to the organisation
    assert by_name["Riverside Hospital"]["invited"] == 0


def test_stored_times_are_to_the_hour(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    token = _links(session, setup)[0]
    code = client.put(f"/api/v1/survey/{token}/draft", json={}).json()["resume_code"]
    draft = session.exec(select(Response)).one()
    for moment in (draft.started_at, draft.updated_at):
        assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
    client.post(
        f"/api/v1/survey/{token}/response",
        json={"answers": full_answers()},
        headers={"X-Resume-Code": code},
    )
    open_token = invitations.create_open_link(session, setup.round_id)
    client.post(f"/api/v1/survey/{open_token}/response", json={"answers": full_answers()})
    session.expire_all()
    stored = session.exec(select(Response)).all()
    assert len(stored) == 2
    for response in stored:
        assert response.submitted_at is not None
        for moment in (response.started_at, response.updated_at, response.submitted_at):
            assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
