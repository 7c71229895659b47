"""HTML and script in every free text is escaped on every page that shows it.

The free texts (partnership, organisation and round names, the background answer
``partnership_name``, an account's e-mail address, and what a request reflects: a login
page's ``next`` and e-mail, ids in URLs) are all made of markup payloads, created through the
services and the API; then every respondent, coordinator, report and analyst page that shows
them is fetched.  No payload may appear as markup, and each page must show the escaped text
it is expected to show (so the check cannot pass on a page that shows nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlmodel import Session

from tests.conftest import csrf_from, full_answers

SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
RAW_MARKERS = ("<script>alert", "<img src=x", "onerror=alert(1)>")

PARTNERSHIP = f"Partnership {SCRIPT} {IMAGE}"
ORGANISATION = f"Organisation {IMAGE} {SCRIPT}"
EARLIER_ROUND = f"Earlier round {SCRIPT}"
ROUND = f"Round {IMAGE} {SCRIPT}"
ANSWERED_NAME = f"Answered name {SCRIPT} {IMAGE}"
EMAIL = f"admin{IMAGE}{SCRIPT}@example.org".lower()
PASSWORD = "escaping admin password"


def shown(text: str) -> str:
    """How a text must look in the page: escaped as Jinja escapes it."""
    return str(escape(text))


def assert_escaped(page: str, expected: list[str], where: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in page, f"{where}: unescaped {marker!r}"
    for text in expected:
        assert shown(text) in page, f"{where}: {text!r} is not shown (escaped)"


@dataclass(frozen=True)
class Seeded:
    partnership_id: int
    round_id: int
    draft_token: str
    submitted_token: str
    open_token: str


def _submit(client: TestClient, token: str, value: int) -> None:
    body = {
        "answers": full_answers(value),
        "background": {
            "partnership_name": ANSWERED_NAME,
            "care_model": "other",
            "organisation_type": "acute-trust",
            "professional_role": "management",
        },
    }
    # started by a draft, resumed in this client's browser with the code, then submitted
    started = client.put(f"/api/v1/survey/{token}/draft", json={})
    code = started.json()["resume_code"]
    resumed = client.post(f"/s/{token}/resume", data={"resume_code": code}, follow_redirects=False)
    assert resumed.status_code == 303, resumed.text
    answer = client.post(
        f"/api/v1/survey/{token}/response", json=body, headers={"X-Resume-Code": code}
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture
def seeded(client: TestClient, session: Session) -> Seeded:
    from app.services import invitations, partnerships, rounds
    from app.services.accounts import add_account

    admin = add_account(session, EMAIL, PASSWORD, role="admin")
    assert admin.id is not None and admin.email == EMAIL
    partnership = partnerships.create_partnership(
        session, PARTNERSHIP, "other", granted_to=admin.id
    )
    assert partnership.id is not None
    organisation = partnerships.add_organisation(
        session, partnership.id, ORGANISATION, "acute-trust"
    )
    made = []
    for title, opened in [(EARLIER_ROUND, -20), (ROUND, -1)]:
        survey_round = rounds.open_round(
            session,
            partnership.id,
            title=title,
            opens_on=date.today() + timedelta(days=opened),
            closes_on=date.today() + timedelta(days=30),
            anonymity_threshold=5,
            instrument_id="trustworthy-collaboration",
            instrument_version="2017.1",
            # The open round shows interim results (5 responses are one release).
            release_policy="interim",
        )
        assert survey_round.id is not None
        tokens = invitations.create_personal_links(
            session, survey_round.id, organisation_id=organisation.id, count=7, most=10
        )
        for value, token in enumerate(tokens[:5], start=1):
            _submit(client, token, value)
        made.append((survey_round.id, tokens))
    rounds.close_round(session, made[0][0])  # the earlier round closed: pooled for analysts
    round_id, tokens = made[-1]
    draft = {"background": {"partnership_name": ANSWERED_NAME, "care_model": "other"}}
    started = client.put(f"/api/v1/survey/{tokens[5]}/draft", json=draft)
    assert started.status_code == 200
    code = started.json()["resume_code"]
    resumed = client.post(f"/s/{tokens[5]}/resume", data={"resume_code": code})
    assert resumed.status_code == 200
    open_token = invitations.create_open_link(session, round_id)
    return Seeded(partnership.id, round_id, tokens[5], tokens[0], open_token)


def _sign_in(client: TestClient, area: str) -> None:
    page = client.get("/sign-in")
    answer = client.post(
        "/sign-in",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_respondent_pages_escape_names_and_answers(client: TestClient, seeded: Seeded) -> None:
    draft = f"/s/{seeded.draft_token}"
    pages = {
        draft: [PARTNERSHIP, ROUND],
        f"{draft}/sections/about-you": [ANSWERED_NAME],
        f"{draft}/check": [ANSWERED_NAME],
        f"{draft}/saved": [],
        f"/s/{seeded.submitted_token}/thank-you": [ROUND],
        f"/s/{seeded.open_token}": [PARTNERSHIP, ROUND, ORGANISATION],
    }
    for path, expected in pages.items():
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert_escaped(page.text, expected, path)


def test_coordinator_pages_escape_names_and_the_email(client: TestClient, seeded: Seeded) -> None:
    _sign_in(client, "sign-in")
    round_page = f"/coordinator/rounds/{seeded.round_id}"
    pages = {
        "/coordinator": [PARTNERSHIP, EMAIL],
        f"/coordinator/partnerships/{seeded.partnership_id}": [
            PARTNERSHIP,
            ORGANISATION,
            ROUND,
            EARLIER_ROUND,
            EMAIL,
        ],
        round_page: [ROUND, PARTNERSHIP, ORGANISATION, EMAIL],
    }
    for path, expected in pages.items():
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert_escaped(page.text, expected, path)
    csrf = csrf_from(client.get(round_page).text)
    made = client.post(f"{round_page}/open-link", data={"csrf_token": csrf})
    assert made.status_code == 200, made.text
    assert_escaped(made.text, [ROUND], "round page with its open link")


def test_report_and_analyst_pages_escape_names_and_the_email(
    client: TestClient, seeded: Seeded
) -> None:
    _sign_in(client, "sign-in")
    report = f"/reports/rounds/{seeded.round_id}"
    pages = {
        "/reports": [PARTNERSHIP, ROUND, EARLIER_ROUND, EMAIL],
        report: [PARTNERSHIP, ROUND, EARLIER_ROUND, EMAIL],
        f"{report}/report.html": [PARTNERSHIP, ROUND, EARLIER_ROUND],
        "/analyst": [PARTNERSHIP, ROUND, EMAIL],
        "/analyst/reliability?item=q10&item=q11": [PARTNERSHIP, EMAIL],
    }
    for path, expected in pages.items():
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert_escaped(page.text, expected, path)
    assert f'Compared with "{shown(EARLIER_ROUND)}"' in client.get(report).text


@pytest.mark.parametrize(
    "path",
    [
        f"/s/{quote(SCRIPT + IMAGE, safe='')}",
        f"/s/{quote(SCRIPT, safe='')}/sections/{quote(IMAGE, safe='')}",
        f"/sign-in?next={quote(IMAGE + SCRIPT, safe='')}",
        f"/sign-in?next={quote(IMAGE + SCRIPT, safe='')}",
        f"/reports/rounds/{quote(SCRIPT, safe='')}",
        f"/coordinator/partnerships/{quote(IMAGE, safe='')}",
    ],
)
def test_what_a_request_reflects_is_escaped(client: TestClient, seeded: Seeded, path: str) -> None:
    _sign_in(client, "sign-in")
    page = client.get(path)
    assert page.status_code < 500, page.text
    for marker in RAW_MARKERS:
        assert marker not in page.text, (path, marker)


def test_a_failed_sign_in_reflects_the_email_escaped(client: TestClient) -> None:
    page = client.get("/sign-in")
    answer = client.post(
        "/sign-in",
        data={"email": EMAIL, "password": "wrong", "csrf_token": csrf_from(page.text)},
    )
    assert answer.status_code in {200, 400, 401, 422}, answer.text
    assert_escaped(answer.text, [EMAIL], "failed sign-in")


def test_the_payloads_really_are_markup() -> None:
    """A guard on the test itself: escaping changes every payload."""
    for text in (PARTNERSHIP, ORGANISATION, ROUND, EARLIER_ROUND, ANSWERED_NAME, EMAIL):
        assert shown(text) != text
        assert any(marker in text for marker in RAW_MARKERS)
        assert not re.search(r"[\x00-\x1f]", text)
