"""Fit logistic growth models to every colony count table and report closed-form doubling times.

    python fit_population.py counts/*.csv --out fits.csv
"""
import argparse

import numpy as np

from popmodel import fit_all, load_counts
from popmodel.symbolic import doubling_time_expr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tables", nargs="+")
    ap.add_argument("--out", default="fits.csv")
    args = ap.parse_args()

    counts = load_counts(args.tables)
    fits = fit_all(counts)
    expr, evaluate = doubling_time_expr()
    fits["doubling_time_h"] = evaluate(fits["rate"].to_numpy())
    fits["log10_K"] = np.log10(fits["capacity"])
    print(f"doubling time = {expr}")
    fits.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
