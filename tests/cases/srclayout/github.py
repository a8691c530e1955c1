"""A project-root module named like PyGithub's import package: it is local code."""

from __future__ import annotations

NAME = "local github"
