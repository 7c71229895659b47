"""Sub-commands: placeholder until this group is built."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    """Add this group's sub-commands."""
