"""Read length-delimited protobuf event batches from a GCS bucket and export them as JSON."""

import argparse
import json

from google.cloud import storage
from google.protobuf import json_format
from google.protobuf.internal.decoder import _DecodeVarint32
from google.protobuf.struct_pb2 import Struct


def iter_messages(blob_bytes: bytes):
    pos = 0
    while pos < len(blob_bytes):
        size, pos = _DecodeVarint32(blob_bytes, pos)
        msg = Struct()
        msg.ParseFromString(blob_bytes[pos : pos + size])
        pos += size
        yield msg


def export(bucket_name: str, prefix: str, out_path: str) -> int:
    client = storage.Client()
    n = 0
    with open(out_path, "w", encoding="utf-8") as out:
        for blob in client.list_blobs(bucket_name, prefix=prefix):
            if not blob.name.endswith(".pb"):
                continue
            for msg in iter_messages(blob.download_as_bytes()):
                out.write(json.dumps(json_format.MessageToDict(msg)) + "\n")
                n += 1
    return n


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("bucket")
    ap.add_argument("--prefix", default="events/")
    ap.add_argument("--out", default="events.jsonl")
    a = ap.parse_args()
    print(export(a.bucket, a.prefix, a.out), "events")
