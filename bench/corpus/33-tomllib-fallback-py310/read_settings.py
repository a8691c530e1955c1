"""Read run settings from a TOML file and print the resolved parameter grid."""

import itertools
import sys

try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib

import numpy as np


def grid(settings: dict):
    axes = {}
    for name, spec in settings["grid"].items():
        if isinstance(spec, dict):
            axes[name] = np.linspace(spec["start"], spec["stop"], spec["num"]).round(6).tolist()
        else:
            axes[name] = list(spec)
    names = sorted(axes)
    for values in itertools.product(*(axes[n] for n in names)):
        yield dict(zip(names, values))


def main(path: str) -> None:
    with open(path, "rb") as fh:
        settings = tomllib.load(fh)
    for i, point in enumerate(grid(settings)):
        print(i, point)


if __name__ == "__main__":
    main(sys.argv[1])
