"""Fit Lorentzian lines to every spectrum in a folder and plot the fits."""

import sys
from pathlib import Path

import numpy as np

from labtools.fitting.lines import fit_lines
from labtools.plotting import overlay


def main(folder: str) -> None:
    results = {}
    for path in sorted(Path(folder).glob("*.txt")):
        x, y = np.loadtxt(path, unpack=True)
        results[path.stem] = fit_lines(x, y, n_lines=3)
        overlay.save(x, y, results[path.stem], path.with_suffix(".png"))
    for name, res in results.items():
        print(name, ", ".join(f"{c:.2f}" for c in res.params["centers"]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
