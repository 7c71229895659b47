"""Insiders trying to learn one person's answers from reports and downloads (issue 10, attacks
3, 4 and 5), on SQLite and PostgreSQL.

3. Complementary suppression that stopped too early: overall minus the shown groups minus the
   attacker's own answers gave the victim's scale scores.
4. Rare combinations in downloads: every single background value had 5 or more rows, yet the
   files held exactly one row with acute trust + medical.
5. Differencing an open round: two downloads before and after one new response differed by
   exactly that person; pooled analyst figures too.
"""

from __future__ import annotations

import io
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.cli import main
from app.instruments import instrument_named
from app.models import RawAccessGrant, Response, ResponseStatus
from app.services import rounds
from app.services.accounts import add_account, coordinator_by_email, grant_partnership
from tests.conftest import COORDINATOR_PASSWORD, SurveySetUp, full_answers
from tests.test_reports_support import (
    PASSWORD,
    add_responses,
    admin,
    report_json,
    seeded_demo_round,
    sign_in,
)

__all__ = ["admin"]  # fixture

K = 5
INSTRUMENT = instrument_named("trustworthy-collaboration")
BACKGROUND = [q.id for q in INSTRUMENT.background if q.kind == "choice"]
SCALE = "inter_individual_trust"


def _who(organisation_type: str, role: str = "management") -> dict[str, str]:
    return {
        "organisation_type": organisation_type,
        "professional_role": role,
        "care_model": "urgent-and-emergency-care",
    }


def _add(
    session: Session,
    round_id: int,
    people: list[tuple[dict[str, str], int]],
    *,
    open_link: bool = False,
    at: datetime | None = None,
) -> None:
    """Submitted responses: (background, the value given to every item) per person."""
    for background, value in people:
        session.add(
            Response(
                round_id=round_id,
                status=ResponseStatus.SUBMITTED,
                instrument_version=INSTRUMENT.version,
                answers=full_answers(value),
                background=background,
                from_open_link=open_link,
                submitted_at=at or datetime.now(UTC),
            )
        )
    session.commit()


def _scale_mean(table4: dict, scale_id: str = SCALE) -> float:  # type: ignore[type-arg]
    return float(next(s["mean"] for s in table4["scales"] if s["scale_id"] == scale_id))


# --- attack 3 -----------------------------------------------------------------------------------


def _subtraction_attack(
    client: TestClient, round_id: int, attacker_value: int
) -> tuple[int, float | None]:
    """Overall minus the shown groups minus the attacker: (people left, their mean)."""
    report = report_json(client, round_id)
    by_type = next(b for b in report["breakdowns"] if b["question"] == "organisation_type")
    n = report["table4"]["n"]
    total = _scale_mean(report["table4"]) * n
    left = n - 1
    for group in by_type["groups"]:
        if group["shown"]:
            size = group["table4"]["n"]
            total -= _scale_mean(group["table4"]) * size
            left -= size
    total -= attacker_value
    return left, (total / left if left else None)


@pytest.mark.parametrize(
    "small",
    [
        ["local-authority", "ambulance-trust"],  # the victim and the attacker
        ["local-authority", "ambulance-trust", "voluntary-sector"],
    ],
    ids=["two-small-groups", "three-small-groups"],
)
def test_small_groups_cannot_be_worked_out_by_subtraction(
    admin: TestClient,
    session: Session,
    make_round: Callable[..., SurveySetUp],
    small: list[str],
) -> None:
    survey = make_round()
    people = [(_who("acute-trust"), 3)] * 5 + [(_who("primary-care"), 4)] * 5
    victim, attacker = 1, 5
    people += [(_who(small[0]), victim), (_who(small[1]), attacker)]
    people += [(_who(other), 2) for other in small[2:]]
    _add(session, survey.round_id, people)
    rounds.close_round(session, survey.round_id)
    report = report_json(admin, survey.round_id)
    by_type = next(b for b in report["breakdowns"] if b["question"] == "organisation_type")
    hidden = [g for g in by_type["groups"] if not g["shown"]]
    shown = [g["table4"]["n"] for g in by_type["groups"] if g["shown"]]
    # Every group shown holds the threshold; the people in no shown group are none or at least
    # the threshold, and never one group alone.
    assert all(size >= K for size in shown)
    hidden_people = report["table4"]["n"] - sum(shown)
    assert hidden_people == 0 or hidden_people >= K
    assert len(hidden) != 1
    left, mean = _subtraction_attack(admin, survey.round_id, attacker)
    # Overall minus the shown groups minus the attacker: nobody left to find, or at least
    # k - 1 people, never the victim alone.
    assert left == -1 or left >= K - 1
    assert mean is None or mean != pytest.approx(victim)


def test_the_mean_of_two_people_is_not_published_without_an_attacker(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()
    people = [(_who("acute-trust"), 3)] * 12
    people += [(_who("local-authority"), 1), (_who("ambulance-trust"), 5)]
    _add(session, survey.round_id, people)
    rounds.close_round(session, survey.round_id)
    report = report_json(admin, survey.round_id)
    for breakdown in report["breakdowns"]:
        shown = sum(g["table4"]["n"] for g in breakdown["groups"] if g["shown"])
        assert report["table4"]["n"] - shown in (0,) or report["table4"]["n"] - shown >= K


# --- attack 4 -----------------------------------------------------------------------------------


def _sav_frame(content: bytes) -> pd.DataFrame:
    import pyreadstat  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answers.sav"
        path.write_bytes(content)
        frame, _ = pyreadstat.read_sav(str(path))
    return frame


def _xlsx_frames(content: bytes) -> dict[str, pd.DataFrame]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    frames = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        frames[sheet.title] = pd.DataFrame(rows[1:], columns=rows[0]) if rows else pd.DataFrame()
    return frames


def _row_level_files(client: TestClient, round_id: int) -> dict[str, pd.DataFrame]:
    base = f"/reports/rounds/{round_id}"
    files = {
        "answers.csv": pd.read_csv(io.BytesIO(client.get(f"{base}/answers.csv").content)),
        "scores.csv": pd.read_csv(io.BytesIO(client.get(f"{base}/scores.csv").content)),
        "answers.sav": _sav_frame(client.get(f"{base}/answers.sav").content),
    }
    book = _xlsx_frames(client.get(f"{base}/report.xlsx").content)
    files["report.xlsx: Item answers"] = book["Item answers"]
    files["report.xlsx: Scale scores"] = book["Scale scores"]
    for part in ("answers", "scores"):
        records = client.get(f"/api/v1/reports/rounds/{round_id}/{part}").json()["records"]
        files[f"JSON /{part}"] = pd.DataFrame.from_records(records)
    return files


def _combinations(frame: pd.DataFrame) -> Counter[tuple[object, ...]]:
    columns = [c for c in BACKGROUND if c in frame.columns]
    if not columns:
        return Counter()
    values = frame[columns].astype(object).where(frame[columns].notna(), None)
    return Counter(tuple(row) for row in values.itertuples(index=False))


def _assert_k_anonymous(files: dict[str, pd.DataFrame], n: int) -> None:
    for name, frame in files.items():
        assert len(frame) == n, name
        counts = _combinations(frame)
        assert not counts or min(counts.values()) >= K, (name, counts)


def test_a_rare_combination_of_common_values_is_in_no_download(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()
    # Acute 6, primary care 5; management 5, medical 6: yet acute + medical is one person.
    people = [(_who("acute-trust", "management"), 3)] * 5
    people += [(_who("acute-trust", "medical"), 1)]  # the medical director
    people += [(_who("primary-care", "medical"), 4)] * 5
    _add(session, survey.round_id, people)
    rounds.close_round(session, survey.round_id)
    files = _row_level_files(admin, survey.round_id)
    _assert_k_anonymous(files, 11)
    answers = files["answers.csv"]
    pair = (answers["organisation_type"] == "acute-trust") & (
        answers["professional_role"] == "medical"
    )
    assert not pair.any()
    assert answers["q10"].tolist().count(1) == 1  # the director's row is there, generalised
    report = report_json(admin, survey.round_id)
    assert "blank in the row-level files" in report["row_level"]["withheld"]
    notes = _xlsx_frames(admin.get(f"/reports/rounds/{survey.round_id}/report.xlsx").content)
    assert any("blank in the row-level files" in str(n) for n in notes["Notes"]["Note"])


def test_the_demo_downloads_are_k_anonymous(admin: TestClient, session: Session) -> None:
    round_id = seeded_demo_round(session)
    files = _row_level_files(admin, round_id)
    _assert_k_anonymous(files, 39)  # (acute-trust, blank role) was one row
    answers = files["answers.csv"]
    assert "partnership_name" not in answers.columns  # free text is never in a download
    page = admin.get(f"/reports/rounds/{round_id}").text
    assert "Results published when the round closed on" in page


def test_raw_access_is_granted_recorded_and_revoked_by_an_admin(
    client: TestClient,
    session: Session,
    migrated_url: str,
    make_round: Callable[..., SurveySetUp],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    survey = make_round()
    people = [(_who("acute-trust", "management"), 3)] * 5 + [(_who("acute-trust", "medical"), 1)]
    people += [(_who("primary-care", "medical"), 4)] * 5
    _add(session, survey.round_id, people)
    rounds.close_round(session, survey.round_id)
    _add(session, survey.round_id, [(_who("acute-trust"), 2)])  # too late: never published
    add_account(session, "an@example.org", PASSWORD, "analyst")
    add_account(session, "boss@example.org", PASSWORD, "admin")
    add_account(session, "co@example.org", PASSWORD, "coordinator")
    sign_in(client, "an@example.org")

    def pair_rows() -> int:
        answers = pd.read_csv(
            io.BytesIO(client.get(f"/reports/rounds/{survey.round_id}/answers.csv").content)
        )
        assert len(answers) == 11  # published responses only, raw or not
        chosen = (answers["organisation_type"] == "acute-trust") & (
            answers["professional_role"] == "medical"
        )
        return int(chosen.sum())

    assert pair_rows() == 0
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    grant = ["user", "grant-raw-access", "an@example.org"]
    assert main([*grant, "--reason", "linkage study 12", "--by", "an@example.org"]) == 2
    assert "is not an admin" in capsys.readouterr().err
    assert main([*grant, "--reason", " ", "--by", "boss@example.org"]) == 2
    other = ["user", "grant-raw-access", "co@example.org", "--reason", "x"]
    assert main([*other, "--by", "boss@example.org"]) == 2
    assert "only analysts and admins" in capsys.readouterr().err
    assert main([*grant, "--reason", "linkage study 12", "--by", "boss@example.org"]) == 0
    assert "granted by boss@example.org" in capsys.readouterr().out
    session.expire_all()
    analyst = coordinator_by_email(session, "an@example.org")
    boss = coordinator_by_email(session, "boss@example.org")
    assert analyst is not None and boss is not None
    recorded = session.exec(
        select(RawAccessGrant).where(RawAccessGrant.account_id == analyst.id)
    ).one()
    assert recorded.granted_by_id == boss.id and recorded.reason == "linkage study 12"
    assert recorded.created_at is not None
    assert pair_rows() == 1  # raw: the generalisation is skipped
    assert main(["user", "revoke-raw-access", "an@example.org"]) == 0
    assert pair_rows() == 0


# --- attack 5 -----------------------------------------------------------------------------------


def _downloads(client: TestClient, round_id: int) -> dict[str, bytes]:
    base = f"/reports/rounds/{round_id}"
    files = {}
    for name in ("answers.csv", "scores.csv", "answers.sav", "report.xlsx", "report.pdf"):
        answer = client.get(f"{base}/{name}", follow_redirects=False)
        files[name] = answer.content if answer.status_code == 200 else b"%d" % answer.status_code
    for part in ("", "/answers", "/scores"):
        files[f"JSON{part}"] = client.get(f"/api/v1/reports/rounds/{round_id}{part}").content
    return files


def _without_count(content: bytes, name: str) -> object:
    if name.startswith("JSON"):
        import json

        data = json.loads(content)
        data.pop("responses", None)
        return data
    frame = _sav_frame(content) if name.endswith(".sav") else pd.read_csv(io.BytesIO(content))
    return frame.drop(columns=["responses"], errors="ignore").to_dict("list")


def test_downloads_of_an_open_round_do_not_change_with_one_more_response(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()  # at-close, the default
    _add(session, survey.round_id, [(_who("acute-trust"), v) for v in (2, 3, 4, 5, 3, 4)])
    before = _downloads(admin, survey.round_id)
    _add(session, survey.round_id, [(_who("acute-trust"), 1)])  # the one new person
    after = _downloads(admin, survey.round_id)
    # Only the count of submitted responses moves (as on the coordinator's progress page);
    # no figure and no row does. Files are not offered at all before a release.
    for name in ("answers.csv", "scores.csv", "answers.sav", "report.xlsx", "report.pdf"):
        for moment in (before, after):
            assert moment[name] == b"303", name  # sent to the report, which says why
    for name in ("JSON", "JSON/answers", "JSON/scores"):
        assert _without_count(before[name], name) == _without_count(after[name], name), name
    report = report_json(admin, survey.round_id)
    assert report["results_visible"] is False and "table4" not in report
    assert "when the round closes" in report["note"]


def test_interim_releases_move_only_in_steps_of_the_threshold(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()
    from app.services import releases

    releases.set_release_policy(session, survey.round_id, "interim")
    _add(session, survey.round_id, [(_who("acute-trust"), v) for v in (2, 3, 4, 5, 3)])
    first = report_json(admin, survey.round_id)
    assert first["release"]["number"] == 1 and first["table4"]["n"] == 5
    assert "results move in steps of at least 5" in first["publication"]
    assert first["breakdowns"] == []  # interim: whole-round figures only
    assert "records" not in admin.get(f"/api/v1/reports/rounds/{survey.round_id}/answers").json()
    _add(session, survey.round_id, [(_who("acute-trust"), 1)])
    second = report_json(admin, survey.round_id)
    assert second["frequencies"] == first["frequencies"] and second["table4"] == first["table4"]
    assert second["not_included"] == 1
    _add(session, survey.round_id, [(_who("acute-trust"), 1)] * 4)
    third = report_json(admin, survey.round_id)
    assert third["release"]["number"] == 2 and third["table4"]["n"] == 10  # a step of 5
    _add(session, survey.round_id, [(_who("acute-trust"), 5)] * 3)
    rounds.close_round(session, survey.round_id)
    final = report_json(admin, survey.round_id)
    assert final["release"] == {**final["release"], "number": 3, "final": True, "responses": 10}
    assert final["table4"] == third["table4"]  # 3 late responses would be a step of 3
    assert (
        final["not_included"] == 3
        and "3 later responses are not included" in (final["not_included_because"])
    )
    rows = admin.get(f"/reports/rounds/{survey.round_id}/answers.csv").content
    assert len(pd.read_csv(io.BytesIO(rows))) == 10
    page = admin.get(f"/reports/rounds/{survey.round_id}").text
    assert "3 later responses are not included" in page


def test_pooled_analyst_figures_ignore_open_rounds(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    closed = make_round(opens_in_days=-40, closes_in_days=-10)
    _add(session, closed.round_id, [(_who("acute-trust"), v) for v in (2, 3, 4, 5, 3, 4)])
    live = make_round()
    live_round = rounds.get_round(session, live.round_id)
    live_round.release_policy = "interim"  # its own report shows interim results
    session.add(live_round)
    session.commit()
    _add(session, live.round_id, [(_who("acute-trust"), v) for v in (1, 2, 5, 4, 3, 2)])
    assert live_round.id is not None
    url = "/api/v1/analyst/reliability?item=q26&item=q27&item=q28"
    pooled = admin.get("/api/v1/analyst/pooled").json()
    alpha = admin.get(url).json()
    assert pooled["table4"]["n"] == 6
    assert {r["round_id"]: r["pooled"] for r in pooled["rounds"]} == {
        closed.round_id: True,
        live.round_id: False,
    }
    _add(session, live.round_id, [(_who("acute-trust"), 1)])
    assert admin.get("/api/v1/analyst/pooled").json() == pooled
    assert admin.get(url).json() == alpha
    page = admin.get("/analyst").text
    assert "not closed yet" in page


# --- the open link ------------------------------------------------------------------------------


def test_the_report_counts_open_link_responses_and_flags_a_burst(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    _add(session, survey.round_id, [(_who("acute-trust"), v) for v in (2, 3, 4, 3)], at=hour)
    _add(
        session,
        survey.round_id,
        [(_who("acute-trust"), 3)] * 6,
        open_link=True,
        at=hour + timedelta(hours=1),
    )
    rounds.close_round(session, survey.round_id)
    report = report_json(admin, survey.round_id)
    assert report["open_link"] == {
        "responses": 6,
        "of": 10,
        "largest_in_one_hour": 6,
        "burst": True,
    }
    assert any("6 of the 10 responses came through the open link" in c for c in report["cautions"])
    page = admin.get(f"/reports/rounds/{survey.round_id}").text
    assert 'id="open-link-share"' in page and "6 of the 10 responses" in page

    spread = make_round()
    _add(session, spread.round_id, [(_who("acute-trust"), v) for v in (2, 3, 4, 3)], at=hour)
    for number in range(6):
        _add(
            session,
            spread.round_id,
            [(_who("acute-trust"), 3)],
            open_link=True,
            at=hour - timedelta(hours=number + 1),
        )
    rounds.close_round(session, spread.round_id)
    calm = report_json(admin, spread.round_id)
    assert calm["open_link"]["responses"] == 6 and calm["open_link"]["burst"] is False
    assert not any("open link" in c for c in calm["cautions"])


# --- the release policy -------------------------------------------------------------------------


def test_coordinators_choose_the_release_policy_until_the_first_release(
    client: TestClient, session: Session, coordinator: str, make_round: Callable[..., SurveySetUp]
) -> None:
    survey = make_round()
    account = coordinator_by_email(session, coordinator)
    assert account is not None
    grant_partnership(session, account, survey.partnership_id)
    auth = (coordinator, COORDINATOR_PASSWORD)
    made = client.post(
        f"/api/v1/partnerships/{survey.partnership_id}/rounds",
        json={
            "title": "Interim round",
            "opens_on": datetime.now(UTC).date().isoformat(),
            "closes_on": (datetime.now(UTC).date() + timedelta(days=9)).isoformat(),
            "release_policy": "interim",
        },
        auth=auth,
    )
    assert made.status_code == 201, made.text
    assert made.json()["release_policy"] == "interim"
    bad = client.post(
        f"/api/v1/partnerships/{survey.partnership_id}/rounds",
        json={
            "title": "x",
            "opens_on": "2026-01-01",
            "closes_on": "2026-02-01",
            "release_policy": "live",
        },
        auth=auth,
    )
    assert bad.status_code == 422 and "release_policy" in bad.text
    url = f"/api/v1/rounds/{survey.round_id}/release-policy"
    assert client.put(url, json={"release_policy": "interim"}, auth=auth).status_code == 200
    assert client.put(url, json={"release_policy": "sometimes"}, auth=auth).status_code == 422
    add_responses(session, survey.round_id, [full_answers()] * 5, [{}] * 5)
    add_account(session, "ad@example.org", PASSWORD, "admin")
    reader = ("ad@example.org", PASSWORD)
    report = client.get(f"/api/v1/reports/rounds/{survey.round_id}", auth=reader).json()
    assert report["release"]["number"] == 1
    refused = client.put(url, json={"release_policy": "at-close"}, auth=auth)
    assert refused.status_code == 400 and "fixed once" in refused.text


def test_the_coordinator_form_offers_the_release_policy(
    client: TestClient, session: Session, coordinator: str, make_round: Callable[..., SurveySetUp]
) -> None:
    from tests.conftest import csrf_from

    survey = make_round()
    account = coordinator_by_email(session, coordinator)
    assert account is not None
    grant_partnership(session, account, survey.partnership_id)
    login = client.get("/sign-in")
    signed_in = client.post(
        "/sign-in",
        data={
            "email": coordinator,
            "password": COORDINATOR_PASSWORD,
            "csrf_token": csrf_from(login.text),
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    form = client.get(f"/coordinator/partnerships/{survey.partnership_id}").text
    assert 'name="release_policy"' in form and 'value="interim"' in form
    fields = {
        "title": "Interim round",
        "opens_on": "2020-01-01",
        "closes_on": "2099-01-01",
        "anonymity_threshold": "5",
        "csrf_token": csrf_from(form),
    }
    url = f"/coordinator/partnerships/{survey.partnership_id}/rounds"
    opened = client.post(url, data={**fields, "release_policy": "interim"}, follow_redirects=False)
    assert opened.status_code == 303
    page = client.get(opened.headers["location"]).text
    assert "in interim releases of at least 5 more responses each" in page
    refused = client.post(url, data={**fields, "release_policy": "live"})
    assert refused.status_code == 422 and "Choose when results are published" in refused.text
