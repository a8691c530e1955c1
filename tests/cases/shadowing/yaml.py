"""A local module named like PyYAML's ``yaml``: Python imports this one, not PyYAML."""

NAME = "local yaml"
