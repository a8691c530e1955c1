"""Band-pass filter raw EEG recordings and save per-channel power in standard bands."""

import argparse
from pathlib import Path

import mne
import numpy as np

from filters import band_power, bandpass

BANDS = {"delta": (1, 4), "theta": (4, 8), "alpha": (8, 13), "beta": (13, 30)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("recordings", nargs="+", type=Path)
    args = ap.parse_args()
    for path in args.recordings:
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        data = bandpass(raw.get_data(), raw.info["sfreq"], 1.0, 40.0)
        power = {name: band_power(data, raw.info["sfreq"], *edges) for name, edges in BANDS.items()}
        np.savez(path.with_suffix(".bands.npz"), channels=raw.ch_names, **power)
        print(path.name, {k: float(v.mean()) for k, v in power.items()})


if __name__ == "__main__":
    main()
