"""Show the current state of the league table."""

from __future__ import annotations

import argparse
from typing import Any, Callable, NamedTuple

from league_ranker import LeaguePoints

from sr.comp.scores import LeaguePosition
from sr.comp.types import GamePoints, TLA
