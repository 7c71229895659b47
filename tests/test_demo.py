"""The demo data set reproduces the report's published marginals (Tables 3-6)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from analysis.demo import (
    demo_csv_text,
    demo_responses,
    raw_direction,
    table4_comparison,
    write_demo_csv,
)
from analysis.frequencies import spss_round
from analysis.instrument import load_instrument
from analysis.pilot import load_pilot
from analysis.reliability import cronbach_alpha
from analysis.responses import load_responses
from analysis.summary import partnership_kind_counts, table4

INSTRUMENT = load_instrument("trustworthy-collaboration")
PILOT = load_pilot()  # the default instrument's pilot: the report's published tables
BACKGROUND_COLUMNS = PILOT.background_columns
CARE_MODEL_COUNTS = PILOT.partnership_counts
ITEM_IDS = PILOT.instrument.item_ids
TABLE5_Q31 = PILOT.spec.frequencies["q31"]
TABLE6_Q30 = PILOT.spec.frequencies["q30"]
COMMITTED_CSV = Path(__file__).resolve().parents[1] / "demo" / "trustworthy-collaboration-demo.csv"


@pytest.fixture(scope="module")
def demo() -> pd.DataFrame:
    return demo_responses()


def _counts(values: pd.Series) -> dict[int, int]:
    return {int(v): int(n) for v, n in values.value_counts().sort_index().items()}


def test_the_default_pilot_is_the_reports() -> None:
    assert PILOT.instrument == INSTRUMENT
    assert PILOT.spec.respondents == 39 and PILOT.spec.seed == 2017
    assert BACKGROUND_COLUMNS == [
        "partnership_name",
        "care_model",
        "organisation_type",
        "professional_role",
    ]


def test_columns_and_types(demo: pd.DataFrame) -> None:
    assert list(demo.columns) == ["respondent", *BACKGROUND_COLUMNS, *ITEM_IDS]
    assert list(ITEM_IDS) == INSTRUMENT.item_ids
    assert demo["respondent"].tolist() == list(range(1, 40))
    for item in ITEM_IDS:
        assert demo[item].dtype == float
        answered = demo[item].dropna()
        assert answered.between(1, 5).all() and (answered % 1 == 0).all()
    for column in BACKGROUND_COLUMNS:
        assert demo[column].notna().all()


@pytest.mark.parametrize("seed", [2017, 1, 42, 123456])
def test_published_marginals_exact_for_any_seed(seed: int) -> None:
    demo = demo_responses(seed)
    assert len(demo) == 39
    assert demo["care_model"].value_counts().to_dict() == CARE_MODEL_COUNTS
    assert _counts(demo["q31"]) == TABLE5_Q31 == {2: 17, 3: 7, 4: 14, 5: 1}
    assert _counts(demo["q30"]) == TABLE6_Q30 == {1: 2, 2: 12, 3: 11, 4: 12, 5: 2}
    assert demo[["q30", "q31"]].notna().all().all()


def test_care_model_values_are_the_instruments_options() -> None:
    question = next(q for q in INSTRUMENT.background if q.id == "care_model")
    assert set(CARE_MODEL_COUNTS) <= {option.value for option in question.options}


def test_table3_counts_and_partnerships(demo: pd.DataFrame) -> None:
    table3 = partnership_kind_counts(demo, INSTRUMENT).set_index("kind")
    assert table3["responses"].to_dict() == {**CARE_MODEL_COUNTS, "other": 0, "total": 39}
    # Table 3's last column: Vanguards from which one or more responses were received.
    assert table3["partnerships"].to_dict() == {
        "acute-care-collaborations": 5,
        "enhanced-health-in-care-homes": 3,
        "integrated-primary-and-acute-care-systems": 2,
        "multispecialty-community-providers": 6,
        "urgent-and-emergency-care": 3,
        "other": 0,
        "total": 19,
    }


def test_background_roles_and_options(demo: pd.DataFrame) -> None:
    assert demo["professional_role"].value_counts().to_dict() == {
        "management": 28,
        "medical": 8,
        "other": 3,
    }
    options = {q.id: {o.value for o in q.options} for q in INSTRUMENT.background if q.options}
    for column, allowed in options.items():
        assert set(demo[column]) <= allowed
    assert (demo["partnership_name"].value_counts() >= 5).sum() >= 2


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    pd.testing.assert_frame_equal(demo_responses(7), demo_responses(7))
    assert not demo_responses(7).equals(demo_responses(8))


def test_table4_as_printed_in_the_raw_direction(demo: pd.DataFrame) -> None:
    summary = table4(demo, raw_direction(INSTRUMENT))
    assert len(summary.scales) == 11
    for scale in summary.scales:
        published = INSTRUMENT.scale(scale.scale_id).benchmark
        assert published is not None
        for figure, value in (
            ("mean", scale.mean),
            ("median", scale.median),
            ("mode", scale.mode),
        ):
            assert spss_round(value, 1) == spss_round(getattr(published, figure), 1), (
                scale.scale_id,
                figure,
            )
        assert not scale.multiple_modes, scale.scale_id
        if published.alpha is None:
            assert scale.alpha is None
        else:
            assert scale.alpha is not None
            assert spss_round(scale.alpha, 3) == spss_round(published.alpha, 3), scale.scale_id


def test_table4_in_the_scales_direction_restates_inter_org_trust(demo: pd.DataFrame) -> None:
    inter_org = table4(demo, INSTRUMENT).scales[-1]
    assert inter_org.scale_id == "inter_organisational_trust"
    assert spss_round(inter_org.mean, 1) == "3.3"  # 6 - 2.7


def test_single_item_marginals_follow_the_wider_picture(demo: pd.DataFrame) -> None:
    q52 = demo["q52"]
    assert (q52 <= 2).sum() == 18  # around 46% had not formalised
    assert (q52 >= 4).sum() == 11  # just under 30% had
    assert (q52 == 3).sum() == 10  # the rest unsure
    assert demo["q19"].isna().sum() == 1  # median 4.5 needs an even n


def test_dropped_item_lowers_alpha(demo: pd.DataFrame) -> None:
    """The report kept four of Krishnan et al.'s five items because alpha improved."""
    four = cronbach_alpha(demo[["q29", "q30", "q31", "q33"]].rsub(6))
    five = cronbach_alpha(demo[["q29", "q30", "q31", "q32", "q33"]].rsub(6))
    assert five.alpha < four.alpha
    q32 = next(item for item in five.items if item.item == "q32")
    assert q32.alpha_if_deleted is not None and q32.alpha_if_deleted > five.alpha


def test_a_few_missing_answers_never_on_q30_q31(demo: pd.DataFrame) -> None:
    missing = demo[list(ITEM_IDS)].isna().sum()
    assert 3 <= missing.sum() <= 8
    assert missing["q30"] == missing["q31"] == 0
    assert table4(demo, INSTRUMENT).scales[-1].n == 39  # every Inter-Org score computable


def test_csv_round_trip_and_committed_copy(tmp_path: Path, demo: pd.DataFrame) -> None:
    path = write_demo_csv(tmp_path / "demo.csv")
    loaded = load_responses(path, INSTRUMENT)
    pd.testing.assert_frame_equal(loaded, demo, check_dtype=False)
    assert COMMITTED_CSV.read_text(encoding="utf-8") == demo_csv_text()


def test_comparison_lists_every_scale(demo: pd.DataFrame) -> None:
    lines = table4_comparison(demo).splitlines()
    assert len(lines) == 12
    assert lines[-1].split()[-6:] == ["2.7", "(2.7)", "2.7", "(2.7)", "2.8", "(2.8)"]
    assert not any("*" in line for line in lines)


def test_no_nan_in_background(demo: pd.DataFrame) -> None:
    for column in BACKGROUND_COLUMNS:
        assert all(isinstance(value, str) for value in demo[column])
    assert not any(isinstance(v, float) and math.isnan(v) for v in demo["care_model"])
