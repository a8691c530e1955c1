"""A helper of the Python 2 script that is valid Python 3."""

from __future__ import annotations

import yaml

DUMP = yaml.safe_dump
