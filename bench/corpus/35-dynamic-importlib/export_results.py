"""Export a results table in the format named on the command line; exporters load lazily."""

import argparse
import importlib
import json

import numpy as np

FORMATS = ("csv", "parquet", "markdown")


def load_exporter(fmt: str):
    # exporters/<fmt>.py, resolved at run time from a local folder
    return importlib.import_module(f"exporters.{fmt}")


def compressor():
    zstd = importlib.import_module("zstandard")
    return zstd.ZstdCompressor(level=10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--format", choices=FORMATS, default="csv")
    ap.add_argument("--out", default="results.out")
    ap.add_argument("--compress", action="store_true")
    args = ap.parse_args()

    with open(args.results) as fh:
        rows = json.load(fh)
    arr = np.array([[r["x"], r["y"], r["err"]] for r in rows])
    payload = load_exporter(args.format).render(arr)
    if args.compress:
        payload = compressor().compress(payload.encode())
        args.out += ".zst"
    mode = "wb" if isinstance(payload, bytes) else "w"
    with open(args.out, mode) as fh:
        fh.write(payload)


if __name__ == "__main__":
    main()
