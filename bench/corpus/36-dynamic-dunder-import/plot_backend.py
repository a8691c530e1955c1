"""Render quick-look plots of a time series with the plotting backend available on the node."""

import os
import sys

import pandas as pd

BACKEND = os.environ.get("QUICKLOOK_BACKEND", "matplotlib")


def get_plotter():
    if BACKEND == "plotly":
        px = __import__("plotly.express", fromlist=["line"])
        return lambda df, out: px.line(df, x=df.index, y=df.columns).write_html(out + ".html")
    mpl = __import__("matplotlib")
    mpl.use("Agg")
    plt = __import__("matplotlib.pyplot", fromlist=["subplots"])

    def render(df, out):
        fig, ax = plt.subplots(figsize=(10, 3))
        df.plot(ax=ax, lw=0.7)
        fig.savefig(out + ".png", dpi=120)

    return render


def main(path: str) -> None:
    df = pd.read_csv(path, index_col=0, parse_dates=True)
    df = df.resample("1h").mean()
    get_plotter()(df, os.path.splitext(os.path.basename(path))[0])


if __name__ == "__main__":
    main(sys.argv[1])
