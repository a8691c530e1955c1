"""Uses a third-party distribution and a sibling module (PEP 328 relative import)."""

from __future__ import annotations

import yaml

from . import util


def describe() -> str:
    return yaml.safe_dump({"sum": util.total()}).strip()
