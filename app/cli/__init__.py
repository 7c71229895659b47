"""The ``trust-survey`` command line.

Each group of sub-commands lives in its own module and adds itself to the parser through
``register(subparsers)``; every handler takes the parsed arguments and returns an exit code.
Errors a user can fix (bad files, bad options) are raised as :class:`CommandError` or
:class:`ValueError` and reported in one line with exit code 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from analysis.instrument import InstrumentError

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A problem with the user's input, reported in one line with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    from app.cli import analysis_commands, operations_commands, service_commands

    parser = argparse.ArgumentParser(
        prog="trust-survey",
        description="Partnership Trust Survey: questionnaires, reliability and scored reports.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    analysis_commands.register(subparsers)
    service_commands.register(subparsers)
    operations_commands.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (CommandError, InstrumentError, ValueError) as exc:
        print(f"trust-survey {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
