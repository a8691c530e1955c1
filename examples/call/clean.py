"""A plain function for `pkg call`: no argument parser, no file handling.

`pkg call` reads `raw_data` from the file given with --input (CSV, Parquet or Feather) as
the DataFrame the annotation asks for, and writes what the function returns by the log
hints of --returns (see README.md).
"""

import pandas as pd


def clean_data(raw_data: pd.DataFrame, threshold: float = 0.5) -> tuple[int, pd.DataFrame]:
    """Drop incomplete and duplicate rows and rows scoring below ``threshold``."""
    cleaned = raw_data.dropna().drop_duplicates()
    cleaned = cleaned[cleaned["score"] >= threshold].reset_index(drop=True)
    return len(cleaned), cleaned
