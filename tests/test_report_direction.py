"""One direction everywhere: every scale's sentence, table cells and JSON show the same
favourable-keyed figure, for every scale of every bundled instrument (a property test), and
cautions are true of the figure as shown."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.instrument import Instrument, bundled_instruments, load_instrument
from analysis.reading import read_table4, scale_cautions
from analysis.report_tables import format_number, scores_table, table4_table
from analysis.summary import table4

INSTRUMENTS = {name: load_instrument(name) for name in bundled_instruments()}


def _answers(instrument: Instrument, data: st.DataObject) -> pd.DataFrame:
    n = data.draw(st.integers(min_value=2, max_value=25), label="respondents")
    seed = data.draw(st.integers(min_value=0, max_value=2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    columns = {}
    for item in instrument.items:
        scale = instrument.response_scales[item.response_scale]
        values = rng.integers(scale.min, scale.max + 1, size=n).astype(float)
        values[rng.random(n) < 0.1] = np.nan
        columns[item.id] = values
    return pd.DataFrame(columns)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(INSTRUMENTS)), data=st.data())
def test_every_sentence_quotes_the_figure_its_tables_show(name: str, data: st.DataObject) -> None:
    instrument = INSTRUMENTS[name]
    summary = table4(_answers(instrument, data), instrument)
    printed = table4_table(summary, instrument)
    scores = scores_table(summary, instrument)
    readings = {r.scale_id: r for r in read_table4(summary, instrument)}
    as_json = {row["key"]: row for row in scores.to_json()["rows"]}
    for s in summary.scales:
        scale = instrument.scale(s.scale_id)
        response_scale = instrument.response_scale_of(scale.items[0])
        reading = readings[s.scale_id]
        shown = printed.formatted(s.scale_id, "score")
        assert scores.formatted(s.scale_id, "score").split(" (")[0] == shown
        assert as_json[s.scale_id]["text"]["score"].split(" (")[0] == shown
        if not math.isfinite(s.score):
            assert shown == "-" and reading.sentence is None
            continue
        # The sentence quotes the table's figure, and says which way is better.
        assert reading.sentence is not None
        assert reading.sentence.startswith(f"Score {shown}")
        assert "where higher is better" in reading.sentence
        if reading.benchmark_sentence:
            assert reading.benchmark_sentence.startswith(f"Score {shown} ")
        # Its band is the band of the figure as shown.
        band = instrument.band_for(float(shown), instrument.response_scale_id_of_scale(scale.id))
        assert reading.band_label == (band.label if band else None)
        # High is favourable: the printed (raw) mean is flipped exactly when agreeing with
        # the scale's statements is unfavourable.
        keyed = {instrument.item(i).reverse_keyed for i in scale.items}
        assert s.as_printed is not None
        if len(keyed) == 1:
            agreeing_is_good = (not keyed.pop()) == (scale.favourable == "high")
            reflect = response_scale.min + response_scale.max
            expected = s.as_printed.mean if agreeing_is_good else reflect - s.as_printed.mean
            assert s.score == expected or math.isclose(s.score, expected, abs_tol=1e-9)
        # A verdict is never a difference inside the interval.
        if reading.verdict in {"higher", "lower"}:
            assert s.score_ci is not None and s.benchmark and s.benchmark.score is not None
            low, high = s.score_ci
            assert not low <= s.benchmark.score <= high
        if s.score_ci:
            assert s.score_ci[0] <= s.score <= s.score_ci[1]


def _summary(alpha: float | None, items: int = 2) -> object:
    instrument = INSTRUMENTS["trustworthy-collaboration"]
    frame = pd.DataFrame(
        {i: [1.0, 2.0, 3.0, 4.0, 5.0] for i in instrument.item_ids}
    )  # every scale scored
    summary = table4(frame, instrument).scales[0]
    return dataclasses.replace(summary, alpha=alpha, items=summary.items[:items])


def test_alpha_cautions_compare_the_figure_as_shown() -> None:
    shown_as_floor = scale_cautions(_summary(0.6996))  # type: ignore[arg-type]
    assert shown_as_floor == []  # shown as 0.700: never "0.700, below 0.70"
    below = scale_cautions(_summary(0.6949))  # type: ignore[arg-type]
    assert below == [
        "Cronbach's alpha is 0.695, below 0.70: the items may not measure one thing, so read "
        "them one by one."
    ]
    negative = scale_cautions(_summary(-16.0))  # type: ignore[arg-type]
    assert len(negative) == 1 and negative[0].startswith("Cronbach's alpha is -16.000, below zero")
    assert "disagree with each other more than they agree" in negative[0]
    near_zero = scale_cautions(_summary(-0.0004))  # type: ignore[arg-type]
    assert near_zero[0].startswith("Cronbach's alpha is 0.000, below 0.70")  # never "-0.000"
    for alpha in (0.0, 0.5, 0.69, 0.7, 0.85):
        for caution in scale_cautions(_summary(alpha)):  # type: ignore[arg-type]
            shown = caution.split("alpha is ")[1].split(",")[0]
            assert shown == format_number(alpha, 3) and float(shown) < 0.7
