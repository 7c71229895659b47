"""Insiders combining published figures of one round that are computed over different sets of
respondents: a scale's figures are over the respondents *scored on that scale*, an item's
frequencies over everyone, a breakdown group's over its members. Where someone leaves a scale
blank those sets differ, and the difference can be one person (on SQLite and PostgreSQL).

1. A breakdown by a question the instrument does not mark for the asymmetry view: the shown
   groups' scale means subtracted from the whole round's leave the hidden groups' respondents
   scored on that scale, who may be one person.
2. The whole round's Table 4 for a scale most respondents left blank: a mean of fewer than
   ``k`` published directly.
3. An item's frequencies against its scale's mean: the people who answered the item but were
   not scored on the scale (too few answers) are worked out by subtraction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.instruments import instrument_named
from app.services import partnerships, rounds
from tests.conftest import SurveySetUp
from tests.test_reports_support import add_responses, admin, report_json

__all__ = ["admin"]  # fixture

K = 5


def _scale(table4: dict, scale_id: str) -> dict:  # type: ignore[type-arg]
    return next(s for s in table4["scales"] if s["scale_id"] == scale_id)  # type: ignore[no-any-return]


def _submit(
    session: Session,
    round_id: int,
    version: str,
    people: list[tuple[dict[str, int], dict[str, str]]],
) -> None:
    add_responses(
        session, round_id, [a for a, _ in people], [b for _, b in people], version=version
    )


def _self_check_round(session: Session) -> int:
    partnership = partnerships.create_partnership(
        session, "Self-check partnership", "urgent-and-emergency-care"
    )
    assert partnership.id is not None
    survey_round = rounds.open_round(
        session,
        partnership.id,
        title="Self-check round",
        opens_on=date.today() - timedelta(days=1),
        closes_on=date.today() + timedelta(days=30),
        anonymity_threshold=K,
        instrument_id="partnership-self-check",
    )
    assert survey_round.id is not None
    return survey_round.id


def test_a_breakdown_without_an_asymmetry_view_hides_no_one_by_subtraction_on_a_scale(
    admin: TestClient, session: Session
) -> None:
    """professional_role is the self-check's breakdown but not marked for the asymmetry view.
    Management (6) and medical (6) are shown; "other" (3) is blanked in the files (k-anonymity)
    and joins "not stated" (2), a group of 5. But 4 of those 5 left the first scale blank: the
    group's mean on it is one person's score (and so is the whole round's mean minus the two
    other groups')."""
    instrument = instrument_named("partnership-self-check")
    scale = instrument.scales[0]
    round_id = _self_check_round(session)

    def answers(value: int, *, skip_scale: bool = False) -> dict[str, int]:
        return {
            item: value for item in instrument.item_ids if not (skip_scale and item in scale.items)
        }

    people = [(answers(4), {"professional_role": "management"})] * 6
    people += [(answers(3), {"professional_role": "medical"})] * 6
    victim = 1
    people += [(answers(victim), {"professional_role": "other"})]
    people += [(answers(2, skip_scale=True), {"professional_role": "other"})] * 2
    people += [(answers(2, skip_scale=True), {})] * 2
    _submit(session, round_id, instrument.version, people)
    rounds.close_round(session, round_id)

    report = report_json(admin, round_id)
    whole = _scale(report["table4"], scale.id)
    assert whole["n"] == 13
    by_role = next(b for b in report["breakdowns"] if b["question"] == "professional_role")
    left, total = whole["n"], whole["mean"] * whole["n"]
    for group in by_role["groups"]:
        if not group["shown"]:
            continue
        figures = _scale(group["table4"], scale.id)
        if figures["mean"] is None:
            continue
        # A group's figures on a scale are over its members scored on it: at least k of them.
        assert figures["n"] >= K, (group["value"], figures["n"], figures["mean"])
        left -= figures["n"]
        total -= figures["mean"] * figures["n"]
    # Whatever is left after subtracting every group mean shown on this scale is nobody or at
    # least the threshold of people, never the one who answered it.
    assert left == 0 or left >= K, f"{left} person(s) left, mean {total / left if left else None}"


def test_a_scale_most_respondents_left_blank_shows_no_mean_of_fewer_than_k(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    instrument = instrument_named("trustworthy-collaboration")
    scale = next(s for s in instrument.scales if len(s.items) == 3)
    survey = make_round()
    background = {"organisation_type": "acute-trust", "professional_role": "management"}
    full = dict.fromkeys(instrument.item_ids, 4)
    blank = {item: 4 for item in instrument.item_ids if item not in scale.items}
    victim = dict.fromkeys(instrument.item_ids, 4) | dict.fromkeys(scale.items, 1)
    _submit(session, survey.round_id, instrument.version, [(victim, background)])
    _submit(session, survey.round_id, instrument.version, [(blank, background)] * 4)
    rounds.close_round(session, survey.round_id)
    assert full  # every other scale has all five people
    figures = _scale(report_json(admin, survey.round_id)["table4"], scale.id)
    assert figures["mean"] is None or figures["n"] >= K
    # The page and the documents are made without the scale's figures (its count stays).
    for path in ("", "/report.html", "/report.xlsx", "/report.docx"):
        answer = admin.get(f"/reports/rounds/{survey.round_id}{path}")
        assert answer.status_code == 200, (path, answer.text[:500])


@pytest.mark.xfail(
    strict=True,
    reason=(
        "LEAK: item frequency tables count everyone who answered an item, Table 4 only those "
        "scored on its scale (at least min_answered items). Someone who answered one item of a "
        "three-item scale is in the first and not the second: the items' answer totals minus "
        "items x n x the scale's mean (unrounded in the JSON) is that person's answer. The "
        "answered counts show when this is so. Not a small fix: the sets an item's and a "
        "scale's figures are computed over must differ by 0 or at least k people."
    ),
)
def test_an_item_answered_by_someone_not_scored_on_its_scale_is_not_given_away(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    instrument = instrument_named("trustworthy-collaboration")
    scale = next(
        s
        for s in instrument.scales
        if len(s.items) == 3
        and s.required_answers == 2
        and s.favourable.value == "high"
        and not any(instrument.item(i).reverse_keyed for i in s.items)
    )
    first, *rest = scale.items
    survey = make_round()
    background = {"organisation_type": "acute-trust", "professional_role": "management"}
    others = [
        (dict.fromkeys(instrument.item_ids, 2 + i % 3), background) for i in range(9)
    ]  # every item answered, scored
    victim_answer = 1
    victim = {item: 4 for item in instrument.item_ids if item not in rest} | {first: victim_answer}
    _submit(session, survey.round_id, instrument.version, [*others, (victim, background)])
    rounds.close_round(session, survey.round_id)

    report = report_json(admin, survey.round_id)
    figures = _scale(report["table4"], scale.id)
    tables = {t["item"]: t for t in report["frequencies"]}
    answered = sum(tables[i]["valid"] for i in scale.items)
    if figures["mean"] is None:
        return
    # Every scored respondent answered every item (the counts say so: answers = items x n + 1)
    assert answered == len(scale.items) * figures["n"] + 1
    totals = sum(row["value"] * row["frequency"] for i in scale.items for row in tables[i]["rows"])
    worked_out = totals - len(scale.items) * figures["n"] * figures["mean"]
    assert worked_out != pytest.approx(victim_answer)


def test_two_interim_releases_do_not_differ_by_one_person_on_a_scale(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    from app.services import releases

    instrument = instrument_named("trustworthy-collaboration")
    scale = next(s for s in instrument.scales if len(s.items) == 3)
    survey = make_round()
    releases.set_release_policy(session, survey.round_id, "interim")
    background = {"organisation_type": "acute-trust", "professional_role": "management"}
    first_five = [(dict.fromkeys(instrument.item_ids, v), background) for v in (2, 3, 4, 5, 3)]
    _submit(session, survey.round_id, instrument.version, first_five)
    first = _scale(report_json(admin, survey.round_id)["table4"], scale.id)
    victim = 1
    blank = {item: 4 for item in instrument.item_ids if item not in scale.items}
    later = [(dict.fromkeys(instrument.item_ids, victim), background)] + [(blank, background)] * 4
    _submit(session, survey.round_id, instrument.version, later)
    second_report = report_json(admin, survey.round_id)
    assert second_report["release"]["number"] == 2
    second = _scale(second_report["table4"], scale.id)
    if first["mean"] is None or second["mean"] is None:
        return
    moved = second["n"] - first["n"]
    assert moved == 0 or moved >= K, (
        f"{moved} person(s) between releases, mean "
        f"{(second['mean'] * second['n'] - first['mean'] * first['n']) / moved}"
    )


@pytest.mark.xfail(
    strict=True,
    reason=(
        "LEAK: an item's frequency table (page, chart, JSON, XLSX, DOCX) gives the counts of "
        "each answer over the people who answered the item, however few: in a round of 5 "
        "where 4 left an item blank it shows the fifth person's answer (Answered 1, 'Strongly "
        "disagree' 1), so hiding the scale's mean does not hide that person's answers to its "
        "items. Needs a withheld state in FrequencyTable and in every renderer."
    ),
)
def test_an_item_fewer_than_k_answered_gives_no_one_s_answer(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    instrument = instrument_named("trustworthy-collaboration")
    scale = next(s for s in instrument.scales if len(s.items) == 3)
    survey = make_round()
    background = {"organisation_type": "acute-trust", "professional_role": "management"}
    blank = {item: 4 for item in instrument.item_ids if item not in scale.items}
    victim = dict.fromkeys(instrument.item_ids, 4) | dict.fromkeys(scale.items, 1)
    _submit(session, survey.round_id, instrument.version, [(victim, background)])
    _submit(session, survey.round_id, instrument.version, [(blank, background)] * 4)
    rounds.close_round(session, survey.round_id)
    report = report_json(admin, survey.round_id)
    for table in report["frequencies"]:
        if 0 < table["valid"] < K:
            given = {row["value"]: row["frequency"] for row in table["rows"] if row["frequency"]}
            assert not given, (table["item"], table["valid"], given)


def test_pooled_table4_does_not_move_by_one_person_on_a_scale(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """The pooled Table 4 grows by whole closed rounds, each of at least its threshold; but on
    a scale only four of a new round's five left blank, it grows by one person."""
    instrument = instrument_named("trustworthy-collaboration")
    scale = next(s for s in instrument.scales if len(s.items) == 3)
    background = {"organisation_type": "acute-trust", "professional_role": "management"}
    first = make_round(opens_in_days=-40, closes_in_days=-10)
    people = [(dict.fromkeys(instrument.item_ids, v), background) for v in (2, 3, 4, 5, 3, 4)]
    _submit(session, first.round_id, instrument.version, people)
    before = _scale(admin.get("/api/v1/analyst/pooled").json()["table4"], scale.id)
    second = make_round(opens_in_days=-40, closes_in_days=-10)
    victim = 1
    blank = {item: 4 for item in instrument.item_ids if item not in scale.items}
    later = [(dict.fromkeys(instrument.item_ids, victim), background)] + [(blank, background)] * 4
    _submit(session, second.round_id, instrument.version, later)
    pooled = admin.get("/api/v1/analyst/pooled").json()
    assert {r["round_id"]: r["pooled"] for r in pooled["rounds"]}[second.round_id]
    after = _scale(pooled["table4"], scale.id)
    moved = after["n"] - before["n"]
    assert moved == 0 or moved >= K, (
        f"{moved} person(s) added, mean "
        f"{(after['mean'] * after['n'] - before['mean'] * before['n']) / moved}"
    )


def test_an_earlier_round_s_small_scale_is_in_no_trend_or_change(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """The trend and the change since the previous round show each earlier round as published:
    a scale only one of its five was scored on has no figure there either."""
    from app.models import SurveyRound

    instrument = instrument_named("trustworthy-collaboration")
    scale = next(s for s in instrument.scales if len(s.items) == 3)
    background = {"organisation_type": "acute-trust", "professional_role": "management"}
    earlier = make_round(opens_in_days=-80, closes_in_days=-50)
    victim = 1
    blank = {item: 4 for item in instrument.item_ids if item not in scale.items}
    people = [(dict.fromkeys(instrument.item_ids, victim), background)] + [(blank, background)] * 4
    _submit(session, earlier.round_id, instrument.version, people)
    later = rounds.open_round(
        session,
        earlier.partnership_id,
        title="Autumn round",
        opens_on=date.today() - timedelta(days=40),
        closes_on=date.today() - timedelta(days=10),
        anonymity_threshold=K,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        historical=True,
    )
    assert isinstance(later, SurveyRound) and later.id is not None
    full = [(dict.fromkeys(instrument.item_ids, v), background) for v in (2, 3, 4, 5, 3, 4)]
    _submit(session, later.id, instrument.version, full)
    report = report_json(admin, later.id)
    assert report["change"]["previous_round_id"] == earlier.round_id
    assert scale.id not in {c["scale_id"] for c in report["change"]["scales"]}
    trend = next(t for t in report["tables"] if t["id"] == "trend-table")
    row = next(r for r in trend["rows"] if r["key"] == scale.id)
    assert row["cells"][f"score:{earlier.round_id}"]["value"] is None
    assert admin.get(f"/reports/rounds/{later.id}").status_code == 200


def test_alpha_is_not_given_for_fewer_than_k_who_answered_every_item(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    """Table 4's alpha is listwise: over the respondents who answered every item of the scale,
    who may be two people though six were scored on it (each needs only two of three)."""
    instrument = instrument_named("trustworthy-collaboration")
    scale = next(s for s in instrument.scales if len(s.items) == 3 and s.required_answers == 2)
    survey = make_round()
    background = {"organisation_type": "acute-trust", "professional_role": "management"}
    complete = [
        (
            dict.fromkeys(instrument.item_ids, 4) | dict(zip(scale.items, values, strict=True)),
            background,
        )
        for values in ((1, 2, 2), (4, 5, 4))
    ]
    partial = {item: v for item, v in dict.fromkeys(instrument.item_ids, 3).items()}
    partial.pop(scale.items[-1])
    people = [*complete, *[(partial | {scale.items[0]: v}, background) for v in (1, 2, 4, 5)]]
    _submit(session, survey.round_id, instrument.version, people)
    rounds.close_round(session, survey.round_id)
    figures = _scale(report_json(admin, survey.round_id)["table4"], scale.id)
    assert figures["n"] == 6
    assert figures["alpha"] is None and figures["alpha_ci"] is None, figures["alpha"]


@pytest.mark.xfail(
    strict=True,
    reason=(
        "LEAK: the analysts' reliability (and omega, factor) of chosen items and rounds needs "
        "only 3 listwise respondents, not each round's threshold: one round's 3 people who "
        "answered every chosen item get their item means and SDs published (round=ID, "
        "missing=listwise). A floor on the total is not enough: the analyst chooses the "
        "rounds, so round=A against round=A&round=B isolates B's contribution, which may be "
        "one complete case. Each round must contribute none or at least its threshold of the "
        "respondents actually used (listwise rows; pairwise, every pair's overlap)."
    ),
)
def test_analyst_reliability_of_one_round_uses_at_least_k_people(
    admin: TestClient, session: Session, make_round: Callable[..., SurveySetUp]
) -> None:
    instrument = instrument_named("trustworthy-collaboration")
    scale = next(s for s in instrument.scales if len(s.items) == 3 and s.required_answers == 2)
    survey = make_round(opens_in_days=-40, closes_in_days=-10)
    background = {"organisation_type": "acute-trust", "professional_role": "management"}
    complete = [
        (dict.fromkeys(instrument.item_ids, 4) | dict(zip(scale.items, v, strict=True)), background)
        for v in ((1, 2, 2), (4, 5, 4), (2, 2, 3))
    ]
    partial = dict.fromkeys(instrument.item_ids, 3)
    partial.pop(scale.items[-1])
    people = [*complete, *[(partial | {scale.items[0]: v}, background) for v in (1, 2, 4)]]
    _submit(session, survey.round_id, instrument.version, people)
    query = "&".join(f"item={i}" for i in scale.items)
    answer = admin.get(f"/api/v1/analyst/reliability?{query}&round={survey.round_id}")
    if answer.status_code == 422:
        return  # refused: too few people
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["n"] >= K, body
