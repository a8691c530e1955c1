"""Load the sweep configuration (YAML) and fill in defaults."""
import os

import yaml

DEFAULTS = {"seed": 1234, "n_steps": 20000, "dt": 1e-3, "outdir": "results"}


def load(path):
    with open(path) as fh:
        cfg = {**DEFAULTS, **(yaml.safe_load(fh) or {})}
    cfg["outdir"] = os.path.expandvars(cfg["outdir"])
    os.makedirs(cfg["outdir"], exist_ok=True)
    return cfg
