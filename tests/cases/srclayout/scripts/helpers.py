"""A module next to the script (sys.path[0])."""

from __future__ import annotations

PREFIX = "result:"
