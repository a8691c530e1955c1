"""A small multi-file analysis: pkgtool's analyzer tests and round trip run this script.

It reads a YAML configuration, scales the values with a namespace-package plugin and
prints their summary: ``mean=2.5 n=4``. SciPy is optional and does not change the output.
"""

from __future__ import annotations

import sys

import helpers
import numpy as np
import yaml
from helpers.stats import summarize
from plugins import scale

try:
    import scipy
except ImportError:
    scipy = None

CONFIG = """
values: [1, 2, 3, 4]
factor: 1.0
"""


def main() -> int:
    config = yaml.safe_load(CONFIG)
    values = scale.apply(np.asarray(config["values"], dtype=float), config["factor"])
    print(helpers.format_result(summarize(values, use_scipy=scipy is not None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
