"""The instruments shipped in ``instruments/`` (every version kept there), parsed once per
process; the ones rounds use are also stored in the database (:mod:`app.services.instruments`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from analysis.instrument import (
    Instrument,
    InstrumentError,
    bundled_instruments,
    instruments_dir,
    load_instrument,
    parse_instrument,
    version_key,
)
from instruments import default_instrument


@lru_cache(maxsize=16)
def instrument_named(name: str) -> Instrument:
    """A bundled instrument by file name (``id`` or ``id@version``)."""
    return load_instrument(name)


@dataclass(frozen=True)
class BundledInstrument:
    instrument: Instrument
    text: str

    @property
    def sha256(self) -> str:
        return document_hash(self.text)


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def bundled_catalogue() -> dict[tuple[str, str], BundledInstrument]:
    """Every bundled file by (id, version)."""
    found: dict[tuple[str, str], BundledInstrument] = {}
    for name in bundled_instruments():
        instrument = instrument_named(name)
        text = (instruments_dir() / f"{name}.yaml").read_text(encoding="utf-8")
        found[(instrument.id, instrument.version)] = BundledInstrument(instrument, text)
    return found


def newest_bundled(instrument_id: str) -> Instrument:
    """The newest bundled version of an instrument."""
    versions = [key for key in bundled_catalogue() if key[0] == instrument_id]
    if not versions:
        known = ", ".join(sorted({key[0] for key in bundled_catalogue()}))
        raise InstrumentError(f"{instrument_id}: no such instrument (bundled: {known})")
    newest = max(versions, key=lambda key: version_key(key[1]))
    return bundled_catalogue()[newest].instrument


@lru_cache(maxsize=64)
def parsed_document(text: str, source: str) -> Instrument:
    """An instrument document parsed once per process (documents never change)."""
    return parse_instrument(text, source)


def instrument_version(instrument_id: str, version: str) -> Instrument:
    """A bundled instrument at one version; refuses a version no file holds."""
    bundled = bundled_catalogue().get((instrument_id, version))
    if bundled is None:
        raise InstrumentError(
            f"{instrument_id}: version {version} is not bundled (it may be stored in the "
            "database: see app.services.instruments)"
        )
    return bundled.instrument


DEFAULT_INSTRUMENT = default_instrument()
"""The INSTRUMENT setting's default: the instrument new rounds use unless told otherwise."""
