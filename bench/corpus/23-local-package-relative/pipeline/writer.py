from datetime import datetime, timezone

import h5py
import numpy as np

from .io import load_run as _load  # noqa: F401


def write_summary(path: str, calibrated: dict, peaks: dict) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["created"] = datetime.now(timezone.utc).isoformat()
        for channel, trace in calibrated.items():
            g = f.create_group(channel)
            g["mean"] = float(np.mean(trace))
            g["peaks"] = peaks[channel]
