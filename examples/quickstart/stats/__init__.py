"""Local helper package bundled into the environment by ``pkg create``."""

from .core import summary

__all__ = ["summary"]
