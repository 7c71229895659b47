"""A coordinator runs a round's invitations in Chromium, end to end, with real e-mail.

The real ``trust-survey serve`` and a real ``trust-survey worker`` share a SQLite file; the
worker sends through a real SMTP server on loopback (aiosmtpd).  The coordinator uploads a list
of 20 participants (one bad row first: the error, then mended in the page), sets the texts and a
reminder date, and sends the invitations.  Respondents answer through the links in the e-mails
that arrived, one stops reminders through the link in hers, and the reminder (its day reached
by calling the worker's reminder job with that day's time) goes to exactly those who have not
submitted.  The new pages are checked with axe-core and photographed at 320 and 1280 px.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from app.database import make_engine
from app.models import Participant
from app.services import participants, releases, rounds
from tests.browser_support import (
    ROOT,
    TEST_SECRET,
    LiveServer,
    answer_page,
    axe_violations,
    describe_violations,
    screenshot,
    start_live_server,
    stop_live_server,
)
from tests.conftest import full_answers
from tests.mail_support import MailHandler, free_port

pytestmark = pytest.mark.browser
PEOPLE = 20
LINK = re.compile(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]+")
OPT_OUT = re.compile(r"http://127\.0\.0\.1:\d+/mail/opt-out/[A-Za-z0-9_-]+")


class Mail:
    def __init__(self, handler: MailHandler, port: int) -> None:
        self.handler = handler
        self.port = port


@pytest.fixture(scope="module")
def mail() -> Iterator[Mail]:
    handler = MailHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Mail(handler, port)
    finally:
        controller.stop()


def _mail_env(mail: Mail) -> dict[str, str]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        "SMTP_SECURITY": "none",
        "MAIL_FROM": "Trust Survey <survey@example.nhs.uk>",
        "MAIL_RATE_PER_MINUTE": "6000",
        "WORKER_POLL_SECONDS": "0.2",
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mail: Mail) -> Iterator[LiveServer]:
    running = start_live_server(tmp_path_factory.mktemp("invitations"), _mail_env(mail))
    try:
        yield running
    finally:
        stop_live_server(running)


@pytest.fixture(scope="module")
def worker(
    server: LiveServer, mail: Mail, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": server.database_url,
        "SECRET_KEY": TEST_SECRET,
        "PUBLIC_BASE_URL": server.base_url,
        **_mail_env(mail),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )
    try:
        yield log
    finally:
        process.terminate()
        process.wait(timeout=30)


def _api(server: LiveServer, path: str, body: dict[str, object]) -> Any:
    credentials = f"{server.coordinator_email}:{server.coordinator_password}".encode()
    request = urllib.request.Request(
        server.base_url + path,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def _check_page(page: Any, name: str) -> None:
    """axe-core clean and photographed, at 1280 then 320 px wide."""
    for width in (1280, 320):
        page.set_viewport_size({"width": width, "height": 900})
        violations = axe_violations(page)
        screenshot(page, f"{name}-{width}")
        assert not violations, f"{name} at {width}px:\n" + describe_violations(violations)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways at {width}px"
    page.set_viewport_size({"width": 1280, "height": 900})


def _answer_in_the_browser(chromium: Any, link: str) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(link)
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url("**/sections/**")
    while "/check" not in page.url:
        answer_page(page, choice=2)
        page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("button", name="Submit my answers").click()
    assert "your answers have been submitted" in page.locator("h1").inner_text()
    context.close()


def _answer_by_api(link: str) -> None:
    base, token = link.split("/s/")
    request = urllib.request.Request(
        f"{base}/api/v1/survey/{token}/response",
        data=json.dumps({"answers": full_answers(4)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 201)


def test_a_coordinator_invites_20_people_and_reminds_exactly_those_who_have_not_answered(
    chromium: Any, server: LiveServer, mail: Mail, worker: Path, tmp_path: Path
) -> None:
    partnership = _api(
        server, "/api/v1/partnerships", {"name": "Eastmoor Alliance", "kind": "other"}
    )
    for name, kind in (
        ("Eastmoor Hospital", "acute-trust"),
        ("Eastmoor Council", "local-authority"),
    ):
        _api(
            server,
            f"/api/v1/partnerships/{partnership['id']}/organisations",
            {"name": name, "kind": kind},
        )
    survey_round = _api(
        server,
        f"/api/v1/partnerships/{partnership['id']}/rounds",
        {
            "title": "Winter round",
            "opens_on": date.today().isoformat(),
            "closes_on": (date.today() + timedelta(days=14)).isoformat(),
        },
    )
    round_id = survey_round["id"]
    people = [f"person{n:02d}@example.nhs.uk" for n in range(PEOPLE)]
    organisation_of = {
        person: "Eastmoor Hospital" if n < 12 else "Eastmoor Council"
        for n, person in enumerate(people)
    }

    context = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(server.base_url + "/sign-in")
    page.fill("#email", server.coordinator_email)
    page.fill("#password", server.coordinator_password)
    page.click("button[type=submit]")
    page.wait_for_url("**/coordinator")
    page.goto(f"{server.base_url}/coordinator/rounds/{round_id}")
    screenshot(page, "round-with-invitations-1280")
    page.get_by_role("link", name="Participants and invitations").click()
    page.wait_for_url("**/participants")
    _check_page(page, "participants-empty")

    # A list with one bad row: nothing is added, the row is named, the rows are kept to mend.
    listed = tmp_path / "participants.csv"
    rows = ["E-mail,Organisation", "person.without.at.sign,Eastmoor Hospital"]
    rows += [f"{person},{organisation_of[person]}" for person in people]
    listed.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page.set_input_files("#file", str(listed))
    page.get_by_role("button", name="Add participants").click()
    assert page.title().startswith("Error: ")
    assert "Row 2: “person.without.at.sign” is not an e-mail address" in page.inner_text("main")
    _check_page(page, "participants-error")
    kept = page.input_value("#participants")
    assert kept.count("\n") == PEOPLE  # 21 rows, as given
    page.fill("#participants", kept.replace("person.without.at.sign, Eastmoor Hospital\n", ""))
    page.get_by_role("button", name="Add participants").click()
    assert "20 participants added." in page.inner_text("main")

    # Texts: a reminder date (tomorrow), preview, save.
    page.get_by_role("link", name=re.compile("Change the invitation and reminder texts")).click()
    reminder_day = date.today() + timedelta(days=2)  # a day after the invitations at least
    page.fill("#reminder_dates", reminder_day.isoformat())
    page.get_by_role("button", name="Preview").click()
    assert "Preview (not saved yet)" in page.inner_text("main")
    assert "Eastmoor Alliance" in page.inner_text("#preview ~ .nhsuk-card")
    _check_page(page, "mailing-preview")
    page.get_by_role("button", name="Save").click()
    assert "Saved." in page.inner_text("main")
    page.get_by_role("link", name="Participants and invitations").click()
    page.get_by_role("button", name="Send 20 invitations").click()
    assert "20 invitations queued" in page.inner_text("main")

    invitations = mail.handler.wait_for(PEOPLE)
    assert sorted(item.recipient for item in invitations) == people
    link_of = {item.recipient: item.links()[0] for item in invitations}
    assert len(set(link_of.values())) == PEOPLE
    for item in invitations:
        assert item.subject == "Eastmoor Alliance: how far do partners trust each other?"
        assert len(item.links()) == 1 and OPT_OUT.search(item.body)
    page.reload()
    _check_page(page, "participants-sent")

    # Seven answer through their links: three in the browser, four through the API.
    answered = [people[n] for n in (0, 3, 5, 12, 13, 17, 19)]
    for person in answered[:3]:
        _answer_in_the_browser(chromium, link_of[person])
    for person in answered[3:]:
        _answer_by_api(link_of[person])
    # One who has not answered asks for no reminders.
    opted_out = people[8]
    message = next(item for item in invitations if item.recipient == opted_out)
    found = OPT_OUT.search(message.body)
    assert found
    stop = context.new_page()
    stop.goto(found.group(0))
    _check_page(stop, "opt-out")
    stop.get_by_role("button", name="Stop reminders").click()
    assert "You will get no more reminders" in stop.inner_text("h1")
    _check_page(stop, "opted-out")

    # The reminder's day comes: the worker's job queues it, the worker sends it.
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as session:
            moment = participants.reminder_due_at(reminder_day).astimezone(UTC)
            assert participants.queue_due_reminders(session, moment, secret=TEST_SECRET) == 1
            assert participants.queue_due_reminders(session, moment, secret=TEST_SECRET) == 0
    finally:
        engine.dispose()
    expected = sorted(set(people) - set(answered) - {opted_out})
    everything = mail.handler.wait_for(PEOPLE + len(expected))
    reminders = everything[PEOPLE:]
    assert sorted(item.recipient for item in reminders) == expected
    for item in reminders:
        assert item.subject.startswith("Reminder: Eastmoor Alliance trust survey closes on")
        assert item.links() == [link_of[item.recipient]]  # their own link again

    # The coordinator's page: counts per organisation, no addresses, no one's answer.
    page.reload()
    shown = page.inner_text("main")
    assert not any(person in shown for person in people)
    assert "20 sent, 0 waiting to be sent" in shown
    assert f"{reminder_day:%-d %B %Y}: sent" in shown
    hospital = page.locator("#participant-counts tr", has_text="Eastmoor Hospital").inner_text()
    assert hospital.split()[-4:] == ["12", "12", "1", "0"]

    # The closing day passes: the worker's schedule closes the round (its final results are
    # published) and the participants' addresses are deleted.
    closes_on = date.fromisoformat(survey_round["closes_on"])
    after = participants.reminder_due_at(closes_on + timedelta(days=1)).astimezone(UTC)
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as session:
            assert rounds.apply_round_schedule(session, after).closed == (round_id,)
            assert rounds.apply_round_schedule(session, after).closed == ()  # once only
            final = releases.releases_of(session, round_id)[-1]
            assert final.final and final.responses == len(answered)
            participants.forget_closed_rounds(session, after)  # (or the worker's purge did)
            left = session.exec(select(Participant).where(Participant.round_id == round_id))
            assert left.all() == []
    finally:
        engine.dispose()
    page.goto(f"{server.base_url}/coordinator/rounds/{round_id}")
    assert "Closed" in page.inner_text("main")
    page.goto(f"{server.base_url}/coordinator/rounds/{round_id}/participants")
    shown = page.inner_text("main")
    assert not any(person in shown for person in people)
    _check_page(page, "participants-after-closing")
    context.close()
    assert "Traceback" not in worker.read_text()
