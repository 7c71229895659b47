"""Small-group suppression: kept as a name for :mod:`analysis.disclosure`, where the rules live.

Everything here is re-exported from :mod:`analysis.disclosure`, the one place that decides what
may be published.
"""

from __future__ import annotations

from analysis.disclosure import (
    DEFAULT_THRESHOLD,
    MINIMUM_THRESHOLD,
    NOT_STATED,
    GroupVisibility,
    results_visible,
    suppress_groups,
    validate_threshold,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "MINIMUM_THRESHOLD",
    "NOT_STATED",
    "GroupVisibility",
    "results_visible",
    "suppress_groups",
    "validate_threshold",
]
