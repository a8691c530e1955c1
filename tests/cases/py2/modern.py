"""A valid script next to the Python 2 one."""

from __future__ import annotations

import pkgtool_modern_dep

print(pkgtool_modern_dep)
