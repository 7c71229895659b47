"""Insiders against the rate limits and the text fields (issue 10), on SQLite and PostgreSQL.

* stuffing an open link: one client cannot submit or start many times, while an office of
  different browsers behind one shared address can; a refused respondent is told which limit
  and when to try again, and keeps what they entered;
* locking an account out: wrong passwords slow the attacker, not the real person; the e-mail
  counted is the one the app signs in with;
* the unknown-link limit: a Basic header does not switch it off, and a respondent whose link
  works is never refused by it;
* control characters and lone surrogates: a 422 naming the field (API) or an inline error
  (forms), never a 500, and nothing of the answers in the log.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.instruments import instrument_named
from app.models import Invitation, InvitationKind, Partnership, Response
from app.services import invitations
from app.services.accounts import add_account
from app.services.rate_limits import Limit, RateLimiter, RateLimitPolicy
from app.settings import Settings
from app.web.rate_limits import wait_text
from tests.conftest import (
    COORDINATOR_PASSWORD,
    TEST_SECRET,
    SurveySetUp,
    csrf_from,
    full_answers,
)

INSTRUMENT = instrument_named("trustworthy-collaboration")
OFFICE = ("10.20.30.40", 50000)  # one NHS trust's proxy address
ELSEWHERE = ("198.51.100.23", 40000)
MARKER = "Zebra-crossing-answer-7301"  # appears nowhere but in what a respondent typed


def _use(client: TestClient, policy: RateLimitPolicy) -> RateLimiter:
    limiter = RateLimiter(client.app.state.engine, TEST_SECRET, policy)  # type: ignore[attr-defined]
    client.app.state.rate_limiter = limiter  # type: ignore[attr-defined]
    return limiter


def _client(client: TestClient, address: tuple[str, int] = OFFICE) -> TestClient:
    return TestClient(client.app, client=address)


def _open_link(session: Session, setup: SurveySetUp) -> str:
    return invitations.create_open_link(session, setup.round_id)


def _invitations(session: Session, kind: str) -> int:
    session.expire_all()
    return len(session.exec(select(Invitation).where(Invitation.kind == kind)).all())


def _submitted(session: Session) -> int:
    session.expire_all()
    return len(session.exec(select(Response).where(Response.status == "submitted")).all())


def _start(browser: TestClient, token: str, organisation_id: int | str) -> int:
    answer = browser.post(
        f"/s/{token}/start", data={"organisation_id": str(organisation_id)}, follow_redirects=False
    )
    return answer.status_code


def _hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


# Stuffing an open link ----------------------------------------------------------------


def test_one_browser_cannot_start_many_responses_from_an_open_link(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    token = _open_link(session, setup)
    browser = _client(client)
    assert browser.get(f"/s/{token}").status_code == 200
    statuses = [_start(browser, token, setup.organisation_ids[0]) for _ in range(100)]
    assert statuses.count(429) >= 90, statuses
    allowed = RateLimitPolicy().open_per_browser.most
    assert statuses.count(303) == allowed and statuses.count(429) == 100 - allowed
    # The open link no longer mints a personal link per request.
    assert _invitations(session, InvitationKind.PERSONAL) == allowed
    refused = browser.post(f"/s/{token}/start", data={"organisation_id": setup.organisation_ids[1]})
    assert refused.status_code == 429 and refused.headers["content-type"].startswith("text/html")
    assert "browser has already been used to start" in refused.text
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= 24 * 3600
    assert f"wait {wait_text(retry_after)} and try again" in refused.text
    # What they chose is kept in a form that sends it again.
    assert _hidden_fields(refused.text) == {"organisation_id": str(setup.organisation_ids[1])}
    assert f'action="/s/{token}/start"' in refused.text
    # Clearing cookies without visiting the page again gains nothing: requests without the
    # browser cookie share one allowance per address.
    cookieless = _client(client)
    statuses = []
    for _ in range(10):
        cookieless.cookies.clear()
        statuses.append(_start(cookieless, token, ""))
    assert statuses.count(303) == allowed and statuses.count(429) == 10 - allowed


def test_one_client_cannot_stuff_an_open_link_through_the_api(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    token = _open_link(session, setup)
    api = _client(client)
    assert api.get(f"/api/v1/survey/{token}").status_code == 200  # the questionnaire first
    body = {"answers": full_answers(3), "background": {}}
    statuses = [
        api.post(f"/api/v1/survey/{token}/response", json=body).status_code for _ in range(100)
    ]
    assert statuses.count(429) >= 90, statuses
    allowed = RateLimitPolicy().open_per_browser.most
    assert statuses.count(201) == allowed and statuses.count(429) == 100 - allowed
    assert _submitted(session) == allowed
    refused = api.post(f"/api/v1/survey/{token}/response", json=body)
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/json"
    detail = refused.json()
    assert detail["limit"] == "open-browser"
    assert detail["retry_after"] == int(refused.headers["retry-after"]) > 0
    assert "this browser has already been used" in detail["detail"]
    # Submissions through personal links are not open-link uses: never limited by these.
    links = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=5, most=5
    )
    for link in links:
        assert api.post(f"/api/v1/survey/{link}/response", json=body).status_code == 201


def test_an_office_of_browsers_behind_one_address_is_not_locked_out(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    setup = make_round()
    token = _open_link(session, setup)
    policy = RateLimitPolicy()
    people = 100
    assert people <= policy.open_per_address.most
    statuses = []
    for _ in range(people):
        browser = _client(client)  # a browser of its own: its own cookie jar
        assert browser.get(f"/s/{token}").status_code == 200
        statuses.append(_start(browser, token, setup.organisation_ids[0]))
    assert statuses == [303] * people
    api_statuses = []
    body = {"answers": full_answers(4), "background": {}}
    for _ in range(20):
        browser = _client(client)
        assert browser.get(f"/api/v1/survey/{token}").status_code == 200
        api_statuses.append(browser.post(f"/api/v1/survey/{token}/response", json=body).status_code)
    assert api_statuses == [201] * 20


def test_the_address_and_round_ceilings_refuse_with_a_page_naming_them(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    _use(
        client,
        RateLimitPolicy(
            open_per_browser=Limit("open-browser", 2, 3600),
            open_per_address=Limit("open-address", 4, 3600),
            open_per_round=Limit("open-round", 6, 3600),
        ),
    )
    setup = make_round()
    token = _open_link(session, setup)

    def fresh_start(address: tuple[str, int]) -> TestClient:
        browser = _client(client, address)
        browser.get(f"/s/{token}")
        return browser

    # One browser hammering after its allowance uses up nothing of the office's ceiling.
    hammer = fresh_start(OFFICE)
    assert [_start(hammer, token, "") for _ in range(30)].count(303) == 2
    # A form to correct (an organisation that is not listed) uses up nothing either.
    assert [_start(fresh_start(OFFICE), token, "999999") for _ in range(5)] == [400] * 5
    assert [_start(fresh_start(OFFICE), token, "") for _ in range(2)] == [303, 303]
    refused = fresh_start(OFFICE).post(f"/s/{token}/start", data={"organisation_id": ""})
    assert refused.status_code == 429
    assert "4 responses have already been started" in refused.text
    assert "from your organisation" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    # Another address still starts, until the round's own ceiling.
    assert [_start(fresh_start(ELSEWHERE), token, "") for _ in range(2)] == [303, 303]
    last = fresh_start(("192.0.2.99", 1)).post(f"/s/{token}/start", data={"organisation_id": ""})
    assert last.status_code == 429 and "in the last 60 minutes" in last.text
    assert _invitations(session, InvitationKind.PERSONAL) == 6


# Locking an account out -------------------------------------------------------------------


def _login(browser: TestClient, email: str, password: str, path: str = "/sign-in") -> int:
    token = csrf_from(browser.get(path).text)
    answer = browser.post(
        path,
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return answer.status_code


def test_wrong_passwords_slow_the_attacker_but_do_not_lock_the_real_person_out(
    client: TestClient, coordinator: str
) -> None:
    usual = _client(client)  # the coordinator's own browser, at the office
    assert _login(usual, coordinator, COORDINATOR_PASSWORD) == 303
    attacker = _client(client)  # a colleague at the same office address
    statuses = [_login(attacker, coordinator, "guessing, guessing") for _ in range(30)]
    assert statuses[-1] == 429
    # The attacker is slowed even with the right password ...
    assert _login(attacker, coordinator, COORDINATOR_PASSWORD) == 429
    # ... the real person is not: from their usual browser, and from anywhere else.
    assert _login(usual, coordinator, COORDINATOR_PASSWORD) == 303
    assert _login(_client(client, ELSEWHERE), coordinator, COORDINATOR_PASSWORD) == 303
    api = _client(client, ("203.0.113.50", 1))
    assert (
        api.get("/api/v1/partnerships", auth=(coordinator, COORDINATOR_PASSWORD)).status_code == 200
    )
    # A few failures go through, then the waits double (2 s, 4 s, ...): however slow this
    # machine, 30 tries in a row get through only a couple more than the free ones.
    free = RateLimitPolicy().login_per_email_address.most
    assert free <= statuses.count(401) <= free + 2
    assert statuses[:free] == [401] * free


def test_a_browser_trusted_for_one_account_is_not_trusted_for_another(
    client: TestClient, session: Session, coordinator: str
) -> None:
    _use(client, RateLimitPolicy(login_per_email_address=Limit("login-email-address", 3, 3600)))
    add_account(session, "insider@example.org", COORDINATOR_PASSWORD)
    insider = _client(client)
    assert _login(insider, "insider@example.org", COORDINATOR_PASSWORD) == 303
    cookie = next(c for c in insider.cookies.jar if c.name == "trust_survey_device")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "Lax"
    # The insider's own device cookie buys nothing against the coordinator's account.
    statuses = [_login(insider, coordinator, "guessing, guessing") for _ in range(6)]
    assert statuses == [401] * 3 + [429] * 3
    # A device cookie made up, or copied to another account, is no device cookie.
    insider.cookies.set("trust_survey_device", cookie.value.split(".")[0] + ".0000")
    assert _login(insider, coordinator, COORDINATOR_PASSWORD) == 429


def test_the_wait_doubles_with_each_failure_beyond_a_few_up_to_a_cap(engine: Engine) -> None:
    limit = Limit("login-email-address", 3, 3600, 2, 60)
    limiter = RateLimiter(engine, TEST_SECRET, RateLimitPolicy(login_per_email_address=limit))
    start = 1_800_000_000 - 1_800_000_000 % 3600
    now, waits = float(start), []
    for _ in range(9):
        refusal = limiter.refusal([(limit, "key")], now=now)
        if refusal is not None:
            waits.append(refusal.retry_after)
            now += refusal.retry_after
            assert limiter.refusal([(limit, "key")], now=now) is None
        limiter.count_failure([(limit, "key")], now=now)
    assert waits == [2, 4, 8, 16, 32, 60]
    # A new window starts from nothing.
    assert limiter.refusal([(limit, "key")], now=start + 3600) is None


def test_a_duplicated_email_field_is_refused(client: TestClient, coordinator: str) -> None:
    _use(client, RateLimitPolicy(login_per_email=Limit("login-email", 3, 900)))
    browser = _client(client)
    token = csrf_from(browser.get("/sign-in").text)
    for n in range(6):
        answer = browser.post(
            "/sign-in",
            content=(
                f"email=decoy{n}%40example.org&email={coordinator}"
                f"&password=wrong+guess&csrf_token={token}"
            ),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 400, answer.status_code
        assert "more than one e-mail address" in answer.text


def test_the_email_counted_is_the_one_the_app_reads(client: TestClient, coordinator: str) -> None:
    _use(client, RateLimitPolicy(login_per_email=Limit("login-email", 3, 900)))
    # A multipart form is read by the app like any other; so it is counted like any other.
    for n in range(3):
        browser = _client(client, (f"192.0.2.{n + 1}", 1))
        token = csrf_from(browser.get("/sign-in").text)
        answer = browser.post(
            "/sign-in",
            data={"email": coordinator, "password": "wrong guess", "csrf_token": token},
            files={"attachment": ("a.txt", b"x")},
            follow_redirects=False,
        )
        assert answer.status_code == 401
    fresh = _client(client, ("192.0.2.77", 1))
    assert _login(fresh, coordinator, COORDINATOR_PASSWORD) == 429


def test_a_basic_header_written_another_way_is_counted_for_its_account(
    client: TestClient, coordinator: str
) -> None:
    _use(client, RateLimitPolicy(login_per_email=Limit("login-email", 3, 900)))
    # HTTP Basic with characters outside base64 (which the app skips) is the same account.
    credentials = base64.b64encode(f"{coordinator}:wrong guess".encode()).decode()
    for n in range(3):
        api = _client(client, (f"192.0.2.{n + 10}", 1))
        answer = api.get("/api/v1/partnerships", headers={"authorization": f"Basic !{credentials}"})
        assert answer.status_code in (401, 429)
    fresh = _client(client, ("192.0.2.77", 1))
    assert _login(fresh, coordinator, COORDINATOR_PASSWORD) == 429


def test_a_login_form_too_large_to_count_is_refused(client: TestClient, coordinator: str) -> None:
    browser = _client(client)
    token = csrf_from(browser.get("/sign-in").text)
    answer = browser.post(
        "/sign-in",
        data={"padding": "x" * 20_000, "email": coordinator, "password": "p", "csrf_token": token},
    )
    assert answer.status_code == 413


# The unknown-link limit ---------------------------------------------------------------------

SMALL_LINKS = RateLimitPolicy(link_per_address=Limit("link-address", 4, 600))


def test_a_basic_header_does_not_switch_off_the_unknown_link_limit(client: TestClient) -> None:
    _use(client, SMALL_LINKS)
    guesser = _client(client)
    headers = {"authorization": "Basic " + base64.b64encode(b"anyone:anything").decode()}
    statuses = [guesser.get(f"/s/guess-{n}", headers=headers).status_code for n in range(6)]
    assert statuses == [404] * 4 + [429] * 2
    api = [guesser.get(f"/api/v1/survey/g-{n}", headers=headers).status_code for n in range(2)]
    assert api == [429, 429]


def test_strangers_guessing_links_never_refuse_a_working_link_and_429_keeps_answers(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    _use(client, SMALL_LINKS)
    setup = make_round()
    token, other_token = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=2, most=2
    )
    stranger = _client(client)
    assert [stranger.get(f"/s/bad-link-{n}").status_code for n in range(50)].count(429) == 46
    respondent = _client(client)  # a colleague at the same shared proxy address
    section = INSTRUMENT.sections[1]
    answers = {item_id: "4" for item_id in section.items}
    saved = respondent.post(
        f"/s/{token}/sections/{section.id}", data=answers, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    api = _client(client).put(  # another colleague, through the API
        f"/api/v1/survey/{other_token}/draft", json={"answers": {}, "background": {}}
    )
    assert api.status_code == 200
    # Someone whose link does not work (mistyped) is refused, and keeps their answers.
    mistyped = respondent.post(f"/s/{token[:-2]}/sections/{section.id}", data=answers)
    assert mistyped.status_code == 429
    assert _hidden_fields(mistyped.text) == answers
    assert "too many attempts to open survey links" in mistyped.text


# Control characters and lone surrogates ------------------------------------------------------

BAD_TEXTS = [f"{MARKER}\x00", f"{MARKER}\ud800", f"{MARKER}\x1b[31m", f"{MARKER}\x7f"]


def _text_question() -> tuple[str, str]:
    """The first free-text background question of the instrument, and its section."""
    for question in INSTRUMENT.background:
        if question.kind == "text":
            section = next(s for s in INSTRUMENT.sections if question.id in s.background)
            return question.id, section.id
    raise AssertionError("the instrument has a free-text question")


JSON = {"content-type": "application/json"}


@pytest.fixture
def quiet_client(settings: object) -> Iterator[TestClient]:
    """The app answering 500 (not raising into the test), as a server would."""
    from app.main import create_app

    assert isinstance(settings, Settings)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def _no_marker_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage() + (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        )
        assert MARKER not in text, text


@pytest.mark.parametrize("bad", BAD_TEXTS, ids=["nul", "surrogate", "escape", "delete"])
def test_control_characters_in_api_text_are_a_422_naming_the_field(
    quiet_client: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    setup = make_round()
    token = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )[0]
    question_id, _ = _text_question()
    body = json.dumps({"answers": {}, "background": {question_id: bad}})
    for method, path in [("PUT", "draft"), ("POST", "response")]:
        answer = quiet_client.request(
            method, f"/api/v1/survey/{token}/{path}", content=body, headers=JSON
        )
        assert answer.status_code == 422, answer.text
        located = [tuple(problem["loc"]) for problem in answer.json()["detail"]]
        assert ("body", "background", question_id) in located
    # An unknown item id with a surrogate in it is a 422 as well.
    body = json.dumps({"answers": {bad: 1}, "background": {}})
    answer = quiet_client.put(f"/api/v1/survey/{token}/draft", content=body, headers=JSON)
    assert answer.status_code == 422
    # Names of partnerships, organisations and rounds.
    add_account(session, "admin@example.org", COORDINATOR_PASSWORD, role="admin")
    auth = ("admin@example.org", COORDINATOR_PASSWORD)
    for path, fields in [
        ("/api/v1/partnerships", {"name": bad, "kind": "other"}),
        (
            f"/api/v1/partnerships/{setup.partnership_id}/organisations",
            {"name": bad, "kind": "other"},
        ),
        (
            f"/api/v1/partnerships/{setup.partnership_id}/rounds",
            {"title": bad, "opens_on": "2026-01-01", "closes_on": "2026-02-01"},
        ),
    ]:
        content = json.dumps(fields)
        answer = quiet_client.post(path, content=content, headers=JSON, auth=auth)
        assert answer.status_code == 422, (path, answer.text)
        names = [problem["loc"][-1] for problem in answer.json()["detail"]]
        assert set(names) & {"name", "title"}, answer.text
    session.expire_all()
    assert all(MARKER not in p.name for p in session.exec(select(Partnership)).all())
    _no_marker_logged(caplog)


@pytest.mark.parametrize("bad", [f"{MARKER}\x00", f"{MARKER}\x01"], ids=["nul", "soh"])
def test_control_characters_in_forms_are_an_inline_error_keeping_the_input(
    quiet_client: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    setup = make_round()
    token = invitations.create_personal_links(
        session, setup.round_id, organisation_id=None, count=1, most=1
    )[0]
    question_id, section_id = _text_question()
    page = quiet_client.post(
        f"/s/{token}/sections/{section_id}", data={question_id: bad}, follow_redirects=False
    )
    assert page.status_code == 400, page.text
    question = next(q for q in INSTRUMENT.background if q.id == question_id)
    assert "must not contain control characters" in page.text
    assert question.text in page.text or question.text.replace("'", "&#39;") in page.text
    assert MARKER in page.text  # what they typed is still in the box
    session.expire_all()
    saved = session.exec(select(Response)).all()
    assert all(MARKER not in json.dumps(r.background) for r in saved)
    # Sign-in and the coordinator's forms: a clear answer, never a 500.
    browser = quiet_client
    assert _login(browser, bad + "@example.org", "whatever it is") == 401
    add_account(session, "admin@example.org", COORDINATOR_PASSWORD, role="admin")
    assert _login(browser, "admin@example.org", COORDINATOR_PASSWORD) == 303
    csrf = csrf_from(browser.get("/coordinator").text)
    for path, fields in [
        ("/coordinator/partnerships", {"name": bad, "kind": "other"}),
        (
            f"/coordinator/partnerships/{setup.partnership_id}/organisations",
            {"name": bad, "kind": "other"},
        ),
        (
            f"/coordinator/partnerships/{setup.partnership_id}/rounds",
            {
                "title": bad,
                "opens_on": "2026-01-01",
                "closes_on": "2026-02-01",
                "anonymity_threshold": "5",
            },
        ),
    ]:
        answer = browser.post(path, data={**fields, "csrf_token": csrf}, follow_redirects=False)
        assert answer.status_code == 422, (path, answer.status_code)
        assert "control characters" in answer.text
    _no_marker_logged(caplog)


def test_sql_parameters_are_kept_out_of_errors_and_logs(
    engine: Engine, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    make_round()
    name = session.exec(select(Partnership)).first()
    assert name is not None
    with pytest.raises(sa.exc.IntegrityError) as raised, engine.begin() as connection:
        connection.execute(
            # A duplicate name (the only key PostgreSQL's own message names), with the
            # marker in another column: only the SQL parameters could show it.
            sa.insert(Partnership.__table__).values(  # type: ignore[attr-defined]
                name=name.name, kind=MARKER, created_at=name.created_at
            )
        )
    assert MARKER not in str(raised.value)


def test_parallel_starts_cannot_all_slip_under_a_limit(engine: Engine) -> None:
    """``take`` counts and checks in one transaction: of 12 requests at once, exactly the
    limit's number go through, whichever workers answer them."""
    limit = Limit("open-browser", 3, 3600)
    limiters = [RateLimiter(engine, TEST_SECRET, RateLimitPolicy()) for _ in range(3)]
    results: list[bool] = []
    lock = threading.Lock()

    def start(number: int) -> None:
        refusal = limiters[number % 3].take([(limit, "one browser")], now=1_800_000_000)
        with lock:
            results.append(refusal is None)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == limit.most and len(results) == 12
    assert limiters[0].hits(limit, "one browser", now=1_800_000_000) == limit.most
