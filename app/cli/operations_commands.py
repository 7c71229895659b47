"""Operations sub-commands (backup and restore): placeholder until they are built."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the operations sub-commands."""
