"""Deduplicate JSON-lines records by a normalised key; uses fast libraries when present."""

import hashlib
import sys
import unicodedata

import requests

try:
    import orjson as json_impl

    def dumps(obj):
        return json_impl.dumps(obj, option=json_impl.OPT_SORT_KEYS).decode()

except ImportError:  # pragma: no cover - fallback
    import json as json_impl

    def dumps(obj):
        return json_impl.dumps(obj, sort_keys=True)


try:
    from tqdm import tqdm
except ImportError:
    def tqdm(iterable, **_):
        return iterable

try:
    import xxhash
except (ImportError, ModuleNotFoundError):
    xxhash = None


def key(record: dict) -> str:
    name = unicodedata.normalize("NFKC", record.get("name", "")).casefold().strip()
    text = f"{name}|{record.get('postcode', '').replace(' ', '')}"
    if xxhash is not None:
        return xxhash.xxh3_64_hexdigest(text)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def main(url: str) -> None:
    lines = requests.get(url, timeout=60).text.splitlines()
    seen = set()
    for line in tqdm(lines, unit="rec"):
        record = json_impl.loads(line)
        k = key(record)
        if k not in seen:
            seen.add(k)
            sys.stdout.write(dumps(record) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
