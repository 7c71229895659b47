"""Computed reports and published answer sets, kept per release so that a round's report page,
its JSON and every file made from it compute it once.

A report's figures come only from the round's published set, the responses of its latest
release (:mod:`app.services.releases`), and a release never changes once made.  So a computed
report is kept under what its figures depend on, and no more:

* the round and its release number (a new release is a new key: the old entry is never read
  again, and falls out of the cache);
* the instrument and its version, and the round's anonymity threshold (which decides what is
  shown, suppressed and generalised: a changed threshold is a new key);
* the previous round's id and release number (the change section compares with it);
* the deployment's publication state: how many releases exist, their numbers summed, the
  newest one's time and how many rounds are closed.  The trend reads the partnership's other
  rounds and the peer benchmark other partnerships' closed rounds, so a release, close,
  reopen or deletion of any round anywhere makes a new key (releases are rare, so this costs
  little).

What may change without a new release is taken fresh on every view: the round itself (title,
dates, status), its partnership, and the publication (the count of responses submitted since,
the headline).  Whether row-level files skip k-anonymity (an admin's raw-access grant) is the
viewer's, never cached.

The caches are per process and database engine, and bounded (entries; rows for answer
sets): with several workers each keeps its own, which is safe because every worker computes
the same report for the same key (releases are immutable and shared through the database);
it costs one computation per worker and key.  :func:`releases.publish` still runs on every
view, since it makes the next release when the rules allow; it costs two indexed queries
(the releases and the count of submitted responses).
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.models import Partnership, RoundRelease, RoundStatus, SurveyRound
from app.services import releases, reports, rounds
from app.services.reports import RoundReport, Viewer

REPORTS_KEPT = 16
ANSWER_ROWS_KEPT = 2_000_000
V = TypeVar("V")


class BoundedCache(Generic[V]):
    """A least-recently-used cache bounded by the total ``size`` of its values."""

    def __init__(self, most: int, size: Callable[[V], int] = lambda _value: 1) -> None:
        self._most = most
        self._size = size
        self._kept: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()  # sync routes run on worker threads
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                self.misses += 1
                return None
            self._kept.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: Hashable, value: V) -> None:
        size = self._size(value)
        if size > self._most:
            return
        with self._lock:
            if key in self._kept:
                self._total -= self._kept.pop(key)[1]
            self._kept[key] = (value, size)
            self._total += size
            while self._total > self._most:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._total -= dropped

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._total = 0


@dataclasses.dataclass
class Caches:
    """The caches of one engine (one database): ids are only unique within a database."""

    reports: BoundedCache[RoundReport] = dataclasses.field(
        default_factory=lambda: BoundedCache(REPORTS_KEPT)
    )
    answer_sets: BoundedCache[pd.DataFrame] = dataclasses.field(
        default_factory=lambda: BoundedCache(ANSWER_ROWS_KEPT, len)
    )


_CACHES: weakref.WeakKeyDictionary[Engine, Caches] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def caches_of(session: Session) -> Caches:
    """The caches of the session's engine (made on first use)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _CACHES_LOCK:
        found = _CACHES.get(engine)
        if found is None:
            found = _CACHES[engine] = Caches()
        return found


def published_matrix(session: Session, survey_round: SurveyRound, release: int) -> pd.DataFrame:
    """:func:`rounds.round_items_matrix` of a round's release (a copy: callers may change it),
    loaded once per release."""
    assert survey_round.id is not None
    key = (survey_round.id, release, survey_round.instrument_id, survey_round.instrument_version)
    kept = caches_of(session).answer_sets
    found = kept.get(key)
    if found is None:
        found = rounds.round_items_matrix(session, survey_round.id, release=release)
        kept.put(key, found)
    return found.copy()


def _latest_release(session: Session, round_id: int) -> int:
    found = session.exec(
        select(RoundRelease.number)
        .where(RoundRelease.round_id == round_id)
        .order_by(col(RoundRelease.number).desc())
    ).first()
    return int(found or 0)


def _publication_state(session: Session) -> tuple[int, int, str, int]:
    """(releases, their numbers summed, the newest's time, closed rounds) across the
    deployment."""
    releases_made, numbers, newest = session.exec(
        select(
            sa.func.count(col(RoundRelease.round_id)),
            sa.func.sum(col(RoundRelease.number)),
            sa.func.max(col(RoundRelease.created_at)),
        )
    ).one()
    closed = session.exec(
        select(sa.func.count(col(SurveyRound.id))).where(
            col(SurveyRound.status) == RoundStatus.CLOSED
        )
    ).one()
    return int(releases_made or 0), int(numbers or 0), str(newest), int(closed or 0)


def round_report(
    session: Session, survey_round: SurveyRound, viewer: Viewer | None = None
) -> RoundReport:
    """:func:`app.services.reports.round_report`, computed once per release (see above)."""
    assert survey_round.id is not None
    publication = releases.publish(session, survey_round)
    if not publication.number:  # only the count: nothing to keep
        return reports.round_report(session, survey_round, viewer)
    before = reports.previous_round(session, survey_round)
    if before is not None and before.id is not None:
        releases.publish(session, before)  # as the report itself would, before comparing
        compared: tuple[int, int] | None = (before.id, _latest_release(session, before.id))
    else:
        compared = None
    key = (
        survey_round.id,
        publication.number,
        survey_round.instrument_id,
        survey_round.instrument_version,
        survey_round.anonymity_threshold,
        compared,
        _publication_state(session),
    )
    raw_rows = bool(viewer and viewer.raw_access)
    kept = caches_of(session).reports
    found = kept.get(key)
    if found is None:
        found = reports.round_report(session, survey_round, viewer)
        if found.publication.number == publication.number:  # no release made in between
            kept.put(key, found)
        return found
    partnership = session.get(Partnership, survey_round.partnership_id)
    assert partnership is not None
    return dataclasses.replace(
        found,
        partnership=partnership,
        survey_round=survey_round,
        publication=publication,
        raw_rows=raw_rows,
    )
