"""A sub-command: imports a distribution and two portions of the shared namespace."""

from __future__ import annotations

from league_ranker import LeaguePoints

from sr.comp.scores import LeaguePosition
from sr.comp.types import TLA

__all__ = ["LeaguePoints", "LeaguePosition", "TLA"]
