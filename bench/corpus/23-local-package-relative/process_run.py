"""Process one detector run: calibrate, find peaks, and write an HDF5 summary."""

import argparse
import logging

from pipeline import calibrate, load_run
from pipeline.peaks import find_peaks_1d
from pipeline.writer import write_summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_file")
    ap.add_argument("--gain-table", default="gains.csv")
    ap.add_argument("--out", default="summary.h5")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    raw = load_run(args.run_file)
    calibrated = calibrate(raw, args.gain_table)
    peaks = {ch: find_peaks_1d(trace) for ch, trace in calibrated.items()}
    write_summary(args.out, calibrated, peaks)
    logging.info("wrote %s (%d channels)", args.out, len(peaks))


if __name__ == "__main__":
    main()
