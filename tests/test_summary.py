"""Table 4, the benchmark's direction, Table 3 counts and grouped tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.descriptives import describe
from analysis.instrument import load_instrument
from analysis.reliability import cronbach_alpha
from analysis.report_files import table3_if_present
from analysis.summary import (
    benchmark_in_scale_direction,
    grouped_table4,
    partnership_kind_counts,
    table4,
)

INSTRUMENT = load_instrument("trustworthy-collaboration")


@pytest.fixture
def responses() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    latent = rng.normal(size=(60, 1))
    answers = np.clip(np.rint(3 + latent + rng.normal(scale=0.8, size=(60, 22))), 1, 5)
    frame = pd.DataFrame(answers, columns=INSTRUMENT.item_ids)
    frame.loc[3, "q30"] = math.nan
    frame["care_model"] = ["acute-care-collaborations"] * 20 + ["other"] * 40
    frame["partnership_name"] = ["North"] * 10 + ["South"] * 10 + ["East"] * 40
    frame["professional_role"] = ["management"] * 45 + ["medical"] * 15
    return frame


def test_table4_rows_follow_the_instrument_and_agree_with_the_parts(
    responses: pd.DataFrame,
) -> None:
    summary = table4(responses, INSTRUMENT)
    assert [s.name for s in summary.scales] == [s.name for s in INSTRUMENT.scales]
    trust = next(s for s in summary.scales if s.scale_id == "inter_organisational_trust")
    keyed = 6 - responses[["q29", "q30", "q31", "q33"]]
    assert trust.alpha == pytest.approx(cronbach_alpha(keyed, missing="listwise").alpha)
    expected = describe(keyed.mean(axis=1))
    assert (trust.mean, trust.median, trust.mode) == pytest.approx(
        (expected.mean, expected.median, expected.mode)
    )
    single = next(s for s in summary.scales if s.scale_id == "aligned_interests")
    assert single.alpha is None
    assert "-" in summary.to_frame().loc[4, "Cronbach's alpha"]
    assert summary.to_dict()["n"] == 60


def test_inter_org_benchmark_is_restated_in_the_trust_direction() -> None:
    comparison = benchmark_in_scale_direction(
        INSTRUMENT.scale("inter_organisational_trust"), INSTRUMENT
    )
    assert comparison is not None
    assert comparison.mean == pytest.approx(6 - 2.7)
    assert comparison.published_direction == "raw"
    competition = benchmark_in_scale_direction(INSTRUMENT.scale("competition"), INSTRUMENT)
    assert competition is not None
    assert competition.mean == pytest.approx(3.2)


def test_bands_use_the_favourable_direction(responses: pd.DataFrame) -> None:
    responses = responses.copy()
    responses[["q10", "q11"]] = 5.0  # heavy competition: a concern, not a strength
    responses[["q26", "q27", "q28"]] = 5.0
    rows = {s.scale_id: s for s in table4(responses, INSTRUMENT).scales}
    assert rows["competition"].band == "concern"
    assert rows["inter_individual_trust"].band == "strength"


def test_table3_counts_every_care_model(responses: pd.DataFrame) -> None:
    counts = partnership_kind_counts(responses, INSTRUMENT)
    assert counts["kind"].tolist()[-1] == "total"
    by_model = counts.set_index("kind")
    assert by_model.loc["acute-care-collaborations", "responses"] == 20
    assert by_model.loc["acute-care-collaborations", "partnerships"] == 2
    assert by_model.loc["urgent-and-emergency-care", "responses"] == 0
    assert by_model.loc["total", "responses"] == 60
    assert by_model.loc["total", "partnerships"] == 3


def test_table3_rejects_unknown_care_model(responses: pd.DataFrame) -> None:
    responses.loc[0, "care_model"] = "space-medicine"
    with pytest.raises(ValueError, match="space-medicine"):
        partnership_kind_counts(responses, INSTRUMENT)


def test_table3_follows_the_question_the_instrument_names() -> None:
    # The 2026.1 wording calls the partnership's kind another question: Table 3 and its
    # file heading follow the instrument, not a column name written in code.
    newer = load_instrument("trustworthy-collaboration@2026.1")
    attribute = newer.partnership_attribute
    assert attribute is not None and attribute != INSTRUMENT.partnership_attribute
    options = list(newer.choices(attribute))
    frame = pd.DataFrame(
        {
            attribute: [options[0]] * 3 + [options[1]] * 2,
            "partnership_name": ["North", "North", "West", "South", "South"],
        }
    )
    counts = partnership_kind_counts(frame, newer).set_index("kind")
    assert counts.loc[options[0], "responses"] == 3
    assert counts.loc[options[0], "partnerships"] == 2
    assert counts.loc["total", "responses"] == 5
    shown = table3_if_present(frame, newer)
    assert shown is not None
    name = newer.background_question(attribute).name
    assert shown.columns[0] == name[:1].upper() + name[1:]
    assert "care_model" not in frame.columns


def test_an_instrument_without_partnership_kinds_has_no_table3() -> None:
    self_check = load_instrument("partnership-self-check")
    assert self_check.partnership_attribute is None
    frame = pd.DataFrame({"partnership_name": ["North"]})
    assert table3_if_present(frame, self_check) is None
    with pytest.raises(ValueError, match="no partnership_attribute"):
        partnership_kind_counts(frame, self_check)


def test_grouped_table4_in_option_order(responses: pd.DataFrame) -> None:
    groups = grouped_table4(responses, INSTRUMENT, "professional_role")
    assert list(groups) == ["management", "medical"]
    assert groups["medical"].n_responses == 15
    with pytest.raises(ValueError, match="no column 'shoe_size'"):
        grouped_table4(responses, INSTRUMENT, "shoe_size")


def test_descriptives_smallest_mode_flagged() -> None:
    stats = describe(pd.Series([2.75, 2.75, 3.25, 3.25, 4.0, None]))
    assert (stats.mode, stats.multiple_modes) == (2.75, True)
    assert (stats.n_valid, stats.n_missing) == (5, 1)
    assert stats.sd == pytest.approx(pd.Series([2.75, 2.75, 3.25, 3.25, 4.0]).std())
    with pytest.raises(ValueError, match="'x' is not a number"):
        describe(pd.Series(["1", "x"]))
    empty = describe(pd.Series([None, None], dtype=float))
    assert math.isnan(empty.mean)
    assert empty.to_dict()["mean"] is None


def test_table4_heads_the_benchmark_with_the_instruments_label(responses: pd.DataFrame) -> None:
    relabelled = INSTRUMENT.model_copy(update={"benchmark_label": "Pilot"})
    frame = table4(responses, relabelled).to_frame()
    assert "Pilot mean (higher is better)" in frame.columns
    assert "Mean as the Pilot report printed it" in frame.columns
    assert not any("2017" in str(column) for column in frame.columns)
    heading = f"{INSTRUMENT.benchmark_name} mean (higher is better)"
    assert heading in table4(responses, INSTRUMENT).to_frame().columns
