"""A round's whole life on SQLite and PostgreSQL: draft, open, closed, extended, reopened,
renamed, deleted; scheduled opening and closing; the reopen subtraction attack; forms that
follow post-redirect-get and answer in plain words."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models import Invitation, Response, RoundRelease, RoundStatus, SurveyRound
from app.services import invitations, partnerships, releases, reports, rounds
from app.services.errors import FieldValidationError, InvalidRequestError
from tests.conftest import COORDINATOR_PASSWORD, SurveySetUp, csrf_from, full_answers


def _submit(client: TestClient, round_id: int, session: Session, value: int) -> None:
    token = invitations.create_personal_links(
        session, round_id, organisation_id=None, count=1, most=1
    )[0]
    answer = client.post(f"/api/v1/survey/{token}/response", json={"answers": full_answers(value)})
    assert answer.status_code == 201, answer.text


def _sign_in(client: TestClient, email: str) -> str:
    page = client.get("/sign-in")
    signed = client.post(
        "/sign-in",
        data={"email": email, "password": COORDINATOR_PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    return csrf_from(client.get("/coordinator").text)


def test_draft_opens_and_closes_on_schedule_in_the_time_zone(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round(opens_in_days=2, closes_in_days=5)
    draft = rounds.get_round(session, survey.round_id)
    assert draft.status == RoundStatus.DRAFT
    assert rounds.round_state(draft) == rounds.RoundState.NOT_YET_OPEN
    opening = datetime.combine(draft.opens_on, datetime.min.time(), UTC)
    # 23:30 UTC the evening before is already the opening day in London in summer only:
    # use a winter-proof instant, half an hour after London midnight of the opening day.
    result = rounds.apply_round_schedule(session, opening + timedelta(hours=1, minutes=30))
    assert survey.round_id in result.opened
    assert rounds.get_round(session, survey.round_id).status == RoundStatus.OPEN
    again = rounds.apply_round_schedule(session, opening + timedelta(hours=2))
    assert survey.round_id not in again.opened  # idempotent
    closing = datetime.combine(draft.closes_on + timedelta(days=1), datetime.min.time(), UTC)
    result = rounds.apply_round_schedule(session, closing + timedelta(hours=1, minutes=30))
    assert survey.round_id in result.closed
    closed = rounds.get_round(session, survey.round_id)
    assert closed.status == RoundStatus.CLOSED and closed.closed_on == closed.closes_on


def test_the_last_evening_in_london_is_still_open(session: Session) -> None:
    from app.services import clock

    # 31 July 23:30 in London is 22:30 UTC: still 31 July; 00:30 London on 1 August is 23:30
    # UTC on 31 July, already the next day in London.
    assert clock.local_day(datetime(2027, 7, 31, 22, 30, tzinfo=UTC)) == date(2027, 7, 31)
    assert clock.local_day(datetime(2027, 7, 31, 23, 30, tzinfo=UTC)) == date(2027, 8, 1)


def test_closing_early_records_the_day_and_never_a_future_date(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round(closes_in_days=60)
    rounds.close_round(session, survey.round_id)
    closed = rounds.get_round(session, survey.round_id)
    assert closed.closed_on == rounds.today() and closed.closes_on > rounds.today()
    token = invitations.create_personal_links(
        session, survey.round_id, organisation_id=None, count=1, most=1
    )[0]
    page = client.get(f"/s/{token}")
    assert page.status_code == 403
    planned = f"{closed.closes_on.day} {closed.closes_on:%B %Y}"
    assert planned not in page.text and "closed on" in page.text
    assert "closed" in rounds.dates_text(closed) and planned not in rounds.dates_text(closed)


def test_a_new_round_may_close_in_the_past_only_when_recorded_as_historical(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    # The rule lives in the service, so pages, the API and scripts all meet it.
    survey = make_round()
    past = {
        "title": "Last year",
        "opens_on": rounds.today() - timedelta(days=30),
        "closes_on": rounds.today() - timedelta(days=1),
        "anonymity_threshold": 5,
        "instrument_id": "trustworthy-collaboration",
    }
    with pytest.raises(FieldValidationError) as refused:
        rounds.open_round(session, survey.partnership_id, **past)  # type: ignore[arg-type]
    assert refused.value.problems == {"closes_on": rounds.PAST_CLOSING_DATE}
    recorded = rounds.open_round(
        session,
        survey.partnership_id,
        historical=True,
        **past,  # type: ignore[arg-type]
    )
    assert rounds.round_state(recorded) == rounds.RoundState.CLOSED
    # closing today is still allowed without the flag
    today = rounds.open_round(
        session,
        survey.partnership_id,
        **(past | {"closes_on": rounds.today(), "title": "Now"}),  # type: ignore[arg-type]
    )
    assert rounds.round_state(today) == rounds.RoundState.OPEN


def test_extend_reopen_rename_and_refusals(
    session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round(closes_in_days=3)
    later = rounds.today() + timedelta(days=30)
    assert rounds.change_closing_date(session, survey.round_id, later).closes_on == later
    with pytest.raises(FieldValidationError):
        rounds.change_closing_date(session, survey.round_id, rounds.today() - timedelta(days=1))
    with pytest.raises(InvalidRequestError):
        rounds.reopen_round(session, survey.round_id, later)  # not closed
    rounds.close_round(session, survey.round_id)
    with pytest.raises(InvalidRequestError):
        rounds.change_closing_date(session, survey.round_id, later)
    reopened = rounds.reopen_round(session, survey.round_id, later)
    assert reopened.status == RoundStatus.OPEN and reopened.closed_on is None
    assert rounds.round_state(reopened) == rounds.RoundState.OPEN
    assert rounds.rename_round(session, survey.round_id, "  Renamed  ").title == "Renamed"
    partnership = partnerships.rename_partnership(session, survey.partnership_id, "New name")
    assert partnership.name == "New name"
    organisation = partnerships.rename_organisation(
        session, survey.partnership_id, survey.organisation_ids[0], "Renamed Trust"
    )
    assert organisation.name == "Renamed Trust"


def test_remove_an_organisation_only_without_responses(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()
    used, unused = survey.organisation_ids
    token = invitations.create_personal_links(
        session, survey.round_id, organisation_id=used, count=1, most=1
    )[0]
    assert (
        client.post(
            f"/api/v1/survey/{token}/response", json={"answers": full_answers()}
        ).status_code
        == 201
    )
    spare = invitations.create_personal_links(
        session, survey.round_id, organisation_id=unused, count=1, most=1
    )[0]
    with pytest.raises(InvalidRequestError):
        partnerships.remove_organisation(session, survey.partnership_id, used)
    partnerships.remove_organisation(session, survey.partnership_id, unused)
    assert [o.id for o in partnerships.list_organisations(session, survey.partnership_id)] == [used]
    assert client.get(f"/s/{spare}").status_code == 404  # its unused link stopped working


def test_delete_a_round_and_a_partnership_with_all_their_data(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()
    _submit(client, survey.round_id, session, 4)
    with pytest.raises(FieldValidationError):
        rounds.delete_round(session, survey.round_id, "not the title")
    rounds.delete_round(session, survey.round_id, " spring ROUND ")
    assert session.get(SurveyRound, survey.round_id) is None
    assert not list(session.exec(select(Response).where(Response.round_id == survey.round_id)))
    assert not list(session.exec(select(Invitation).where(Invitation.round_id == survey.round_id)))
    other = make_round()
    name = partnerships.get_partnership(session, other.partnership_id).name
    with pytest.raises(FieldValidationError):
        partnerships.delete_partnership(session, other.partnership_id, "")
    partnerships.delete_partnership(session, other.partnership_id, name)
    assert session.get(SurveyRound, other.round_id) is None


def test_reopening_never_lets_anyone_subtract(
    client: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """The attack: read the report at close (6 responses), reopen, let one colleague answer,
    close, read again, subtract.  The second report must not move by fewer than k (5)."""
    survey = make_round()
    for value in (4, 4, 3, 5, 2, 4):
        _submit(client, survey.round_id, session, value)
    rounds.close_round(session, survey.round_id)
    first = reports.round_report(session, rounds.get_round(session, survey.round_id))
    assert first.n_responses == 6 and first.rows_available
    later = rounds.today() + timedelta(days=10)
    rounds.reopen_round(session, survey.round_id, later)
    _submit(client, survey.round_id, session, 1)  # the colleague being watched
    while_open = reports.round_report(session, rounds.get_round(session, survey.round_id))
    assert while_open.n_responses == 6
    rounds.close_round(session, survey.round_id)
    second = reports.round_report(session, rounds.get_round(session, survey.round_id))
    assert second.n_responses == 6, "one more response was published: subtraction gives it"
    assert second.table == first.table
    assert "not included" in (second.publication.left_out() or "")
    # Four more after a second reopening make five new: now a release, of whole-round figures
    rounds.reopen_round(session, survey.round_id, later)
    for value in (2, 3, 2, 5):
        _submit(client, survey.round_id, session, value)
    rounds.close_round(session, survey.round_id)
    third = reports.round_report(session, rounds.get_round(session, survey.round_id))
    assert third.n_responses == 11
    assert third.n_responses - first.n_responses >= 5
    assert not third.rows_available and third.breakdowns == ()  # groups would differ by few
    assert third.answers.empty
    published = [r.responses for r in releases.releases_of(session, survey.round_id)]
    assert all(b - a >= 5 for a, b in itertools.pairwise(published))
    assert session.exec(select(RoundRelease).where(RoundRelease.round_id == survey.round_id)).all()


def test_pages_follow_post_redirect_get_and_show_the_open_link_again(
    client: TestClient, session: Session, coordinator: str, make_round: Callable[..., SurveySetUp]
) -> None:
    from app.services.accounts import coordinator_by_email, grant_partnership

    survey = make_round()
    account = coordinator_by_email(session, coordinator)
    assert account is not None
    grant_partnership(session, account, survey.partnership_id)
    csrf = _sign_in(client, coordinator)
    page = f"/coordinator/rounds/{survey.round_id}"
    made = client.post(f"{page}/open-link", data={"csrf_token": csrf}, follow_redirects=False)
    assert made.status_code == 303
    shown = client.get(made.headers["location"]).text
    link = shown.split('id="open-link-text" type="text" readonly value="', 1)[1].split('"', 1)[0]
    assert "/s/" in link
    # reloading the round page repeats nothing: the same link, still working
    assert link in client.get(page).text and link in client.get(page).text
    token = link.rsplit("/s/", 1)[1]
    assert client.get(f"/s/{token}").status_code == 200
    # making another asks first; only the confirmed form replaces it
    again = client.post(f"{page}/open-link", data={"csrf_token": csrf}, follow_redirects=False)
    assert again.headers["location"].endswith("/open-link/replace")
    assert "stops working" in client.get(again.headers["location"]).text
    assert client.get(f"/s/{token}").status_code == 200
    replaced = client.post(
        f"{page}/open-link", data={"csrf_token": csrf, "confirm": "replace"}, follow_redirects=False
    )
    assert replaced.status_code == 303
    assert client.get(f"/s/{token}").status_code == 404
    # closing: a confirmation page first, then a redirect
    confirm = client.get(f"{page}/close")
    assert "Are you sure you want to close" in confirm.text
    closed = client.post(f"{page}/close", data={"csrf_token": csrf}, follow_redirects=False)
    assert closed.status_code == 303 and "done=closed" in closed.headers["location"]
    assert rounds.get_round(session, survey.round_id).closed_on == rounds.today()
    # reopening with a bad date stays on the page, in plain words, with the input kept
    bad = client.post(
        f"{page}/reopen",
        data={
            "csrf_token": csrf,
            "closes_on-day": "31",
            "closes_on-month": "2",
            "closes_on-year": "2030",
        },
    )
    assert bad.status_code == 422
    assert "There is a problem" in bad.text and "must be a real date" in bad.text
    assert 'value="31"' in bad.text and "Closes_on" not in bad.text
    future = rounds.today() + timedelta(days=9)
    ok = client.post(
        f"{page}/reopen",
        data={
            "csrf_token": csrf,
            "closes_on-day": str(future.day),
            "closes_on-month": str(future.month),
            "closes_on-year": str(future.year),
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert rounds.get_round(session, survey.round_id).closes_on == future
    # the preview uses no link and stores nothing
    before = len(list(session.exec(select(Invitation))))
    preview = client.get(f"{page}/preview")
    assert (
        preview.status_code == 200
        and "<form" not in preview.text.split("<main", 1)[1].split("Sign out")[0]
    )
    session.expire_all()
    assert len(list(session.exec(select(Invitation)))) == before


def test_the_round_form_answers_in_plain_words_with_input_kept(
    client: TestClient, session: Session, coordinator: str, make_round: Callable[..., SurveySetUp]
) -> None:
    from app.services.accounts import coordinator_by_email, grant_partnership

    survey = make_round()
    account = coordinator_by_email(session, coordinator)
    assert account is not None
    grant_partnership(session, account, survey.partnership_id)
    csrf = _sign_in(client, coordinator)
    answer = client.post(
        f"/coordinator/partnerships/{survey.partnership_id}/rounds",
        data={
            "csrf_token": csrf,
            "title": "Winter round",
            "opens_on-day": "3",
            "opens_on-month": "12",
            "opens_on-year": "2030",
            "closes_on-day": "1",
            "closes_on-month": "12",
            "closes_on-year": "2030",
            "anonymity_threshold": "2",
        },
    )
    assert answer.status_code == 422
    text = answer.text
    assert "There is a problem" in text and 'href="#closes_on-day"' in text
    assert "The closing date must be the same as or after the opening date" in text
    assert "The smallest group shown must be 3 or more" in text
    assert 'value="Winter round"' in text and 'value="2"' in text
    for internal in ("Closes_on", "anonymity_threshold:", "Input should", "greater than"):
        assert internal not in text
    assert 'type="date"' not in text
    links = client.post(
        f"/coordinator/rounds/{survey.round_id}/links", data={"csrf_token": csrf, "count": "0"}
    )
    assert links.status_code == 422 and "The number of links must be 1 or more" in links.text
    assert "count:" not in links.text
