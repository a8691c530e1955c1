"""Entry point of the test's command-line tool: one sub-command module."""

from __future__ import annotations

import argparse

from . import (
    show_league_table,
)


def main(args: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.parse_args(args)
    show_league_table.__name__
