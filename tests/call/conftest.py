"""Fixtures of the pkg call tests: the session's archive (see _archive.py)."""

from call._archive import call_env

__all__ = ["call_env"]
