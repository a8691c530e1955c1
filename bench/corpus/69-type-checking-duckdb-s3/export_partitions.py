"""Aggregate raw event parquet files with DuckDB and upload per-day partitions to S3."""
from __future__ import annotations

import argparse
import datetime as dt
import io
from typing import TYPE_CHECKING

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.config import Config

if TYPE_CHECKING:
    import pandas as pd
    from mypy_boto3_s3.client import S3Client

QUERY = """
SELECT date_trunc('day', ts) AS day, detector, count(*) AS n, avg(energy) AS mean_energy,
       quantile_cont(energy, 0.99) AS p99_energy
FROM read_parquet(?)
GROUP BY ALL
ORDER BY day, detector
"""


def aggregate(con: duckdb.DuckDBPyConnection, pattern: str) -> pa.Table:
    return con.execute(QUERY, [pattern]).arrow()


def upload_day(s3: S3Client, bucket: str, prefix: str, day: dt.date, table: pa.Table) -> str:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    key = f"{prefix}/day={day:%Y-%m-%d}/part-0.parquet"
    s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
    return key


def preview(table: pa.Table) -> pd.DataFrame:
    return table.slice(0, 5).to_pandas()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("pattern", help="e.g. '/scratch/events/run_*/*.parquet'")
    ap.add_argument("--bucket", default="lab-derived")
    ap.add_argument("--prefix", default="daily_rates")
    args = ap.parse_args()

    con = duckdb.connect(config={"threads": 16, "memory_limit": "32GB"})
    table = aggregate(con, args.pattern)
    s3 = boto3.client("s3", config=Config(retries={"max_attempts": 10, "mode": "adaptive"}))
    days = table.column("day").to_pylist()
    for day in sorted(set(days)):
        mask = pa.array([d == day for d in days])
        print(upload_day(s3, args.bucket, args.prefix, day, table.filter(mask)))


if __name__ == "__main__":
    main()
