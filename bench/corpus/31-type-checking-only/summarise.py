"""Summarise a Parquet table with polars; pandas/pyarrow types appear in annotations only."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from numpy.typing import NDArray


def summarise(path: str) -> pl.DataFrame:
    df = pl.read_parquet(path)
    numeric = [c for c, t in df.schema.items() if t.is_numeric()]
    return df.select(
        [pl.col(c).mean().alias(f"{c}_mean") for c in numeric]
        + [pl.col(c).null_count().alias(f"{c}_nulls") for c in df.columns]
    )


def to_pandas(df: pl.DataFrame) -> pd.DataFrame:
    """Only for callers that already have pandas; not used by this script's main path."""
    return df.to_pandas()


def column_values(table: pa.Table, name: str) -> NDArray:
    return table.column(name).to_numpy()


if __name__ == "__main__":
    print(summarise(sys.argv[1]))
