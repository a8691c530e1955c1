"""Entry script: imports from its own directory, the project root and src/."""

from __future__ import annotations

import logging

import github
import helpers
import mypkg

logging.basicConfig()
print(helpers.PREFIX, mypkg.describe(), github.NAME)
