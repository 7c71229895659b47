"""The audit trail through the real HTTP app: a whole journey (a coordinator sets up, runs,
closes, reopens and deletes a round; respondents answer; an evaluator reads and downloads; an
analyst with raw access downloads the rows; an admin exports the trail) leaves exactly the
lines it should, with the right actor; no line (nor the export) holds an answer, a link, a
resume code, a cookie, a password or a token; and nobody but an admin reaches the trail."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.instruments import instrument_named
from app.models import AuditEvent
from app.services import accounts, audit, clock, partnerships, raw_access
from app.services.audit import AuditAction
from app.services.rate_limits import RateLimiter
from tests.conftest import TEST_SECRET, csrf_from, token_of
from tests.test_authorisation_support import UNLIMITED

PASSWORD = "an audit journey password 42"
COORDINATOR = "cora.ordinator@example.org"
EVALUATOR = "eve.valuator@example.org"
ANALYST = "ana.lyst@example.org"
ADMIN = "ada.admin@example.org"
INSTRUMENT = instrument_named("trustworthy-collaboration")
FREE_TEXT = "Quillfeather Lagoon Partnership 7731"  # a respondent's typed partnership name
# Lines other parts record (accounts, grants, passwords): left out of the exact sequence.
OTHERS = {
    AuditAction.ACCOUNT_INVITED,
    AuditAction.ACCOUNT_ADDED,
    AuditAction.ACCOUNT_DISABLED,
    AuditAction.ACCOUNT_ENABLED,
    AuditAction.ACCOUNT_REMOVED,
    AuditAction.ROLES_CHANGED,
    AuditAction.GRANT_ADDED,
    AuditAction.GRANT_REMOVED,
    AuditAction.PASSWORD_CHANGED,
    AuditAction.PASSWORD_RESET_REQUESTED,
}
RESUME_CODE = re.compile(r"\b[2-9A-HJKMNP-Z]{5}[ -]?[2-9A-HJKMNP-Z]{5}\b")


def _browser(client: TestClient, email: str, secrets: set[str]) -> TestClient:
    browser = TestClient(client.app)
    token = csrf_from(browser.get("/sign-in").text)
    answer = browser.post(
        "/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    secrets.update(value for value in browser.cookies.values() if len(value) >= 16)
    return browser


def _post(browser: TestClient, page: str, path: str, data: dict[str, str]) -> str:
    token = csrf_from(browser.get(page).text)
    answer = browser.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code in (200, 303), f"{path}: {answer.status_code} {answer.text[:400]}"
    return answer.headers.get("location", "") or answer.text


def _section_answers(section_id: str, value: int) -> dict[str, str]:
    section = next(s for s in INSTRUMENT.sections if s.id == section_id)
    answers = {item_id: str(value) for item_id in section.items}
    if section.background:
        answers |= {
            "partnership_name": FREE_TEXT,
            "care_model": "urgent-and-emergency-care",
            "organisation_type": "acute-trust",
            "professional_role": "medical",
        }
    return answers


def _answer(client: TestClient, token: str, value: int, seen: list[str]) -> None:
    respondent = TestClient(client.app)
    for section in INSTRUMENT.sections:
        saved = respondent.post(
            f"/s/{token}/sections/{section.id}",
            data=_section_answers(section.id, value),
            follow_redirects=False,
        )
        assert saved.status_code == 303, saved.text[:400]
    saved_page = respondent.get(f"/s/{token}/saved")
    seen.append(saved_page.text)
    submitted = respondent.post(f"/s/{token}/submit", follow_redirects=False)
    assert submitted.status_code == 303, submitted.text[:400]
    seen.extend(respondent.cookies.values())


def _lines(session: Session, after: int) -> list[AuditEvent]:
    session.expire_all()
    statement = select(AuditEvent).where(col(AuditEvent.id) > after).order_by(col(AuditEvent.id))
    return list(session.exec(statement))


def _last_id(session: Session) -> int:
    events = _lines(session, 0)
    return events[-1].id or 0 if events else 0


def test_every_audited_action_appears_with_the_right_actor_and_no_secret(
    client: TestClient, session: Session
) -> None:
    client.app.state.rate_limiter = RateLimiter(  # type: ignore[attr-defined]
        client.app.state.engine,  # type: ignore[attr-defined]
        TEST_SECRET,
        UNLIMITED,
    )
    accounts.add_account(session, COORDINATOR, PASSWORD)
    partnerships.create_partnership(session, "Elsewhere", "urgent-and-emergency-care")
    accounts.add_account(session, EVALUATOR, PASSWORD, "evaluator", ["Elsewhere"])
    accounts.add_account(session, ANALYST, PASSWORD, "analyst")
    accounts.add_account(session, ADMIN, PASSWORD, "admin")
    secrets: set[str] = {PASSWORD, TEST_SECRET}
    seen_by_respondents: list[str] = []
    start = _last_id(session)

    # A coordinator sets up a partnership, an organisation and a round open today.
    coordinator = _browser(client, COORDINATOR, secrets)
    where = _post(
        coordinator,
        "/coordinator",
        "/coordinator/partnerships",
        {"name": "North Vale", "kind": "urgent-and-emergency-care"},
    )
    partnership_id = int(where.rsplit("/", 1)[1])
    page = f"/coordinator/partnerships/{partnership_id}"
    _post(
        coordinator,
        page,
        f"{page}/organisations",
        {"name": "Vale Hospital", "kind": "acute-trust"},
    )
    today, later = date.today(), date.today() + timedelta(days=20)
    where = _post(
        coordinator,
        page,
        f"{page}/rounds",
        {
            "title": "Baseline",
            "instrument": "trustworthy-collaboration@2017.1",
            "anonymity_threshold": "5",
            "release_policy": "at-close",
            "opens_on": today.isoformat(),
            "closes_on": later.isoformat(),
        },
    )
    round_id = int(where.split("?")[0].rsplit("/", 1)[1])
    round_page = f"/coordinator/rounds/{round_id}"
    links_csv = _post(coordinator, round_page, f"{round_page}/links", {"count": "6"})
    tokens = [token_of(row[1]) for row in list(csv.reader(io.StringIO(links_csv)))[1:]]
    assert len(tokens) == 6
    secrets.update(tokens)
    _post(coordinator, round_page, f"{round_page}/open-link", {})
    open_links = re.findall(r"/s/([A-Za-z0-9_-]{20,})", coordinator.get(round_page).text)
    assert open_links, "the round's page shows its open link"
    secrets.update(open_links)

    # Six respondents answer through their links.
    for number, token in enumerate(tokens):
        _answer(client, token, 2 + number % 4, seen_by_respondents)
    codes = {code for text in seen_by_respondents for code in RESUME_CODE.findall(text)}
    assert codes, "the respondents were shown resume codes"
    secrets.update(codes)
    secrets.update(value for value in seen_by_respondents if len(value) >= 16 and "<" not in value)

    # The coordinator closes the round (its final release is made).
    _post(coordinator, f"{round_page}/close", f"{round_page}/close", {})

    # An evaluator of the partnership reads the report, on the page and in JSON (with a
    # token of their own), and downloads every file.
    evaluator_account = accounts.coordinator_by_email(session, EVALUATOR)
    assert evaluator_account is not None
    accounts.grant_partnership(session, evaluator_account, partnership_id)
    evaluator = _browser(client, EVALUATOR, secrets)
    report = evaluator.get(f"/reports/rounds/{round_id}")
    assert report.status_code == 200
    files = sorted(set(re.findall(rf"/reports/rounds/{round_id}/([a-z]+\.[a-z]+)", report.text)))
    assert {"report.pdf", "report.xlsx", "answers.csv"} <= set(files), files
    for name in files:
        download = evaluator.get(f"/reports/rounds/{round_id}/{name}")
        assert download.status_code == 200, name
    made = _post(evaluator, "/account/tokens", "/account/tokens", {"name": "weekly export"})
    api_token = re.search(r"tsp_[A-Za-z0-9_-]{20,}", made)
    assert api_token, "the new token is shown once"
    secrets.add(api_token.group(0))
    bearer = {"Authorization": f"Bearer {api_token.group(0)}"}
    assert (
        TestClient(client.app).get(f"/api/v1/reports/rounds/{round_id}", headers=bearer).is_success
    )

    # An admin grants an analyst raw access; the analyst downloads the raw answers.
    raw_access.grant_raw_access(session, ANALYST, reason="validation study", granted_by=ADMIN)
    analyst = _browser(client, ANALYST, secrets)
    assert analyst.get(f"/reports/rounds/{round_id}/answers.csv").status_code == 200
    assert analyst.get(f"/reports/rounds/{round_id}/report.xlsx").status_code == 200  # rows too
    assert analyst.get(f"/reports/rounds/{round_id}/report.docx").status_code == 200  # no rows
    # Pooled analyses read published answers across partnerships: each is recorded too.
    items = instrument_named("trustworthy-collaboration").scales[0].items
    chosen = "&".join(f"item={item}" for item in items)
    assert analyst.get("/analyst").status_code == 200
    assert analyst.get(f"/analyst/reliability?{chosen}&round={round_id}").status_code == 200
    assert analyst.get(f"/api/v1/analyst/reliability?{chosen}").status_code == 200

    # The coordinator reopens the round, then deletes it, then the partnership.
    reopen_on = today + timedelta(days=10)
    _post(
        coordinator,
        f"{round_page}/reopen",
        f"{round_page}/reopen",
        {
            "closes_on-day": str(reopen_on.day),
            "closes_on-month": str(reopen_on.month),
            "closes_on-year": str(reopen_on.year),
        },
    )
    _post(coordinator, f"{round_page}/delete", f"{round_page}/delete", {"confirm_name": "Baseline"})
    _post(coordinator, f"{page}/delete", f"{page}/delete", {"confirm_name": "north vale"})

    # An admin looks at the trail and exports it.
    admin = _browser(client, ADMIN, secrets)
    shown = admin.get("/admin/audit")
    assert shown.status_code == 200
    exported = admin.get("/admin/audit.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")

    r, p = f"round {round_id}", f"partnership {partnership_id}"
    organisation_line = next(
        e for e in _lines(session, start) if e.action == AuditAction.ORGANISATION_ADDED
    )
    expected = [
        (COORDINATOR, AuditAction.SIGN_IN, ""),
        (COORDINATOR, AuditAction.PARTNERSHIP_ADDED, f"{p} (North Vale)"),
        (COORDINATOR, AuditAction.ORGANISATION_ADDED, organisation_line.target),
        (COORDINATOR, AuditAction.ROUND_ADDED, r),
        (COORDINATOR, AuditAction.ROUND_OPENED, r),
        (COORDINATOR, AuditAction.LINKS_MADE, r),
        (COORDINATOR, AuditAction.LINKS_MADE, r),
        (COORDINATOR, AuditAction.ROUND_CLOSED, r),
        (COORDINATOR, AuditAction.RESULTS_RELEASED, r),
        (EVALUATOR, AuditAction.SIGN_IN, ""),
        (EVALUATOR, AuditAction.REPORT_VIEWED, f"report of {r}"),
        *[
            (
                EVALUATOR,
                AuditAction.FILE_DOWNLOADED,
                f"{name} of {r}",
            )
            for name in files
        ],
        (EVALUATOR, AuditAction.API_TOKEN_MADE, None),
        (EVALUATOR, AuditAction.REPORT_VIEWED, f"report of {r}"),
        (ADMIN, AuditAction.RAW_ACCESS_GRANTED, f"account {ANALYST}"),
        (ANALYST, AuditAction.SIGN_IN, ""),
        (ANALYST, AuditAction.RAW_ANSWERS_DOWNLOADED, f"answers.csv of {r}"),
        (ANALYST, AuditAction.RAW_ANSWERS_DOWNLOADED, f"report.xlsx of {r}"),
        (ANALYST, AuditAction.FILE_DOWNLOADED, f"report.docx of {r}"),
        (ANALYST, AuditAction.ANALYSIS_RUN, f"pooled Table 4 of rounds {round_id}"),
        (ANALYST, AuditAction.ANALYSIS_RUN, f"reliability of rounds {round_id}"),
        (ANALYST, AuditAction.ANALYSIS_RUN, f"reliability of rounds {round_id}"),
        (COORDINATOR, AuditAction.ROUND_REOPENED, r),
        (COORDINATOR, AuditAction.ROUND_DELETED, f"{r} (Baseline)"),
        (COORDINATOR, AuditAction.PARTNERSHIP_DELETED, f"{p} (North Vale)"),
        (ADMIN, AuditAction.SIGN_IN, ""),
        (ADMIN, AuditAction.AUDIT_EXPORTED, "audit trail"),
    ]
    events = [e for e in _lines(session, start) if e.action not in OTHERS]
    got = [
        (e.actor, e.action, None if e.action == AuditAction.API_TOKEN_MADE else e.target)
        for e in events
    ]
    assert got == [(actor, action.value, target) for actor, action, target in expected]
    assert all(e.outcome == "done" for e in events)
    assert {e.partnership_id for e in events if e.target.startswith(("round", "report"))} == {
        partnership_id
    }
    token_line = next(e for e in events if e.action == AuditAction.API_TOKEN_MADE)
    assert "weekly export" in token_line.target and "tsp_" not in token_line.target

    # Nothing in the trail, nor in its export, is a secret or an answer.
    cells = [
        str(value)
        for e in _lines(session, 0)
        for value in (e.actor, e.action, e.target, e.detail, e.outcome)
    ]
    body = exported.text
    assert FREE_TEXT not in body and all(FREE_TEXT not in cell for cell in cells)
    for secret in secrets:
        assert all(secret not in cell for cell in cells), f"a secret in the trail: {secret[:6]}"
        assert secret not in body, f"a secret in the export: {secret[:6]}"
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:5] == ["occurred_at_utc", "occurred_at_local", "actor", "actor_id", "action"]
    assert len(rows) - 1 == len(_lines(session, 0))
    assert COORDINATOR in shown.text and "Round deleted" in shown.text


@pytest.mark.parametrize(
    "path",
    [
        "/admin/audit",
        "/admin/audit/",
        "/admin/audit.csv",
        "/admin/audit.csv?action=sign-in",
        "/admin/audit?page=01",
        "/ADMIN/AUDIT",
        "/admin/Audit",
        "/admin//audit",
        "/admin/audit%2Ecsv",
        "/admin/%61udit",
        "/api/v1/admin/audit",
        "/api/v1/admin/audit/",
        "/api/v1/admin/audit?partnership_id=1",
        "/api/v1/admin//audit",
        "/api/v1/Admin/audit",
    ],
)
def test_only_an_admin_reaches_the_trail_whatever_the_spelling(
    client: TestClient, session: Session, path: str
) -> None:
    client.app.state.rate_limiter = RateLimiter(  # type: ignore[attr-defined]
        client.app.state.engine,  # type: ignore[attr-defined]
        TEST_SECRET,
        UNLIMITED,
    )
    accounts.add_account(session, COORDINATOR, PASSWORD)
    partnerships.create_partnership(session, "Elsewhere", "urgent-and-emergency-care")
    accounts.add_account(session, EVALUATOR, PASSWORD, "evaluator", ["Elsewhere"])
    accounts.add_account(session, ANALYST, PASSWORD, "analyst")
    audit.record(session, None, AuditAction.SIGN_IN_FAILED, "account secret-line@example.org")
    secrets: set[str] = set()
    for email in (COORDINATOR, EVALUATOR, ANALYST):
        browser = _browser(client, email, secrets)
        for follow in (False, True):
            answer = browser.get(path, follow_redirects=follow)
            assert answer.status_code in (307, 308, 404), f"{email} {path}: {answer.status_code}"
            assert "secret-line" not in answer.text
        basic = TestClient(client.app).get(path, auth=(email, PASSWORD), follow_redirects=True)
        signed_out = basic.status_code == 200 and basic.url.path == "/sign-in"  # pages
        assert signed_out or basic.status_code in (401, 404), f"{email} {path} (Basic)"
        assert "secret-line" not in basic.text
    anonymous = TestClient(client.app).get(path, follow_redirects=True)
    assert "secret-line" not in anonymous.text


def test_the_page_filters_pages_and_keeps_a_bad_date(client: TestClient, session: Session) -> None:
    client.app.state.rate_limiter = RateLimiter(  # type: ignore[attr-defined]
        client.app.state.engine,  # type: ignore[attr-defined]
        TEST_SECRET,
        UNLIMITED,
    )
    accounts.add_account(session, ADMIN, PASSWORD, "admin")
    for number in range(120):
        audit.record(
            session,
            f"robot{number % 3}@example.org",
            AuditAction.REPORT_VIEWED,
            f"report of round {number}",
            commit=False,
        )
    formula = audit.record(
        session, "=cmd|' /C calc'!A0", AuditAction.FILE_DOWNLOADED, "@SUM(1+1)", commit=False
    )
    formula.occurred_at = datetime(2026, 7, 1, 13, 5, tzinfo=UTC)  # 14:05 in London (BST)
    session.commit()
    admin = _browser(client, ADMIN, set())
    first = admin.get("/admin/audit")
    assert first.status_code == 200
    assert "Showing lines 1 to 50 of 122" in first.text
    assert 'aria-current="page"' in first.text and "/admin/audit?page=3" in first.text
    last = admin.get("/admin/audit?page=3")
    assert "Showing lines 101 to 122 of 122" in last.text
    robots = admin.get("/admin/audit?actor=ROBOT1&action=report+viewed")
    assert "of 40" in robots.text and "robot0@" not in robots.text
    bad = admin.get("/admin/audit?from-day=31&from-month=2&from-year=2026&actor=robot2")
    assert bad.status_code == 422
    assert "There is a problem" in bad.text and "The first day must be a real date" in bad.text
    assert 'value="31"' in bad.text and 'value="robot2"' in bad.text
    assert 'href="#from-day"' in bad.text
    assert (
        admin.get(
            "/admin/audit.csv?from-day=31&from-month=2&from-year=2026", follow_redirects=False
        ).status_code
        == 303
    )
    exported = admin.get("/admin/audit.csv?action=file+downloaded")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert len(rows) == 2
    assert rows[1][2] == "'=cmd|' /C calc'!A0" and rows[1][5] == "'@SUM(1+1)"
    assert rows[1][0] == "2026-07-01T13:05:00+00:00"
    if clock.time_zone().key == "Europe/London":
        assert rows[1][1] == "2026-07-01T14:05:00+01:00"
        oldest = admin.get("/admin/audit?page=3").text
        assert "1\u00a0July\u00a02026, 14:05" in oldest
    later = date.today() + timedelta(days=3)
    none = admin.get(
        f"/admin/audit?from-day={later.day}&from-month={later.month}&from-year={later.year}"
    )
    assert "No lines match these filters" in none.text
    api = admin.get("/api/v1/admin/audit?action=report%20viewed&limit=10&offset=5")
    assert api.status_code == 200
    assert api.json()["total"] == 120 and len(api.json()["events"]) == 10
    assert api.json()["events"][0]["target"] == "report of round 114"
    # A NUL is refused by name (PostgreSQL cannot hold one in a query), never a server error.
    nul = admin.get("/admin/audit?actor=robot%00")
    assert nul.status_code == 422 and "Who must not contain control characters" in nul.text
    nul_api = admin.get("/api/v1/admin/audit?actor=%00")
    assert nul_api.status_code == 422 and "actor" in nul_api.text
    # A partnership id beyond what the database's integer column holds (PostgreSQL's int4
    # refused 2147483648 with a server error) is refused by name too, as is one written
    # another way than the canonical digits.
    for written in ("2147483648", "9223372036854775807", "+1", "01"):
        far = admin.get(f"/api/v1/admin/audit?partnership_id={written}")
        assert far.status_code == 422 and "partnership_id" in far.text, written
    assert admin.get("/admin/audit.csv?actor=%00", follow_redirects=False).status_code == 303


def test_the_coordinators_api_records_each_change_as_its_caller(
    client: TestClient, session: Session
) -> None:
    client.app.state.rate_limiter = RateLimiter(  # type: ignore[attr-defined]
        client.app.state.engine,  # type: ignore[attr-defined]
        TEST_SECRET,
        UNLIMITED,
    )
    accounts.add_account(session, COORDINATOR, PASSWORD)
    start = _last_id(session)
    api = TestClient(client.app)
    auth = (COORDINATOR, PASSWORD)

    def call(method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        answer = api.request(method, f"/api/v1{path}", json=body, auth=auth)
        assert answer.is_success, f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        found: dict[str, object] = answer.json()
        return found

    made = call("POST", "/partnerships", {"name": "Api Vale", "kind": "urgent-and-emergency-care"})
    p = made["id"]
    organisation = call(
        "POST",
        f"/partnerships/{p}/organisations",
        {"name": "Api Hospital", "kind": "acute-trust"},
    )
    o = organisation["id"]
    later = date.today() + timedelta(days=9)
    survey = call(
        "POST",
        f"/partnerships/{p}/rounds",
        {
            "title": "Api round",
            "opens_on": (date.today() + timedelta(days=2)).isoformat(),
            "closes_on": later.isoformat(),
        },
    )
    r = survey["id"]
    call("PUT", f"/rounds/{r}/anonymity-threshold", {"anonymity_threshold": 6})
    call("PUT", f"/rounds/{r}/release-policy", {"release_policy": "interim"})
    call("POST", f"/rounds/{r}/open-now")
    call("PUT", f"/rounds/{r}/closing-date", {"closes_on": (later + timedelta(days=1)).isoformat()})
    call("PUT", f"/rounds/{r}/title", {"title": "Api round, renamed"})
    links = call("POST", f"/rounds/{r}/links", {"count": 2, "organisation_id": o})
    call("POST", f"/rounds/{r}/open-link")
    call("POST", f"/rounds/{r}/close")
    call("PUT", f"/partnerships/{p}/organisations/{o}/name", {"name": "Api Trust"})
    call("PUT", f"/partnerships/{p}/name", {"name": "Api Vale Partnership"})
    call("DELETE", f"/partnerships/{p}/organisations/{o}", {})
    call("DELETE", f"/rounds/{r}", {"confirm_name": "Api round, renamed"})
    call("DELETE", f"/partnerships/{p}", {"confirm_name": "Api Vale Partnership"})
    events = [e for e in _lines(session, start) if e.action not in OTHERS]
    assert {e.actor for e in events} == {COORDINATOR}
    assert [e.action for e in events] == [
        AuditAction.PARTNERSHIP_ADDED,
        AuditAction.ORGANISATION_ADDED,
        AuditAction.ROUND_ADDED,
        AuditAction.THRESHOLD_CHANGED,
        AuditAction.RELEASE_POLICY_CHANGED,
        AuditAction.ROUND_OPENED,
        AuditAction.ROUND_EXTENDED,
        AuditAction.ROUND_RENAMED,
        AuditAction.LINKS_MADE,
        AuditAction.LINKS_MADE,
        AuditAction.ROUND_CLOSED,
        AuditAction.ORGANISATION_RENAMED,
        AuditAction.PARTNERSHIP_RENAMED,
        AuditAction.ORGANISATION_REMOVED,
        AuditAction.ROUND_DELETED,
        AuditAction.PARTNERSHIP_DELETED,
    ]
    assert {e.partnership_id for e in events} == {p}
    text = " ".join(f"{e.target} {e.detail}" for e in events)
    assert isinstance(links["links"], list)
    assert all(token_of(link) not in text for link in links["links"])
    assert events[-1].target == f"partnership {p} (Api Vale Partnership)"
