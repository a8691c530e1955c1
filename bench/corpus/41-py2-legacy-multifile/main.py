"""Nightly report: modern entry point that still calls the 2014 legacy exporter."""

import sys

import pandas as pd

import legacy_export


def main(day):
    df = pd.read_csv("measurements_%s.csv" % day)
    daily = df.groupby("station").agg(tmin=("temp", "min"), tmax=("temp", "max"))
    legacy_export.push(daily.reset_index().to_dict("records"), day)


if __name__ == "__main__":
    main(sys.argv[1])
