"""Change in a scale's mean score between two rounds, with a confidence interval.

Responses are anonymous, so the two rounds are independent samples (the same
leader cannot be linked across rounds). The difference of means
:math:`d = \\bar x_2 - \\bar x_1` gets Welch's interval, which does not assume
equal variances:

.. math::

    d \\pm t_{1 - \\gamma/2,\\,\\nu} \\sqrt{\\frac{s_1^2}{n_1} + \\frac{s_2^2}{n_2}},
    \\qquad
    \\nu = \\frac{(s_1^2/n_1 + s_2^2/n_2)^2}
                {\\frac{(s_1^2/n_1)^2}{n_1 - 1} + \\frac{(s_2^2/n_2)^2}{n_2 - 1}}

When both rounds' scores have no variance the standard error is zero and the
interval is undefined: R's ``t.test`` refuses ("data are essentially
constant"), and so does :func:`welch_interval` (``None``, with
:data:`NO_VARIANCE` as the change's note), never a zero-width interval called
a clear change.

Reference: Welch, B. L. (1947). The generalization of "Student's" problem when
several different population variances are involved. *Biometrika*, 34, 28-35.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from scipy.stats import t as t_distribution

from analysis.instrument import Instrument

NO_VARIANCE = (
    "no interval: the scores vary in neither round (standard error 0; R's t.test refuses "
    "such data as essentially constant)"
)
TOO_FEW = "no interval: a round has fewer than 2 scores"


@dataclass(frozen=True)
class ScaleChange:
    """The change of one scale's mean from the previous round to this one."""

    scale_id: str
    previous_mean: float
    current_mean: float
    difference: float
    ci: tuple[float, float] | None
    previous_n: int
    current_n: int
    confidence: float
    note: str | None = None

    @property
    def clear(self) -> bool:
        """True when the interval excludes zero (a change beyond sampling noise)."""
        return self.ci is not None and (self.ci[0] > 0 or self.ci[1] < 0)

    def to_dict(self) -> dict[str, object]:
        return {
            "scale_id": self.scale_id,
            "previous_mean": self.previous_mean,
            "current_mean": self.current_mean,
            "difference": self.difference,
            "ci": list(self.ci) if self.ci else None,
            "previous_n": self.previous_n,
            "current_n": self.current_n,
            "confidence": self.confidence,
            "clear": self.clear,
            "note": self.note,
        }


def welch_interval(
    previous: pd.Series, current: pd.Series, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Welch's interval for ``mean(current) - mean(previous)``.

    Returns
    -------
    tuple of float or None
        ``None`` when undefined: fewer than two scores in a round, or no variance in
        either round (zero standard error, which R's ``t.test`` refuses).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    a = previous.dropna().astype(float)
    b = current.dropna().astype(float)
    if a.size < 2 or b.size < 2:
        return None
    va = float(a.var(ddof=1)) / a.size
    vb = float(b.var(ddof=1)) / b.size
    standard_error = math.sqrt(va + vb)
    difference = float(b.mean() - a.mean())
    if not standard_error > 0:
        return None
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    margin = float(t_distribution.ppf(1 - (1 - confidence) / 2, dof)) * standard_error
    return (difference - margin, difference + margin)


def comparable_scales(previous: Instrument, current: Instrument) -> list[str]:
    """The scales two instrument versions share: same id, same items (each with the same
    response scale range and keying), so that their scores mean the same thing.

    A new version that adds, drops or rewords the make-up of a scale leaves it out of the
    change over rounds; the others are compared.
    """
    shared: list[str] = []
    for scale in current.scales:
        try:
            before = previous.scale(scale.id)
        except KeyError:
            continue
        if sorted(before.items) != sorted(scale.items):
            continue
        alike = True
        for item_id in scale.items:
            try:
                old, new = previous.item(item_id), current.item(item_id)
            except KeyError:
                alike = False
                break
            old_scale = previous.response_scale_of(item_id)
            new_scale = current.response_scale_of(item_id)
            if (old.reverse_keyed, old_scale.min, old_scale.max) != (
                new.reverse_keyed,
                new_scale.min,
                new_scale.max,
            ):
                alike = False
                break
        if alike:
            shared.append(scale.id)
    return shared


def scale_changes(
    previous_scores: pd.DataFrame, current_scores: pd.DataFrame, confidence: float = 0.95
) -> list[ScaleChange]:
    """Change of every scale present in both rounds' score tables.

    Parameters
    ----------
    previous_scores, current_scores : pandas.DataFrame
        Composite scores (:func:`analysis.scoring.scale_scores`), one column per
        scale.
    """
    changes: list[ScaleChange] = []
    for scale_id in current_scores.columns:
        if scale_id not in previous_scores.columns:
            continue
        before = previous_scores[scale_id].dropna()
        after = current_scores[scale_id].dropna()
        if before.empty or after.empty:
            continue
        interval = welch_interval(before, after, confidence)
        note = None
        if interval is None:
            note = TOO_FEW if min(before.size, after.size) < 2 else NO_VARIANCE
        changes.append(
            ScaleChange(
                scale_id=str(scale_id),
                previous_mean=float(before.mean()),
                current_mean=float(after.mean()),
                difference=float(after.mean() - before.mean()),
                ci=interval,
                previous_n=int(before.size),
                current_n=int(after.size),
                confidence=confidence,
                note=note,
            )
        )
    return changes
