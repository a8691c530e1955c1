"""Nightly ETL: load order CSV drops into the warehouse, deduplicated by order id.

Run from the repository root: PYTHONPATH=. python scripts/load_orders.py
"""

import logging
import sys

import pandas as pd
from sqlalchemy import select

from common.db import ENGINE, table
from common.settings import CHUNK_ROWS, DATA

log = logging.getLogger("etl")


def known_ids() -> set[str]:
    orders = table("orders")
    with ENGINE.connect() as conn:
        return {row[0] for row in conn.execute(select(orders.c.order_id))}


def load(day: str) -> int:
    seen = known_ids()
    total = 0
    for chunk in pd.read_csv(DATA / f"orders_{day}.csv", chunksize=CHUNK_ROWS, parse_dates=["ts"]):
        chunk = chunk[~chunk["order_id"].isin(seen)].drop_duplicates("order_id")
        chunk.to_sql("orders", ENGINE, if_exists="append", index=False)
        seen.update(chunk["order_id"])
        total += len(chunk)
    return total


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    log.info("loaded %d new orders", load(sys.argv[1]))
