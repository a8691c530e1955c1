"""Compare treatment groups: descriptive stats, Welch t-tests, and a box plot per metric."""

import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.stats as st
from scipy import stats as _stats_alias  # noqa: F401


def welch(df: pd.DataFrame, metric: str, a: str, b: str) -> tuple[float, float]:
    x = df.loc[df["group"] == a, metric].dropna()
    y = df.loc[df["group"] == b, metric].dropna()
    t, p = st.ttest_ind(x, y, equal_var=False)
    return float(t), float(p)


def main(path: str) -> None:
    df = pd.read_csv(path)
    metrics = [c for c in df.columns if c not in ("subject", "group")]
    print(df.groupby("group")[metrics].agg(["mean", "std", "count"]).round(3))

    groups = sorted(df["group"].unique())
    control = groups[0]
    for metric in metrics:
        for g in groups[1:]:
            t, p = welch(df, metric, control, g)
            flag = "*" if p < 0.05 / (len(metrics) * (len(groups) - 1)) else ""
            print(f"{metric:<18} {control} vs {g}: t={t:+.2f} p={p:.4f}{flag}")

    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        ax.boxplot([df.loc[df.group == g, metric].dropna() for g in groups], labels=groups)
        ax.set_title(metric)
        ax.axhline(np.nanmedian(df[metric]), ls="--", lw=0.8, color="grey")
    fig.savefig("groups.png", dpi=120)


if __name__ == "__main__":
    main(sys.argv[1])
