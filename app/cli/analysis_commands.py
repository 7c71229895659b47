"""Sub-commands for analysts: ``analyse``, ``reliability``, ``frequencies``, ``omega``,
``factor``, ``agreement`` and ``demo-data``.

Their names, options and JSON keys are a contract that analysts' scripts call.  One set of
rules holds for every command:

* The responses file is a CSV (comma, semicolon or tab; UTF-8 with or without a BOM), an
  ``.xlsx`` workbook or an SPSS ``.sav`` file (its declared missing values are missing).
* Columns that are items of the instrument (``--instrument``, by default the bundled
  one) take their answer range, value labels and reverse keying from it; other columns
  take ``--scale-min``/``--scale-max`` when given.  An answer outside the range is an
  error, and so is an undeclared ``-99``: declare codes with ``--missing-values -99,-9``.
* ``--keying keyed`` (the default) reverse-keys what the instrument marks reverse-keyed
  (and ``--reverse`` columns); ``--keying raw`` uses the answers as given (plus
  ``--reverse``).  ``--missing listwise`` (the default, SPSS's and Table 4's) keeps the
  respondents who answered every chosen item; ``pairwise`` uses every pair answered.
  Every output states the keying and missing-answer rule it used.
* Errors are one line on standard error with exit code 2.  Positions in messages are
  counted as the file's viewer shows them, the header being 1: a CSV's line, a workbook's
  row, a ``.sav`` file's case.
* ``--format text|json|xlsx`` for every command (``analyse`` also ``csv``); xlsx needs
  ``--out``.  Text output rounds half up (0.8125 -> 0.813), as the report's tables do.

``trust-survey analyse RESPONSES [--instrument NAME] [--format FORMAT] [--out PATH]``
    Table 4 and every item's SPSS-style frequency table.  JSON:
    ``{"instrument", "n", "table4", "frequencies", "settings", "notes"}``.
``trust-survey reliability RESPONSES --items A,B,C``
    Cronbach's alpha.  JSON keys: ``alpha``, ``ci``, ``standardized_alpha``, ``n``, ``k``,
    ``items`` (each ``item``, ``n``, ``mean``, ``sd``, ``corrected_item_total_r``,
    ``alpha_if_deleted``), ``warnings``, ``settings``.
``trust-survey frequencies RESPONSES --items A[,B]``
    Frequency tables of the answers as given; JSON per item: ``rows`` (``value``,
    ``label``, ``frequency``, ``percent``, ``valid_percent``, ``cumulative_percent``),
    ``valid``, ``missing`` and ``total``.
``trust-survey omega RESPONSES --items A,B,C [--bootstrap 1000] [--seed 2017]``
    McDonald's omega total (one-factor model) with a bootstrap CI.
``trust-survey factor RESPONSES --items A,B,C,... [--factors 2] [--method minres|ml]``
    Exploratory factor analysis, oblimin rotation: loadings, communalities, variance.
``trust-survey agreement RESPONSES --group COLUMN [--scales ID,ID | --items A,B]``
    rwg(j) per group and scale (uniform null), ICC(1) and ICC(2) of the scale scores.
``trust-survey demo-data [--out PATH]``
    The demo responses of :mod:`analysis.demo` (reproducing the default instrument's pilot,
    ``instruments/pilots/``) as CSV.

This module only builds the parser: it imports nothing heavy, so that ``--help`` and usage
errors answer at once.  The handlers live in :mod:`app.cli.analyses`, imported when a
command runs; statistics live in :mod:`analysis`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from instruments import default_instrument

DEFAULT_INSTRUMENT = default_instrument()
_FORMATS = ("text", "json", "xlsx")
_FORMATS_ANALYSE = ("text", "json", "csv", "xlsx")
_POSITIONS = (
    "Positions in error messages are counted as the file's viewer shows them, the header "
    "being 1: CSV lines, spreadsheet rows, .sav cases."
)


def _column_list(text: str) -> list[str]:
    """Parse ``A,B,C`` (argparse type); empty names are a usage error."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of columns")
    return names


def _codes(text: str) -> list[float]:
    """Parse ``-99,-9`` (argparse type)."""
    codes: list[float] = []
    for part in text.split(","):
        try:
            code = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not a number") from None
        if code != code or code in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not a finite number")
        codes.append(code)
    return codes


def _whole_number(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{text} must be {least} or more")
        return value

    return parse


_positive = _whole_number(1)
_not_negative = _whole_number(0)


def _file_options(parser: argparse.ArgumentParser, formats: tuple[str, ...] = _FORMATS) -> None:
    parser.add_argument(
        "responses", metavar="RESPONSES", type=Path, help="a .csv, .xlsx or .sav file"
    )
    parser.add_argument(
        "--instrument",
        default=DEFAULT_INSTRUMENT,
        help=f"bundled instrument name or YAML path (default: {DEFAULT_INSTRUMENT}); columns "
        "that are its items take its ranges, labels and reverse keying",
    )
    parser.add_argument(
        "--missing-values",
        type=_codes,
        default=[],
        metavar="CODES",
        help="comma-separated codes meaning a missing answer, e.g. -99,-9 (a .sav file's "
        "declared missing values apply as well)",
    )
    parser.add_argument("--format", choices=formats, default="text")
    parser.add_argument("--out", type=Path, help="write here instead of standard output")


def _range_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale-min", type=float, help="lowest possible answer of columns not in the instrument"
    )
    parser.add_argument(
        "--scale-max",
        type=float,
        help="highest possible answer of columns not in the instrument",
    )


def _keying_options(parser: argparse.ArgumentParser, *, missing: bool = True) -> None:
    parser.add_argument(
        "--keying",
        choices=("keyed", "raw"),
        default="keyed",
        help="keyed (default): reverse-key what the instrument marks reverse-keyed; raw: the "
        "answers as given",
    )
    parser.add_argument(
        "--reverse",
        type=_column_list,
        default=[],
        help="comma-separated columns to reverse-key as well (columns not in the instrument "
        "need --scale-min and --scale-max)",
    )
    if missing:
        parser.add_argument(
            "--missing",
            choices=("listwise", "pairwise"),
            default="listwise",
            help="listwise (default): respondents who answered every item; pairwise: every "
            "pair of items answered",
        )


def _items_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--items", required=required, type=_column_list, help="comma-separated column names"
    )


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the analysts' sub-commands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``trust-survey`` parser's sub-command group.
    """
    analyse = subparsers.add_parser(
        "analyse",
        help="Table 4 and every item's frequency table",
        description="Table 4 (alpha, mean, median and mode of every scale, keyed) and every "
        "item's SPSS-style frequency table for a responses file (one row per respondent, one "
        "column per item id). " + _POSITIONS,
    )
    _file_options(analyse, _FORMATS_ANALYSE)
    analyse.add_argument(
        "--missing",
        choices=("listwise", "pairwise"),
        default="listwise",
        help="how alpha treats missing answers (default listwise, as SPSS and the report)",
    )
    analyse.add_argument(
        "--include-empty", action="store_true", help="list answers nobody chose (frequency 0)"
    )
    analyse.set_defaults(handler=_run("analyse"))

    reliability = subparsers.add_parser(
        "reliability",
        help="Cronbach's alpha with item statistics for chosen columns",
        description="Cronbach's alpha (Feldt 95%% CI), standardized alpha and item "
        "statistics. " + _POSITIONS,
    )
    _file_options(reliability)
    _items_option(reliability)
    _keying_options(reliability)
    _range_options(reliability)
    reliability.set_defaults(handler=_run("reliability"))

    frequencies = subparsers.add_parser(
        "frequencies",
        help="SPSS-style frequency tables of chosen columns",
        description="Frequency, percent, valid percent and cumulative percent per answer, of "
        "the answers as given (never reverse-keyed). " + _POSITIONS,
    )
    _file_options(frequencies)
    _items_option(frequencies)
    _range_options(frequencies)
    frequencies.add_argument(
        "--include-empty", action="store_true", help="list answers nobody chose (frequency 0)"
    )
    frequencies.set_defaults(handler=_run("frequencies"))

    omega = subparsers.add_parser(
        "omega",
        help="McDonald's omega total (one-factor model) with a bootstrap CI",
        description="McDonald's omega total from a one-factor minres model, as R psych's "
        "omega(x, nfactors = 1), with a percentile bootstrap CI. " + _POSITIONS,
    )
    _file_options(omega)
    _items_option(omega)
    _keying_options(omega)
    _range_options(omega)
    omega.add_argument(
        "--bootstrap",
        type=_not_negative,
        default=1000,
        help="bootstrap resamples for the CI (default 1000; 0: no interval)",
    )
    omega.add_argument("--seed", type=int, default=2017, help="seed of the resampling")
    omega.set_defaults(handler=_run("omega"))

    factor = subparsers.add_parser(
        "factor",
        help="exploratory factor analysis (minres or ML, oblimin) of chosen columns",
        description="Exploratory factor analysis as R psych's fa(): loadings (pattern), "
        "communalities, factor correlations and variance explained. " + _POSITIONS,
    )
    _file_options(factor)
    _items_option(factor)
    _keying_options(factor)
    _range_options(factor)
    factor.add_argument("--factors", type=_positive, default=1, help="factors (default 1)")
    factor.add_argument("--method", choices=("minres", "ml"), default="minres")
    factor.add_argument("--rotation", choices=("oblimin", "none"), default="oblimin")
    factor.set_defaults(handler=_run("factor"))

    agreement = subparsers.add_parser(
        "agreement",
        help="within-group agreement: rwg(j) per group and scale, ICC(1) and ICC(2)",
        description="rwg(j) of each group (e.g. partnership) on each scale with the uniform "
        "null, and ICC(1) and ICC(2) of the scale scores across groups. " + _POSITIONS,
    )
    _file_options(agreement)
    agreement.add_argument(
        "--group", required=True, metavar="COLUMN", help="the column naming each group"
    )
    agreement.add_argument(
        "--scales",
        type=_column_list,
        help="comma-separated scale ids of the instrument (default: every scale in the file)",
    )
    _items_option(agreement, required=False)
    agreement.add_argument("--name", default="items", help="the name of the --items scale")
    _keying_options(agreement, missing=False)
    _range_options(agreement)
    agreement.set_defaults(handler=_run("agreement"))

    demo = subparsers.add_parser(
        "demo-data",
        help="write the demo responses (reproducing the published pilot's tables) as CSV",
    )
    demo.add_argument("--out", type=Path, help="write here instead of standard output")
    demo.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    demo.set_defaults(handler=_run("demo_data"))


def _run(command: str) -> Any:
    """A handler that imports :mod:`app.cli.analyses` only when the command runs."""

    def handler(args: argparse.Namespace) -> int:
        # Small matrices: BLAS threads only contend (the bootstrap runs 3x faster on one).
        for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, "1")
        from app.cli import analyses

        result: int = getattr(analyses, f"run_{command}")(args)
        return result

    return handler


__all__ = ["DEFAULT_INSTRUMENT", "register"]
