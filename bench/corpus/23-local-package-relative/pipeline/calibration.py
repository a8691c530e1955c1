import csv

import numpy as np

from . import io as _io  # noqa: F401


def calibrate(raw: dict, gain_table: str) -> dict:
    with open(gain_table, newline="") as fh:
        gains = {row["channel"]: (float(row["gain"]), float(row["offset"])) for row in csv.DictReader(fh)}
    out = {}
    for channel, trace in raw.items():
        gain, offset = gains.get(channel, (1.0, 0.0))
        out[channel] = (np.asarray(trace, dtype=np.float64) - offset) * gain
    return out
