"""Download station metadata from a flaky REST API with retries and validate it."""

from __future__ import annotations

import json
import logging
import sys

import requests
from pydantic import BaseModel, Field, ValidationError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

API = "https://api.example.org/v2/stations"
log = logging.getLogger(__name__)


class Station(BaseModel):
    id: str
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    elevation_m: float | None = None


@retry(
    retry=retry_if_exception_type((requests.ConnectionError, requests.Timeout)),
    wait=wait_exponential(multiplier=1, max=60),
    stop=stop_after_attempt(6),
)
def get_page(session: requests.Session, page: int) -> dict:
    resp = session.get(API, params={"page": page, "per_page": 500}, timeout=20)
    resp.raise_for_status()
    return resp.json()


def fetch_all() -> list[Station]:
    stations: list[Station] = []
    with requests.Session() as session:
        page = 1
        while True:
            payload = get_page(session, page)
            for raw in payload["items"]:
                try:
                    stations.append(Station.model_validate(raw))
                except ValidationError as exc:
                    log.warning("skipping %s: %s", raw.get("id"), exc.errors()[0]["msg"])
            if not payload.get("next"):
                return stations
            page += 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    json.dump([s.model_dump() for s in fetch_all()], sys.stdout, indent=1)
