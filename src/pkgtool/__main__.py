"""``python -m pkgtool`` is the same as the ``pkg`` command."""

from __future__ import annotations

from pkgtool.cli import main

if __name__ == "__main__":
    main()
