"""Weighted survey tables to an Excel workbook (run from the project root)."""

import json
import sys

import pandas as pd

from analysis.tables import crosstab, weighted_share
from analysis.weights import rake


def main(responses: str, margins_file: str, out: str = "tables.xlsx") -> None:
    df = pd.read_parquet(responses)
    with open(margins_file) as fh:
        margins = json.load(fh)
    weights = rake(df, margins)
    with pd.ExcelWriter(out, engine="openpyxl") as xl:
        for question in [c for c in df.columns if c.startswith("q")]:
            weighted_share(df, question, margins).to_frame("share").to_excel(xl, sheet_name=question)
        crosstab(df, "region", "q1", weights).to_excel(xl, sheet_name="region_x_q1")


if __name__ == "__main__":
    main(*sys.argv[1:])
