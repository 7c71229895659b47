"""The instruments the service asks, loaded once per process."""

from __future__ import annotations

from functools import lru_cache

from analysis.instrument import Instrument, InstrumentError, load_instrument


@lru_cache(maxsize=16)
def instrument_named(instrument_id: str) -> Instrument:
    return load_instrument(instrument_id)


def instrument_version(instrument_id: str, version: str) -> Instrument:
    """The instrument a round was opened with; refuses a version the code no longer ships."""
    instrument = instrument_named(instrument_id)
    if instrument.version != version:
        raise InstrumentError(
            f"{instrument_id}: the round uses version {version}, this code ships "
            f"{instrument.version}"
        )
    return instrument


DEFAULT_INSTRUMENT = "trustworthy-collaboration"


def background_choices(question_id: str) -> dict[str, str]:
    """Values and labels of a choice question of the default instrument (e.g. ``care_model``)."""
    for question in instrument_named(DEFAULT_INSTRUMENT).background:
        if question.id == question_id:
            return {option.value: option.label for option in question.options}
    raise KeyError(question_id)
