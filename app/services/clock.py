"""Days in the service's time zone (TIME_ZONE, Europe/London by default).

Round dates are days where the partnership is, not UTC days: a round that closes on
31 January takes answers until midnight at the end of that day in London, in winter and in
summer time alike.  ``create_app`` and the worker set the zone from the settings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIME_ZONE = "Europe/London"
_zone = ZoneInfo(DEFAULT_TIME_ZONE)


def set_time_zone(name: str) -> None:
    global _zone
    _zone = ZoneInfo(name)


def time_zone() -> ZoneInfo:
    return _zone


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC time (SQLite hands back stored UTC times naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_day(moment: datetime | None = None) -> date:
    """The day ``moment`` (default: now) falls on in the service's time zone."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone).date()
