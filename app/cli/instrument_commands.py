"""``trust-survey instrument add FILE`` (store an instrument for new rounds) and
``trust-survey instrument list``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli import CommandError


def _instrument_add(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.cli.service_commands import _settings
    from app.database import make_engine
    from app.services.errors import SurveyServiceError
    from app.services.instruments import add_instrument

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: cannot be read: {error}") from None
    engine = make_engine(_settings().database_url)
    try:
        with Session(engine) as session:
            instrument = add_instrument(session, text, str(path))
    except SurveyServiceError as error:
        raise CommandError(str(error)) from None
    finally:
        engine.dispose()
    print(f"trust-survey instrument add: {instrument.id} version {instrument.version} stored")
    return 0


def _instrument_list(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from app.cli.service_commands import _settings
    from app.database import make_engine
    from app.services.instruments import instrument_choices

    engine = make_engine(_settings().database_url)
    try:
        with Session(engine) as session:
            for choice in instrument_choices(session):
                newest = " (newest)" if choice.newest else ""
                print(f"{choice.key}\t{choice.source}\t{choice.title}{newest}")
    finally:
        engine.dispose()
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    instrument = subparsers.add_parser("instrument", help="questionnaires new rounds may use")
    commands = instrument.add_subparsers(dest="instrument_command", required=True, metavar="ACTION")
    add = commands.add_parser(
        "add",
        help="validate an instrument YAML file and store it for new rounds",
        description="Validate an instrument file (the format of instruments/*.yaml) and store "
        "it in the database; a problem is reported in one line naming the field. A stored "
        "version never changes: a changed instrument needs a new version.",
    )
    add.add_argument("file", help="the instrument's YAML file")
    add.set_defaults(handler=_instrument_add)
    listed = commands.add_parser("list", help="every instrument version a round may use")
    listed.set_defaults(handler=_instrument_list)
