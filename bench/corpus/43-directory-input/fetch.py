"""Step 1: download the day's weather observations from the open-data API."""

import datetime as dt
import json
import sys
from pathlib import Path

import requests

API = "https://opendata.example.org/api/observations"


def fetch(day: dt.date, out_dir: Path = Path("raw")) -> Path:
    out_dir.mkdir(exist_ok=True)
    resp = requests.get(API, params={"date": day.isoformat(), "format": "json"}, timeout=60)
    resp.raise_for_status()
    path = out_dir / f"{day}.json"
    path.write_text(json.dumps(resp.json()))
    return path


if __name__ == "__main__":
    day = dt.date.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else dt.date.today()
    print(fetch(day))
