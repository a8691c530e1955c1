"""Quick-start example: summarise measurements listed in a YAML file.

Run it where it lives: ``python3 analysis.py [measurements.yaml]``.
"""

import sys
from pathlib import Path

import numpy as np
import yaml
from stats import summary
from stats.units import to_si

try:  # optional: nicer percentiles when SciPy is there
    import scipy.stats as scipy_stats
except ImportError:
    scipy_stats = None


def main(path: str) -> int:
    doc = yaml.safe_load(Path(path).read_text())
    values = np.array([to_si(v, doc["unit"]) for v in doc["values"]])
    result = summary(values)
    print(f"{doc['name']}: n={result['n']} mean={result['mean']:.3f} std={result['std']:.3f} m")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "measurements.yaml"))
