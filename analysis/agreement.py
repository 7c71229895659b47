"""Agreement within groups (partnerships): rwg(j), ICC(1) and ICC(2).

Before a partnership's mean score is read as the partnership's view, its members should
agree more than chance and the partnerships should differ more than chance.

**rwg(j)** (James, Demaree and Wolf 1984) compares the mean of a group's item variances
:math:`\\bar s^2_x` (each with denominator :math:`n - 1`) with the variance expected if
everybody answered at random, the uniform null :math:`\\sigma^2_{EU} = (A^2 - 1)/12` for
:math:`A` answer options:

.. math::

    r_{wg(j)} = \\frac{J\\,(1 - \\bar s^2_x / \\sigma^2_{EU})}
                     {J\\,(1 - \\bar s^2_x / \\sigma^2_{EU}) + \\bar s^2_x / \\sigma^2_{EU}}

for :math:`J` items.  As R's ``multilevel::rwg.j``, respondents who left an item of the
scale unanswered are left out of that scale (listwise), and a mean variance above the null
is truncated to the null (:math:`r_{wg(j)} = 0`; James et al. 1984 recommend reading
such a value as no agreement), flagged as truncated.  A group with fewer than two complete
respondents has no rwg(j).

**ICC(1) and ICC(2)** (Bliese 2000) come from the one-way analysis of variance of
respondents' scale scores by group, with mean squares :math:`MS_B` (between groups,
:math:`G - 1` degrees of freedom) and :math:`MS_W` (within, :math:`N - G`), and the mean
group size :math:`\\bar k = N / G` as ``multilevel::ICC1`` uses:

.. math::

    \\mathrm{ICC}(1) = \\frac{MS_B - MS_W}{MS_B + (\\bar k - 1) MS_W},
    \\qquad
    \\mathrm{ICC}(2) = \\frac{MS_B - MS_W}{MS_B}.

ICC(1) is the share of a respondent's score variance due to the partnership; ICC(2) the
reliability of the partnership means.  Both are negative when the partnerships differ less
than chance; that is a figure, returned with a warning.

References
----------
James, L. R., Demaree, R. G. and Wolf, G. (1984). Estimating within-group interrater
reliability with and without response bias. *Journal of Applied Psychology*, 69, 85-98.

Bliese, P. D. (2000). Within-group agreement, non-independence, and reliability:
Implications for data aggregation and analysis. In K. J. Klein and S. W. Kozlowski (eds.),
*Multilevel theory, research, and methods in organizations*, 349-381. Jossey-Bass.

LeBreton, J. M. and Senter, J. L. (2008). Answers to 20 questions about interrater
reliability and interrater agreement. *Organizational Research Methods*, 11, 815-852.

Bliese, P. multilevel: Multilevel Functions, R package, functions ``rwg.j``, ``ICC1``
and ``ICC2``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from analysis.frequencies import spss_round


def uniform_null_variance(options: int) -> float:
    """The variance of answers chosen uniformly at random from ``options`` points.

    Parameters
    ----------
    options : int
        Number of answer options (5 on a 1-5 scale).

    Returns
    -------
    float
        :math:`(A^2 - 1) / 12`.
    """
    if options < 2:
        raise ValueError(f"a response scale needs at least 2 options, got {options}")
    return (options**2 - 1) / 12


@dataclass(frozen=True)
class GroupAgreement:
    """rwg(j) of one group on one scale."""

    group: str
    n: int
    mean_variance: float | None
    rwg_j: float | None
    truncated: bool
    note: str | None

    def to_dict(self, label: str = "group") -> dict[str, object]:
        """The figures as plain values, the group under ``label``."""
        return {
            label: self.group,
            "n": self.n,
            "mean_variance": self.mean_variance,
            "rwg_j": self.rwg_j,
            "truncated": self.truncated,
            "note": self.note,
        }


def _group_labels(groups: pd.Series, length: int) -> np.ndarray:
    if len(groups) != length:
        raise ValueError(f"groups has {len(groups)} entries for {length} respondents")
    labels = np.array(
        [
            None if g is None or (isinstance(g, float) and math.isnan(g)) else str(g)
            for g in groups.tolist()
        ],
        dtype=object,
    )
    return labels


def rwg_j(items: pd.DataFrame, groups: pd.Series, options: int) -> list[GroupAgreement]:
    """rwg(j) of each group on the items of one scale, with the uniform null.

    Parameters
    ----------
    items : pandas.DataFrame
        The scale's items, one row per respondent (NaN for a missing answer).
    groups : pandas.Series
        Each respondent's group (``None`` or NaN: left out), aligned with ``items`` by
        position.
    options : int
        Number of answer options of the items' response scale.

    Returns
    -------
    list of GroupAgreement
        In order of the groups' names.
    """
    if items.shape[1] < 1:
        raise ValueError("rwg(j) needs at least one item")
    null = uniform_null_variance(options)
    labels = _group_labels(groups, len(items))
    values = items.to_numpy(dtype=float)
    complete = ~np.isnan(values).any(axis=1) & np.array([g is not None for g in labels])
    results: list[GroupAgreement] = []
    j = values.shape[1]
    for group in sorted({g for g in labels if g is not None}):
        members = values[complete & (labels == group)]
        n = int(members.shape[0])
        if n < 2:
            results.append(
                GroupAgreement(group, n, None, None, False, "fewer than 2 complete respondents")
            )
            continue
        mean_variance = float(np.mean(np.var(members, axis=0, ddof=1)))
        truncated = mean_variance > null
        ratio = min(mean_variance, null) / null
        value = (j * (1 - ratio)) / (j * (1 - ratio) + ratio)
        note = (
            f"answers vary more than at random (mean variance {spss_round(mean_variance, 3)} > "
            f"{spss_round(null, 3)}): rwg(j) truncated to 0"
            if truncated
            else None
        )
        results.append(GroupAgreement(group, n, mean_variance, float(value), truncated, note))
    return results


@dataclass(frozen=True)
class IntraclassCorrelation:
    """ICC(1) and ICC(2) of scores across groups, from one-way ANOVA."""

    icc1: float
    icc2: float
    ms_between: float
    ms_within: float
    df_between: int
    df_within: int
    f: float
    p_value: float
    groups: int
    n: int
    mean_group_size: float
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        record = asdict(self)
        record["warnings"] = list(self.warnings)
        return record


def intraclass_correlations(scores: pd.Series, groups: pd.Series) -> IntraclassCorrelation:
    """ICC(1) and ICC(2) of respondents' scores by group (see the module's formulas).

    Parameters
    ----------
    scores : pandas.Series
        One score per respondent (NaN: left out).
    groups : pandas.Series
        Each respondent's group, aligned by position (``None``: left out).

    Returns
    -------
    IntraclassCorrelation

    Raises
    ------
    ValueError
        Fewer than two groups, no group with two scores, or scores that vary neither
        within nor between groups.
    """
    from scipy.stats import f as f_distribution

    labels = _group_labels(groups, len(scores))
    values = scores.to_numpy(dtype=float)
    keep = ~np.isnan(values) & np.array([g is not None for g in labels])
    values, labels = values[keep], labels[keep]
    names = sorted(set(labels.tolist()))
    n, g = int(values.size), len(names)
    if g < 2:
        raise ValueError(f"ICC needs scores in at least 2 groups, got {g}")
    if n - g < 1:
        raise ValueError("ICC needs a group with at least 2 scores (no within-group variance)")
    grand = float(values.mean())
    between = 0.0
    within = 0.0
    for name in names:
        members = values[labels == name]
        between += members.size * (float(members.mean()) - grand) ** 2
        within += float(np.sum((members - members.mean()) ** 2))
    ms_between = between / (g - 1)
    ms_within = within / (n - g)
    if ms_between <= 0 and ms_within <= 0:
        raise ValueError("ICC is undefined: the scores vary neither within nor between groups")
    if ms_between <= 0:
        raise ValueError(
            "ICC is undefined: every group has the same mean score (no variance between groups)"
        )
    size = n / g
    icc1 = (ms_between - ms_within) / (ms_between + (size - 1) * ms_within)
    icc2 = (ms_between - ms_within) / ms_between
    if ms_within > 0:
        f_value = ms_between / ms_within
        p_value = float(f_distribution.sf(f_value, g - 1, n - g))
    else:
        f_value, p_value = math.inf, 0.0
    notes: list[str] = []
    if icc1 < 0:
        notes.append(
            "ICC(1) and ICC(2) are negative: the groups differ less than chance "
            "(read as no group-level variance)"
        )
    return IntraclassCorrelation(
        icc1=float(icc1),
        icc2=float(icc2),
        ms_between=float(ms_between),
        ms_within=float(ms_within),
        df_between=g - 1,
        df_within=n - g,
        f=float(f_value),
        p_value=p_value,
        groups=g,
        n=n,
        mean_group_size=float(size),
        warnings=tuple(notes),
    )
