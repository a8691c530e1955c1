#!/usr/bin/env python3
"""Summarise HTTP status codes and slow requests from (possibly gzipped) access logs."""

import argparse
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

LINE = re.compile(
    r'(?P<ip>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) [^"]*" '
    r"(?P<status>\d{3}) (?P<size>\d+|-) (?P<secs>[\d.]+)"
)


def open_log(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def scan(paths, slow_threshold):
    statuses = Counter()
    slow = defaultdict(list)
    for path in paths:
        with open_log(path) as fh:
            for raw in fh:
                m = LINE.match(raw)
                if not m:
                    continue
                statuses[m["status"]] += 1
                secs = float(m["secs"])
                if secs >= slow_threshold:
                    ts = datetime.strptime(m["ts"], "%d/%b/%Y:%H:%M:%S %z")
                    slow[m["path"]].append((ts.isoformat(), secs))
    return statuses, slow


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--slow", type=float, default=2.0, help="seconds")
    args = parser.parse_args(argv)
    statuses, slow = scan(args.logs, args.slow)
    report = {
        "statuses": dict(statuses.most_common()),
        "slowest": {p: max(v, key=lambda t: t[1]) for p, v in slow.items()},
    }
    json.dump(report, sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
