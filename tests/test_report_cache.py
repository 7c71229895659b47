"""The report cache: a round's report is computed once per release and reused by its page, its
JSON and its files; what its figures depend on (release, threshold, the compared round) makes
a new entry; what a reader may see (raw rows) is never taken from another reader's view."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.services import releases, report_cache, reports, rounds
from app.services.accounts import add_account, coordinator_by_email
from app.services.demo import DEMO_PARTNERSHIP
from app.services.raw_access import grant_raw_access
from app.services.report_cache import BoundedCache
from app.services.rounds import get_round
from tests.conftest import SurveySetUp, full_answers
from tests.test_reports_support import PASSWORD, add_responses, seeded_demo_round, sign_in


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rounds whose report was computed, one entry per computation."""
    seen: list[int] = []
    compute = reports.round_report

    def counting(session: Session, survey_round: object, viewer: object = None) -> object:
        seen.append(survey_round.id)  # type: ignore[attr-defined]
        return compute(session, survey_round, viewer)  # type: ignore[arg-type]

    monkeypatch.setattr(reports, "round_report", counting)
    return seen


def test_page_json_and_files_compute_the_report_once(
    client: TestClient, session: Session, computed: list[int]
) -> None:
    round_id = seeded_demo_round(session)
    add_account(session, "ev@example.org", PASSWORD, "evaluator", [DEMO_PARTNERSHIP])
    sign_in(client, "ev@example.org")
    page = client.get(f"/reports/rounds/{round_id}")
    assert page.status_code == 200
    for path in (
        f"/api/v1/reports/rounds/{round_id}",
        f"/reports/rounds/{round_id}/answers.csv",
        f"/reports/rounds/{round_id}/scores.csv",
        f"/api/v1/reports/rounds/{round_id}/scores",
        f"/reports/rounds/{round_id}",
    ):
        assert client.get(path).status_code == 200, path
    assert computed == [round_id]
    assert client.get(f"/reports/rounds/{round_id}").text == page.text


def test_a_new_release_is_a_new_report_and_nothing_else_is(
    session: Session, make_round: Callable[..., SurveySetUp], computed: list[int]
) -> None:
    survey = make_round()
    releases.set_release_policy(session, survey.round_id, "interim")

    def add(count: int) -> None:
        add_responses(
            session,
            survey.round_id,
            [full_answers(3)] * count,
            [{"organisation_type": "acute-trust"}] * count,
        )

    def report() -> reports.RoundReport:
        return report_cache.round_report(session, get_round(session, survey.round_id))

    add(5)
    first = report()
    add(1)  # not enough for a new release: the same figures, a fresh count
    second = report()
    assert computed == [survey.round_id]
    assert second.table is first.table and second.publication.not_included == 1
    add(4)
    third = report()
    assert computed == [survey.round_id, survey.round_id]
    assert (first.n_responses, third.n_responses) == (5, 10)


def test_another_round_published_anywhere_is_a_new_report(
    session: Session, make_round: Callable[..., SurveySetUp], computed: list[int]
) -> None:
    # The trend and the peer benchmark read other rounds: a stale entry would leave a newly
    # closed peer round (or an earlier round's new release) out of the figures.
    survey, peer = make_round(), make_round()
    for round_id in (survey.round_id, peer.round_id):
        add_responses(
            session,
            round_id,
            [full_answers(3)] * 5,
            [{"organisation_type": "acute-trust"}] * 5,
        )
    rounds.close_round(session, survey.round_id)

    def report() -> reports.RoundReport:
        return report_cache.round_report(session, get_round(session, survey.round_id))

    report()
    report()
    assert computed == [survey.round_id]
    rounds.close_round(session, peer.round_id)
    report()
    assert computed == [survey.round_id, survey.round_id]


def test_raw_rows_are_the_readers_own(session: Session) -> None:
    round_id = seeded_demo_round(session)
    add_account(session, "raw@example.org", PASSWORD, "analyst")
    add_account(session, "plain@example.org", PASSWORD, "analyst")
    add_account(session, "admin@example.org", PASSWORD, "admin")
    grant_raw_access(
        session, "raw@example.org", reason="linkage study", granted_by="admin@example.org"
    )
    viewers = {}
    for email in ("raw@example.org", "plain@example.org"):
        viewer = reports.viewer_for(session, coordinator_by_email(session, email))
        assert viewer is not None
        viewers[email] = viewer
    survey_round = get_round(session, round_id)
    raw = report_cache.round_report(session, survey_round, viewers["raw@example.org"])
    plain = report_cache.round_report(session, survey_round, viewers["plain@example.org"])
    again = report_cache.round_report(session, survey_round, viewers["raw@example.org"])
    assert raw.raw_rows and again.raw_rows and not plain.raw_rows
    assert plain.table is raw.table  # the figures are computed once, shared


def test_an_answer_set_is_handed_out_as_a_copy(session: Session) -> None:
    round_id = seeded_demo_round(session)
    survey_round = get_round(session, round_id)
    first = report_cache.published_matrix(session, survey_round, 1)
    first.iloc[:, 0] = -1
    first["added"] = 1
    second = report_cache.published_matrix(session, survey_round, 1)
    assert "added" not in second.columns and (second.iloc[:, 0] != -1).any()


def test_the_cache_keeps_at_most_its_bound() -> None:
    cache: BoundedCache[pd.DataFrame] = BoundedCache(10, len)
    for key in range(5):
        cache.put(key, pd.DataFrame({"x": range(4)}))
    assert [cache.get(key) is not None for key in range(5)] == [False, False, False, True, True]
    cache.put("too big", pd.DataFrame({"x": range(11)}))
    assert cache.get("too big") is None


def test_a_purge_of_a_rounds_answers_is_a_new_report_without_them(
    session: Session, make_round: Callable[..., SurveySetUp], computed: list[int]
) -> None:
    # Answers past their retention period are deleted by another process (the worker): a
    # report kept from before must not go on showing figures from the deleted answers.
    from datetime import UTC, datetime, timedelta

    from app.services import retention
    from app.settings import Settings

    survey = make_round()
    add_responses(
        session,
        survey.round_id,
        [full_answers(3)] * 5,
        [{"organisation_type": "acute-trust"}] * 5,
    )
    rounds.close_round(session, survey.round_id)

    def report() -> reports.RoundReport:
        return report_cache.round_report(session, get_round(session, survey.round_id))

    before = report()
    assert before.table is not None and before.n_responses == 5
    engine = session.get_bind()
    settings = Settings(
        environment="test",
        database_url=str(engine.url.render_as_string(hide_password=False)),
        secret_key="x" * 40,  # type: ignore[arg-type]
        response_retention_days=1,
    )
    purged = retention.purge(session, settings, datetime.now(UTC) + timedelta(days=3))
    assert purged.submitted_responses == 5
    after = report()
    assert computed == [survey.round_id, survey.round_id]
    assert after.table is None and not after.readings and not after.frequencies
    assert "deleted" in after.publication.headline()
