"""A local module the notebook imports."""

from __future__ import annotations

import json

NAME = json.dumps("helper")
