"""Reverse-keying and composite scale scores.

A composite scale score is the mean of the answered items of the scale, after
reverse-keying the items the instrument marks as negatively worded, provided
that at least ``Scale.required_answers`` items were answered (by default half
of the scale's items, rounded up); otherwise the score is missing.

.. math::

    x^{\\text{keyed}} = (\\min + \\max) - x \\qquad
    S_j = \\frac{1}{|A_j|} \\sum_{i \\in A_j} x^{\\text{keyed}}_{ij}
    \\quad \\text{if } |A_j| \\ge m

where :math:`A_j` is the set of items respondent :math:`j` answered and
:math:`m` the scale's minimum.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

from analysis.instrument import Instrument, Scale

Answers = TypeVar("Answers", pd.Series, pd.DataFrame)


def reverse_key(values: Answers, scale_min: float, scale_max: float) -> Answers:
    """Reverse-key answers on a ``scale_min``..``scale_max`` scale.

    Parameters
    ----------
    values : pandas.Series or pandas.DataFrame
        Numeric answers; missing answers stay missing.
    scale_min, scale_max : float
        The lowest and highest possible answers (1 and 5 on the agreement scale).

    Returns
    -------
    Same type as ``values``: ``scale_min + scale_max - values``. Applying it
    twice gives back the original answers.
    """
    if scale_min >= scale_max:
        raise ValueError(f"scale_min ({scale_min}) must be below scale_max ({scale_max})")
    return (scale_min + scale_max) - values


def item_columns(responses: pd.DataFrame, instrument: Instrument) -> list[str]:
    """The instrument's item ids present in ``responses``, in instrument order."""
    return [item_id for item_id in instrument.item_ids if item_id in responses.columns]


def keyed_items(responses: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Item answers with reverse-keyed items flipped, as floats.

    Parameters
    ----------
    responses : pandas.DataFrame
        One row per respondent; item ids as columns (others are ignored).
    instrument : Instrument
        Says which items are reverse-keyed and on which response scale.

    Returns
    -------
    pandas.DataFrame
        Only the item columns, in instrument order, reverse-keyed where the
        instrument says so.
    """
    columns = item_columns(responses, instrument)
    keyed = responses[columns].astype(float)
    for item_id in columns:
        if instrument.item(item_id).reverse_keyed:
            response_scale = instrument.response_scale_of(item_id)
            keyed[item_id] = reverse_key(keyed[item_id], response_scale.min, response_scale.max)
    return keyed


def score_scale(items: pd.DataFrame, min_answered: int) -> pd.Series:
    """Mean of each row's answered items, or missing when fewer than ``min_answered``.

    Parameters
    ----------
    items : pandas.DataFrame
        The scale's (already keyed) item columns.
    min_answered : int
        Fewest answered items for a score.
    """
    if min_answered < 1:
        raise ValueError(f"min_answered must be at least 1, got {min_answered}")
    if min_answered > items.shape[1]:
        raise ValueError(
            f"min_answered ({min_answered}) exceeds the number of items ({items.shape[1]})"
        )
    answers = items.to_numpy(dtype=float)
    given = ~np.isnan(answers)
    answered = given.sum(axis=1)
    totals = np.where(given, answers, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(answered >= min_answered, totals / answered, np.nan)
    return pd.Series(scores, index=items.index)


def scale_items(responses: pd.DataFrame, instrument: Instrument, scale: Scale) -> pd.DataFrame:
    """The keyed answers to one scale's items, raising if a column is absent."""
    missing = [item_id for item_id in scale.items if item_id not in responses.columns]
    if missing:
        raise ValueError(f"scale {scale.id} needs the columns {', '.join(missing)}")
    return keyed_items(responses[scale.items], instrument)


def scale_scores(responses: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Composite scores of every scale of the instrument.

    Returns
    -------
    pandas.DataFrame
        One column per scale id (instrument order), indexed like ``responses``;
        a score is missing where the respondent answered too few of its items.
    """
    keyed = keyed_items(responses, instrument)
    scores: dict[str, pd.Series] = {}
    for scale in instrument.scales:
        missing = [item_id for item_id in scale.items if item_id not in keyed.columns]
        if missing:
            raise ValueError(f"scale {scale.id} needs the columns {', '.join(missing)}")
        scores[scale.id] = score_scale(keyed[scale.items], scale.required_answers)
    return pd.DataFrame(scores, index=responses.index)
