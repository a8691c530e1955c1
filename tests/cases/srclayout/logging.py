"""A project-root module named like a standard module: the standard one wins."""

from __future__ import annotations

raise ImportError("the project-root logging.py must never be imported")
