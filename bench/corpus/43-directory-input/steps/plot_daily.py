"""Step 3: one panel per station with the day's temperature curve."""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def plot(csv_path: str, out: str = "daily.png") -> None:
    df = pd.read_csv(csv_path, parse_dates=["time"])
    stations = sorted(df.station_id.unique())[:12]
    fig, axes = plt.subplots(3, 4, figsize=(14, 8), sharex=True, sharey=True)
    for ax, station in zip(axes.flat, stations):
        sub = df[df.station_id == station]
        ax.plot(sub.time, sub.temp_c, lw=1)
        ax.set_title(station, fontsize=8)
    fig.autofmt_xdate()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    plot(sys.argv[1])
