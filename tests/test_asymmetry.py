"""The asymmetry view: gaps against a computation by hand, and the subtraction attacks.

An insider reads every published figure of a round: the whole round's Table 4, and every gap
with its group's and the rest's scores and sizes. The attacks try to work out a hidden group,
or one person, by subtraction; the span test is exhaustive: a set of respondents can be read
off the published means exactly when its indicator vector is a linear combination of the
published sets' indicators, so no hidden group and no single respondent may be in that span.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.asymmetry import AsymmetryView, asymmetry_view, asymmetry_views
from analysis.disclosure import NOT_STATED
from analysis.instrument import Instrument, load_instrument

INSTRUMENT = load_instrument("trustworthy-collaboration")
QUESTION = next(q for q in INSTRUMENT.background if q.id == "organisation_type")
K = 5


def _round(sizes: dict[str | None, int], seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    groups: list[str | None] = [g for g, n in sizes.items() for _ in range(n)]
    n = len(groups)
    scores = pd.DataFrame(
        {s.id: rng.integers(1, 6, size=n) + rng.random(n) for s in INSTRUMENT.scales}
    )
    return scores, pd.Series(groups, dtype=object)


def test_gap_is_the_group_minus_everyone_else_with_welch_interval() -> None:
    scores, groups = _round({"acute-trust": 7, "local-authority": 6, "primary-care": 2, None: 1})
    view = asymmetry_view(scores, groups, QUESTION, INSTRUMENT, K)
    scale = "inter_individual_trust"
    column = scores[scale].to_numpy()
    inside = column[(groups == "acute-trust").to_numpy()]
    outside = column[(groups != "acute-trust").to_numpy()]  # local authority, primary care, None
    assert outside.size == 9
    cell = view.cell(scale, "acute-trust")
    assert cell is not None and cell.shown and cell.gap is not None
    assert cell.gap.value == pytest.approx(inside.mean() - outside.mean(), abs=1e-12)
    assert (cell.group_score, cell.other_score) == pytest.approx((inside.mean(), outside.mean()))
    welch = stats.ttest_ind(inside, outside, equal_var=False).confidence_interval(0.95)
    assert cell.gap.interval == pytest.approx((welch.low, welch.high), abs=1e-9)
    assert cell.clear == (welch.low > 0 or welch.high < 0)
    # Primary care (2) is below the threshold; the not-stated respondent (1) too; together 3,
    # so local authority (6) is hidden with them: the hidden groups hold 9 >= 5 people.
    assert not view.cell(scale, "primary-care").shown  # type: ignore[union-attr]
    assert not view.cell(scale, NOT_STATED).shown  # type: ignore[union-attr]
    hidden = view.cell(scale, "local-authority")
    assert hidden is not None and not hidden.shown and hidden.reason == "complementary"
    assert hidden.gap is None and hidden.group_score is None and hidden.other_score is None


def _published_sets(
    view: AsymmetryView, scores: pd.DataFrame, groups: pd.Series, scale: str
) -> list[np.ndarray]:
    """Indicator vectors of every set whose mean the report publishes for ``scale``."""
    stated = groups.astype(object).where(groups.notna(), NOT_STATED)
    scored = scores[scale].notna().to_numpy()
    published = [scored.astype(float)]  # the whole round's Table 4
    for cell in view.cells:
        if cell.scale_id != scale or not cell.shown:
            continue
        inside = (stated == cell.group).to_numpy() & scored
        published.append(inside.astype(float))
        if view.comparison == "largest":
            other = (stated == largest_option(view)).to_numpy() & scored
        else:
            other = scored & ~inside
            assert cell.n_group + cell.n_other == scored.sum()  # the exact complement
        published.append(other.astype(float))
        assert cell.n_group == inside.sum() and cell.n_other == other.sum()
    return published


def largest_option(view: AsymmetryView) -> str:
    instrument = _sized_instrument()
    question = next(q for q in instrument.background if q.id == view.question_id)
    return question.options[-1].value


def _in_span(vectors: list[np.ndarray], target: np.ndarray) -> bool:
    basis = np.vstack(vectors)
    return bool(np.linalg.matrix_rank(np.vstack([basis, target])) == np.linalg.matrix_rank(basis))


def _assert_nothing_small_is_derivable(
    views: list[AsymmetryView], scores: pd.DataFrame, groups: pd.Series
) -> None:
    stated = groups.astype(object).where(groups.notna(), NOT_STATED)
    for scale in scores.columns:
        scored = scores[scale].notna().to_numpy()
        vectors = [v for view in views for v in _published_sets(view, scores, groups, scale)]
        for person in np.flatnonzero(scored):
            single = np.zeros(len(scores))
            single[person] = 1.0
            assert not _in_span(vectors, single), (scale, person)
        for group in set(stated):
            members = (stated == group).to_numpy() & scored
            if 0 < members.sum() < K:
                assert not _in_span(vectors, members.astype(float)), (scale, group)


@pytest.mark.parametrize(
    "sizes",
    [
        {"acute-trust": 9, "commissioner": 8, "voluntary-sector": 2, "ambulance-trust": 1},
        {"acute-trust": 6, "local-authority": 5, None: 1},  # one person did not answer
        {"acute-trust": 5, "local-authority": 5, "primary-care": 5, None: 4},
        {"acute-trust": 12, "local-authority": 4},  # the only other group is too small
    ],
)
def test_no_hidden_group_or_person_can_be_subtracted(sizes: dict[str | None, int]) -> None:
    scores, groups = _round(sizes)
    view = asymmetry_view(scores, groups, QUESTION, INSTRUMENT, K)
    _assert_nothing_small_is_derivable([view], scores, groups)


def test_rest_includes_those_who_did_not_answer() -> None:
    # The attack on a naive "rest" (everyone else who answered the question): whole - group -
    # rest would be the one respondent who left the question blank.
    scores, groups = _round({"acute-trust": 6, "local-authority": 6, None: 1})
    view = asymmetry_view(scores, groups, QUESTION, INSTRUMENT, K)
    for cell in view.cells:
        if cell.shown:
            assert cell.n_group + cell.n_other == 13
    # With the lone non-answerer, one of the two groups must be hidden with them.
    shown = {c.group for c in view.cells if c.shown}
    assert len(shown) <= 1
    _assert_nothing_small_is_derivable([view], scores, groups)


def test_a_group_is_suppressed_scale_by_scale_when_answers_are_missing() -> None:
    # Local authority has 5 respondents, but one left every Competition item blank: on that
    # scale it is a group of 4, which whole - rest would give away.
    scores, groups = _round({"acute-trust": 8, "local-authority": 5, "commissioner": 6})
    scores.loc[9, "competition"] = np.nan  # row 9 is a local-authority respondent
    assert groups[9] == "local-authority"
    view = asymmetry_view(scores, groups, QUESTION, INSTRUMENT, K)
    assert view.cell("inter_individual_trust", "local-authority").shown  # type: ignore[union-attr]
    cell = view.cell("competition", "local-authority")
    assert cell is not None and not cell.shown and cell.n_group == 4
    _assert_nothing_small_is_derivable([view], scores, groups)


def _sized_instrument() -> Instrument:
    document = INSTRUMENT.model_dump(mode="json")
    document["background"].append(
        {
            "id": "organisation_size",
            "text": "How many staff does your organisation employ?",
            "kind": "choice",
            "short_name": "organisation size",
            "asymmetry": {"kinds": ["dominance"], "organisation_size": True},
            "options": [
                {"value": "small", "label": "Fewer than 250"},
                {"value": "medium", "label": "250 to 2,500"},
                {"value": "large", "label": "More than 2,500"},
            ],
        }
    )
    document["sections"][0]["background"].append("organisation_size")
    return Instrument.model_validate(document)


def test_smaller_partners_against_the_largest_when_the_instrument_marks_size() -> None:
    instrument = _sized_instrument()
    rng = np.random.default_rng(1)
    groups = pd.Series(["small"] * 6 + ["medium"] * 7 + ["large"] * 8, dtype=object)
    scores = pd.DataFrame({s.id: rng.random(21) * 4 + 1 for s in instrument.scales})
    views = asymmetry_views(scores, {"organisation_size": groups}, instrument, K)
    assert [v.comparison for v in views] == ["rest", "largest"]
    largest = views[1]
    assert [g for g, _ in largest.groups] == ["small", "medium"]
    cell = largest.cell("competition", "small")
    assert cell is not None and cell.shown and cell.gap is not None
    column = scores["competition"]
    expected = column[groups == "small"].mean() - column[groups == "large"].mean()
    assert cell.gap.value == pytest.approx(expected)
    assert cell.n_other == 8
    # Every set published by both views together still leaves no one derivable.
    _assert_nothing_small_is_derivable(views, scores, groups)


def test_two_questions_together_never_give_away_fewer_than_k() -> None:
    # The cross-question attack: every medical respondent works in an acute trust. The files'
    # classes (acute-medical 5, acute-management 5, council-management 5) are k-anonymous, but
    # one acute manager left Competition blank: on that scale "acute" (9) minus "medical" (5)
    # is four people, though each question on its own hides nothing.
    from analysis.asymmetry import asymmetry_views

    rng = np.random.default_rng(8)
    org = pd.Series(["acute-trust"] * 10 + ["local-authority"] * 5, dtype=object)
    role = pd.Series(["medical"] * 5 + ["management"] * 10, dtype=object)
    scores = pd.DataFrame({s.id: rng.random(15) * 4 + 1 for s in INSTRUMENT.scales})
    scores.loc[7, "competition"] = np.nan  # an acute manager
    published = {"organisation_type": org, "professional_role": role}
    views = asymmetry_views(scores, published, INSTRUMENT, K)
    by_type, by_role = views
    assert by_type.cell("competition", "acute-trust").shown is False  # type: ignore[union-attr]
    assert by_role.cell("competition", "medical").shown is False  # type: ignore[union-attr]
    assert by_type.cell("inter_individual_trust", "acute-trust").shown  # type: ignore[union-attr]
    # The exhaustive check over both questions' published sets together, scale by scale.
    for scale in scores.columns:
        scored = scores[scale].notna().to_numpy()
        vectors = [scored.astype(float)]
        for view, groups in ((by_type, org), (by_role, role)):
            vectors += _published_sets(view, scores, groups, scale)[1:]
        for person in np.flatnonzero(scored):
            single = np.zeros(15)
            single[person] = 1.0
            assert not _in_span(vectors, single), (scale, person)
        four = ((org == "acute-trust") & (role == "management")).to_numpy() & scored
        if four.sum() < K:
            assert not _in_span(vectors, four.astype(float)), scale
