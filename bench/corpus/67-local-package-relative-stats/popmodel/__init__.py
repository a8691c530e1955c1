"""Colony growth models."""
from .fit import fit_all
from .io import load_counts

__all__ = ["fit_all", "load_counts"]
