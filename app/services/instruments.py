"""Instruments in the database: every version a round uses, and those an admin adds.

A round references its instrument by id and version (``survey_round.instrument_id``,
``instrument_version`` -> ``instrument_document``), and its reports read the questionnaire
from the stored document, so a newer file, or an instrument no longer shipped, never changes
an earlier round.  Bundled files are stored when a round first uses them; an admin adds others
(``trust-survey instrument add FILE`` or the admin page), validated with the one-line errors
of :func:`analysis.instrument.parse_instrument`.  A stored version never changes: another
document needs another version.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from analysis.instrument import Instrument, InstrumentError, version_key
from app.instruments import bundled_catalogue, document_hash, parsed_document
from app.models import InstrumentDocument, SurveyRound
from app.services import audit
from app.services.errors import (
    FieldValidationError,
    InstrumentRejectedError,
    RecordNotFoundError,
)

BUNDLED = "bundled"
ADDED = "added"
MAX_DOCUMENT_CHARACTERS = 500_000


@dataclass(frozen=True)
class InstrumentChoice:
    """One instrument version a new round may use."""

    instrument_id: str
    version: str
    title: str
    source: str
    newest: bool

    @property
    def key(self) -> str:
        return f"{self.instrument_id}@{self.version}"

    @property
    def label(self) -> str:
        newest = ", the newest" if self.newest else ""
        return f"{self.title} (version {self.version}{newest})"


def parse_key(key: str) -> tuple[str, str | None]:
    """``id@version`` (or a bare id: its newest version) from a form."""
    instrument_id, _, version = key.partition("@")
    return instrument_id, version or None


def _stored(session: Session, instrument_id: str, version: str) -> InstrumentDocument | None:
    return session.get(InstrumentDocument, (instrument_id, version))


def _parse_stored(row: InstrumentDocument) -> Instrument:
    return parsed_document(row.document, f"{row.instrument_id} {row.version} (stored)")


def store_instrument(
    session: Session, text: str, source_name: str, *, source: str = ADDED
) -> InstrumentDocument:
    """Validate an instrument document and store it; the caller commits (see
    :func:`add_instrument`).  The same document again is a no-op; another document under a
    stored id and version is refused."""
    if len(text) > MAX_DOCUMENT_CHARACTERS:
        raise InstrumentRejectedError(
            f"{source_name}: the file is too long (at most {MAX_DOCUMENT_CHARACTERS} characters)"
        )
    try:
        instrument = parse_instrument_text(text, source_name)
    except InstrumentError as error:
        raise InstrumentRejectedError(str(error)) from None
    digest = document_hash(text)
    existing = _stored(session, instrument.id, instrument.version)
    if existing is not None:
        if existing.sha256 == digest:
            return existing
        raise InstrumentRejectedError(
            f"{source_name}: version: {instrument.id} version {instrument.version} is already "
            "stored with other content; give the changed instrument a new version"
        )
    bundled = bundled_catalogue().get((instrument.id, instrument.version))
    if source == ADDED and bundled is not None and bundled.sha256 != digest:
        raise InstrumentRejectedError(
            f"{source_name}: version: {instrument.id} version {instrument.version} is a bundled "
            "version with other content; give the changed instrument a new version"
        )
    row = InstrumentDocument(
        instrument_id=instrument.id,
        version=instrument.version,
        title=instrument.title,
        document=text,
        sha256=digest,
        source=source,
    )
    session.add(row)
    return row


def parse_instrument_text(text: str, source_name: str) -> Instrument:
    return parsed_document(text, source_name)


def add_instrument(
    session: Session, text: str, source_name: str, *, actor: audit.Actor = audit.COMMAND_LINE_ACTOR
) -> Instrument:
    """An admin's instrument (YAML text), validated and stored; its parsed form."""
    row = store_instrument(session, text, source_name)
    audit.record(
        session,
        actor,
        audit.AuditAction.INSTRUMENT_ADDED,
        f"instrument {row.instrument_id} {row.version}",
        commit=False,
    )
    session.commit()
    return _parse_stored(row)


def ensure_stored(session: Session, instrument_id: str, version: str) -> Instrument:
    """The instrument version, stored from its bundled file if it is not stored yet (the
    caller commits)."""
    row = _stored(session, instrument_id, version)
    if row is not None:
        return _parse_stored(row)
    bundled = bundled_catalogue().get((instrument_id, version))
    if bundled is None:
        raise RecordNotFoundError("instrument", f"{instrument_id} version {version}")
    store_instrument(session, bundled.text, f"{instrument_id}@{version}", source=BUNDLED)
    session.flush()
    return bundled.instrument


def stored_instrument(session: Session, instrument_id: str, version: str) -> Instrument:
    """An instrument version: stored, else bundled; else not found."""
    row = _stored(session, instrument_id, version)
    if row is not None:
        return _parse_stored(row)
    bundled = bundled_catalogue().get((instrument_id, version))
    if bundled is None:
        raise RecordNotFoundError("instrument", f"{instrument_id} version {version}")
    return bundled.instrument


def round_instrument(session: Session, survey_round: SurveyRound) -> Instrument:
    """The instrument and version a round was opened with."""
    return stored_instrument(session, survey_round.instrument_id, survey_round.instrument_version)


def instrument_choices(session: Session) -> list[InstrumentChoice]:
    """Every instrument version a new round may use: bundled and stored, newest first per
    instrument, instruments by title."""
    found: dict[tuple[str, str], tuple[str, str]] = {
        key: (bundled.instrument.title, BUNDLED) for key, bundled in bundled_catalogue().items()
    }
    for row in session.exec(select(InstrumentDocument).order_by(col(InstrumentDocument.title))):
        found.setdefault((row.instrument_id, row.version), (row.title, row.source))
    newest: dict[str, str] = {}
    for instrument_id, version in found:
        if instrument_id not in newest or version_key(version) > version_key(newest[instrument_id]):
            newest[instrument_id] = version
    choices: list[InstrumentChoice] = []
    for instrument_id in sorted(newest, key=lambda i: (found[(i, newest[i])][0], i)):
        versions = sorted(
            (v for i, v in found if i == instrument_id), key=version_key, reverse=True
        )
        for version in versions:
            title, source = found[(instrument_id, version)]
            choices.append(
                InstrumentChoice(instrument_id, version, title, source, version == versions[0])
            )
    return choices


def choose_version(session: Session, instrument_id: str, version: str | None) -> InstrumentChoice:
    """The instrument version a new round asks for by id and version (none: the newest), or a
    :class:`FieldValidationError` naming ``instrument_id`` or ``instrument_version``."""
    offered = [c for c in instrument_choices(session) if c.instrument_id == instrument_id]
    if not offered:
        known = sorted({c.instrument_id for c in instrument_choices(session)})
        raise FieldValidationError({"instrument_id": f"must be one of: {', '.join(known)}"})
    for choice in offered:
        if choice.version == version or (version is None and choice.newest):
            return choice
    versions = ", ".join(c.version for c in offered)
    raise FieldValidationError(
        {"instrument_version": f"{instrument_id} has the versions: {versions}"}
    )


def newest_version(session: Session, instrument_id: str) -> str:
    versions = [c.version for c in instrument_choices(session) if c.instrument_id == instrument_id]
    if not versions:
        raise RecordNotFoundError("instrument", instrument_id)
    return max(versions, key=version_key)


def known_instruments(session: Session) -> list[Instrument]:
    """Every instrument version, bundled or stored (for labels of stored values)."""
    known = {key: bundled.instrument for key, bundled in bundled_catalogue().items()}
    for row in session.exec(select(InstrumentDocument)):
        known.setdefault((row.instrument_id, row.version), _parse_stored(row))
    return list(known.values())


def attribute_choices(session: Session, attribute: str, instrument: Instrument) -> dict[str, str]:
    """The options a partnership (``attribute="partnership_attribute"``) or an organisation
    (``"organisation_attribute"``) is described by, from ``instrument``."""
    question_id = getattr(instrument, attribute)
    if question_id is None:
        return {}
    return instrument.choices(question_id)


def attribute_labels(session: Session, attribute: str) -> dict[str, str]:
    """Labels of every option any known instrument gives the attribute (older versions' too,
    so a partnership described under an earlier version still reads well)."""
    labels: dict[str, str] = {}
    for instrument in sorted(known_instruments(session), key=lambda i: version_key(i.version)):
        question_id = getattr(instrument, attribute)
        if question_id is not None:
            labels.update(instrument.choices(question_id))
    return labels
