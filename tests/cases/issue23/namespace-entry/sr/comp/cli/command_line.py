"""srcomp command-line interface."""

from __future__ import annotations

import argparse
import sys

from . import (
    show_league_table,
)


def main(args: list[str] | None = None) -> None:
    pass
