"""The agreement page's cautions about ICC(1) and ICC(2), each said once in plain words.

The analysis gives each scale its own reason when ICC cannot be computed (or a warning when
it is negative); with one partnership, every scale gives the same one.  :func:`icc_notes`
gathers them: one note per distinct caution, naming the scales it is about unless it is
about every scale shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.services.analyst import ScaleAgreement
from app.templating import sentence

_GROUPS = re.compile(r"^ICC needs scores in at least 2 groups, got (\d+)$")
_PLAIN = {
    "ICC needs a group with at least 2 scores": (
        "ICC(1) and ICC(2) are not given: they need at least one partnership with 2 or more "
        "scale scores"
    ),
    "ICC is undefined: the scores vary neither": (
        "ICC(1) and ICC(2) are not given: every scale score is the same"
    ),
    "ICC is undefined: every group has the same mean": (
        "ICC(1) and ICC(2) are not given: every partnership has the same mean score, so there "
        "is no difference between partnerships to measure"
    ),
    "ICC(1) and ICC(2) are negative": (
        "ICC(1) and ICC(2) are below 0: the partnerships differ less than chance alone would "
        "make them; read this as no difference between partnerships"
    ),
}


def plain_words(caution: str) -> str:
    """One caution of :mod:`analysis.agreement` about ICC, in words for the page."""
    if found := _GROUPS.match(caution):
        count = int(found.group(1))
        had = "no partnership" if count == 0 else f"only {count}"
        return (
            "ICC(1) and ICC(2) are not given: they compare partnerships, so they need scale "
            f"scores from at least 2 partnerships, and the chosen rounds have {had}"
        )
    for start, words in _PLAIN.items():
        if caution.startswith(start):
            return words
    return sentence(caution)


@dataclass(frozen=True)
class IccNote:
    """One caution and the scales it is about (empty: every scale on the page)."""

    words: str
    scales: tuple[str, ...]


def icc_notes(scales: Sequence[ScaleAgreement]) -> list[IccNote]:
    """Each distinct ICC caution of ``scales`` once, in the order first met."""
    about: dict[str, list[str]] = {}
    for scale in scales:
        cautions = list(scale.icc.warnings) if scale.icc else []
        if scale.icc_error:
            cautions.append(scale.icc_error)
        for caution in cautions:
            names = about.setdefault(plain_words(caution), [])
            if scale.name not in names:
                names.append(scale.name)
    return [
        IccNote(words, () if len(names) == len(scales) else tuple(names))
        for words, names in about.items()
    ]
