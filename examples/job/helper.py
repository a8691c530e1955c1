"""The local helper module of the batch-engine examples.

It lives beside ``task.py`` where the environment is built; ``pkg create`` bundles it into
the archive, so worker nodes import it from the environment, not from a copy beside the job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml


def load_params(text: str) -> dict[str, Any]:
    """Parse the YAML parameters of the job (``params.yaml``)."""
    params = yaml.safe_load(text)
    if not isinstance(params, dict):
        raise ValueError("params.yaml must hold a mapping")
    return params


def task_value(index: int, params: dict[str, Any]) -> float:
    """The result of task ``index``: ``scale * sum(k**2 for k in 0..index)``, with numpy."""
    k = np.arange(index + 1, dtype=np.float64)
    return float(params["scale"] * np.dot(k, k))


def provenance() -> dict[str, str]:
    """Where this task's Python, numpy, PyYAML and this module come from, and the code
    directory pkgtool put on sys.path (``$PKG_CODE_DIR``)."""
    import os
    import sys

    return {
        "prefix": sys.prefix,
        "code_dir": os.environ.get("PKG_CODE_DIR", ""),
        "helper": __file__,
        "numpy": np.__file__,
        "yaml": yaml.__file__,
    }
