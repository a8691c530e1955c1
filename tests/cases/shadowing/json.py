"""A local module named like the standard ``json``: ``python3 main.py`` imports this one."""

NAME = "local json"
