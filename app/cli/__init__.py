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

# Nothing heavy is imported here or by the command modules at import time (pandas, scipy,
# pingouin, SQLAlchemy, pydantic settings load inside the handlers), so that `--help` and
# usage errors answer at once; bench/bench_cli_startup.py measures it.

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A problem with the user's input, reported in one line with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    from app.cli import (
        analysis_commands,
        instrument_commands,
        operations_commands,
        service_commands,
        worker_commands,
    )

    parser = argparse.ArgumentParser(
        prog="trust-survey",
        description="Partnership Trust Survey: questionnaires, reliability and scored reports.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    analysis_commands.register(subparsers)
    service_commands.register(subparsers)
    operations_commands.register(subparsers)
    worker_commands.register(subparsers)
    instrument_commands.register(subparsers)
    return parser


_VALUE_OPTIONS = ("--missing-values",)


def _attach_negative_values(argv: Sequence[str]) -> list[str]:
    """``--missing-values -99,-9`` as ``--missing-values=-99,-9``: argparse would take a
    value starting with ``-`` (that is not one plain negative number) for an option."""
    joined: list[str] = []
    words = list(argv)
    i = 0
    while i < len(words):
        word = words[i]
        if word in _VALUE_OPTIONS and i + 1 < len(words) and words[i + 1].startswith("-"):
            joined.append(f"{word}={words[i + 1]}")
            i += 2
            continue
        joined.append(word)
        i += 1
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_attach_negative_values(sys.argv[1:] if argv is None else argv))
    handler: Handler = args.handler
    try:
        return handler(args)
    except (CommandError, ValueError) as exc:  # InstrumentError is a ValueError
        print(f"trust-survey {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
