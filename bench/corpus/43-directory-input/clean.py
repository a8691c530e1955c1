"""Step 2: flatten raw JSON into a tidy table with unit conversions."""

import json
import sys
from pathlib import Path

import pandas as pd


def clean(path: Path) -> pd.DataFrame:
    records = json.loads(path.read_text())["observations"]
    df = pd.json_normalize(records)
    df["temp_c"] = (df["temp_f"] - 32) * 5 / 9
    df["time"] = pd.to_datetime(df["time"], utc=True)
    return df.drop(columns=["temp_f"]).dropna(subset=["station_id"])


if __name__ == "__main__":
    src = Path(sys.argv[1])
    clean(src).to_csv(src.with_suffix(".csv"), index=False)
