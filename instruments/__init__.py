"""Bundled instrument files (YAML), validated by :mod:`analysis.instrument`.

``default.txt`` names the instrument new rounds are offered first (the ``INSTRUMENT``
setting's default): which one is data, kept beside the files, not written in code.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_FILE = Path(__file__).with_name("default.txt")


def default_instrument() -> str:
    """The id in ``default.txt`` (its first line); cheap enough for ``--help``."""
    name = DEFAULT_FILE.read_text(encoding="utf-8").strip()
    if not name or "\n" in name:
        raise ValueError(f"{DEFAULT_FILE.name}: must hold one instrument id on one line")
    return name
