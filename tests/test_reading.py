"""Plain readings: bands in the favourable direction, benchmark sentences, cautions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.instrument import load_instrument
from analysis.reading import ScaleReading, band_advice, read_table4, round_cautions
from analysis.summary import table4, trust_profile

INSTRUMENT = load_instrument("trustworthy-collaboration")


@pytest.fixture
def responses() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        rng.integers(1, 6, size=(25, 22)).astype(float), columns=INSTRUMENT.item_ids
    )
    frame[["q10", "q11"]] = 5.0  # strong competition
    frame.loc[0, ["q11"]] = 4.0
    frame[["q26", "q27", "q28"]] = 4.5
    frame.loc[0, "q26"] = 4.0
    frame.loc[:9, ["q29", "q30", "q31", "q33"]] = np.nan  # 10 of 25 cannot be scored
    return frame


def test_readings(responses: pd.DataFrame) -> None:
    readings = {r.scale_id: r for r in read_table4(table4(responses, INSTRUMENT), INSTRUMENT)}
    competition = readings["competition"]
    assert competition.band_id == "concern"
    assert competition.favourable_mean == pytest.approx(
        6 - responses[["q10", "q11"]].mean(axis=1).mean()
    )
    assert competition.benchmark_sentence == (
        f"Score {competition.score_text} against the 2017 figure of 2.8 (a 39-person pilot): "
        "worse than 2017."
    )  # 6 - 3.2: Competition's 2017 mean restated so that higher is better
    assert readings["inter_individual_trust"].band_id == "strength"
    assert readings["inter_individual_trust"].stage_name == "Collaboration-based trust"
    org = readings["inter_organisational_trust"]
    assert any("10 of 25 respondents answered too few" in c for c in org.cautions)
    assert org.stage_recommendations


def test_low_alpha_caution() -> None:
    rng = np.random.default_rng(9)
    frame = pd.DataFrame(
        rng.integers(1, 6, size=(200, 22)).astype(float), columns=INSTRUMENT.item_ids
    )
    readings = {r.scale_id: r for r in read_table4(table4(frame, INSTRUMENT), INSTRUMENT)}
    cautions = readings["integrity_behaviours"].cautions
    assert any("below 0.70" in c or "below zero" in c for c in cautions)
    assert readings["aligned_interests"].cautions == ()


def test_round_cautions() -> None:
    assert "39 responses" in round_cautions(12)[0]
    assert round_cautions(40) == []


def test_trust_profile_has_four_pillars_and_two_levels(responses: pd.DataFrame) -> None:
    bars = trust_profile(table4(responses, INSTRUMENT), INSTRUMENT)
    assert [b.label for b in bars] == [
        "Ability",
        "Benevolence",
        "Integrity",
        "Predictability",
        "Inter-individual trust",
        "Inter-organisational trust",
    ]
    assert all(1 <= b.mean <= 5 for b in bars)


def test_the_shown_reading_names_its_band_once() -> None:
    """The report prints the band's tag, then this sentence: "Borderline Score 3.58 (...),
    where higher is better: Borderline. Borderline; worth discussing together." said the
    band three times."""
    assert band_advice("Borderline", "Borderline; worth discussing together.") == (
        "Worth discussing together."
    )
    assert band_advice("Concern", "A concern that the partnership should address.") == (
        "A concern that the partnership should address."
    )
    assert band_advice("Strength", "Strength.") is None
    assert band_advice("In place", None) is None
    reading = ScaleReading(
        scale_id="s",
        name="Scale",
        favourable_mean=3.58,
        band_id="borderline",
        band_label="Borderline",
        band_meaning="Borderline; worth discussing together.",
        benchmark_sentence=None,
        guidance=None,
        stage_name=None,
        stage_recommendations=(),
        cautions=(),
        score_text="3.58",
        interval_text="3.24 to 3.91",
        sentence="Score 3.58 (95% CI 3.24 to 3.91), where higher is better: Borderline.",
    )
    assert reading.shown_sentence == (
        "Score 3.58 (95% CI 3.24 to 3.91), where higher is better. Worth discussing together."
    )


def test_the_readings_sentence_keeps_its_band_for_the_json(responses: pd.DataFrame) -> None:
    readings = read_table4(table4(responses, INSTRUMENT), INSTRUMENT)
    for reading in readings:
        assert reading.sentence is not None and reading.shown_sentence is not None
        assert reading.sentence.endswith(f": {reading.band_label}.")
        assert reading.band_label not in reading.shown_sentence.split(". ")[0]
