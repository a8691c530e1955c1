"""Aggregate daily sensor CSV exports into a monthly SQLite table and a text report."""

import csv
import sqlite3
import statistics
import textwrap
from datetime import date
from itertools import groupby
from operator import itemgetter
from pathlib import Path

DB = Path("sensors.sqlite")


def read_rows(folder):
    for path in sorted(Path(folder).glob("*.csv")):
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                yield row["sensor"], date.fromisoformat(row["day"]), float(row["value"])


def store(rows):
    with sqlite3.connect(DB) as con:
        con.execute("CREATE TABLE IF NOT EXISTS readings (sensor TEXT, day TEXT, value REAL)")
        con.executemany(
            "INSERT INTO readings VALUES (?, ?, ?)",
            ((s, d.isoformat(), v) for s, d, v in rows),
        )


def report():
    with sqlite3.connect(DB) as con:
        rows = con.execute("SELECT sensor, substr(day, 1, 7), value FROM readings ORDER BY 1, 2")
        lines = []
        for (sensor, month), group in groupby(rows, key=itemgetter(0, 1)):
            values = [v for _, _, v in group]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            lines.append(f"{sensor:<12} {month}  mean={statistics.fmean(values):8.3f}  sd={spread:.3f}")
    return textwrap.indent("\n".join(lines), "  ")


if __name__ == "__main__":
    import sys

    store(read_rows(sys.argv[1] if len(sys.argv) > 1 else "exports"))
    print("Monthly summary:")
    print(report())
