"""``python3 -m pkgtool_call MODULE:FUNCTION [--input NAME=VALUE]... [--returns SPEC]
[--out DIR]``."""

from . import main

main()
