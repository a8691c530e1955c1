"""Verify signed result bundles from instrument PCs and store them in MongoDB."""
import asyncio
import datetime as dt
import json
import os
from pathlib import Path

import httpx
import structlog
from bson import ObjectId
from bson.json_util import dumps
from nacl.encoding import HexEncoder
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from pydantic import BaseModel, Field, ValidationError
from pymongo import MongoClient, UpdateOne

log = structlog.get_logger()


class Measurement(BaseModel):
    sample_id: str
    instrument: str
    taken_at: dt.datetime
    values: dict[str, float] = Field(default_factory=dict)


def verify(bundle: dict, keys: dict[str, VerifyKey]) -> list[Measurement]:
    key = keys[bundle["instrument"]]
    payload = key.verify(bundle["payload"].encode(), HexEncoder.decode(bundle["signature"]))
    return [Measurement(**m) for m in json.loads(payload)]


async def fetch_bundles(urls: list[str]) -> list[dict]:
    async with httpx.AsyncClient(timeout=30, http2=False) as client:
        responses = await asyncio.gather(*(client.get(u) for u in urls), return_exceptions=True)
    return [r.json() for r in responses if isinstance(r, httpx.Response) and r.status_code == 200]


def main():
    keys = {p.stem: VerifyKey(p.read_text().strip(), encoder=HexEncoder) for p in Path("keys").glob("*.pub")}
    urls = [f"http://{name}.lab.internal:8000/bundle/latest" for name in keys]
    db = MongoClient(os.environ.get("MONGO_URI", "mongodb://localhost:27017"))["lab"]
    ops, bad = [], 0
    for bundle in asyncio.run(fetch_bundles(urls)):
        try:
            for m in verify(bundle, keys):
                ops.append(UpdateOne({"sample_id": m.sample_id, "taken_at": m.taken_at},
                                     {"$set": m.model_dump(), "$setOnInsert": {"_id": ObjectId()}}, upsert=True))
        except (BadSignatureError, ValidationError, KeyError) as exc:
            bad += 1
            log.warning("rejected bundle", instrument=bundle.get("instrument"), error=str(exc))
    if ops:
        res = db.measurements.bulk_write(ops, ordered=False)
        log.info("stored", upserted=res.upserted_count, modified=res.modified_count, rejected=bad)
    print(dumps(db.measurements.find_one(sort=[("taken_at", -1)])))


if __name__ == "__main__":
    main()
