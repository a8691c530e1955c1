"""Verify a directory tree against a SHA-256 manifest using a process pool; fetch missing files."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Iterator

log = logging.getLogger("checksums")


@dataclass(frozen=True)
class Entry:
    digest: str
    relpath: str


def read_manifest(path: str) -> Iterator[Entry]:
    with open(path, encoding="ascii") as fh:
        for line in fh:
            digest, _, rel = line.strip().partition("  ")
            yield Entry(digest, rel)


def sha256(path: str, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def fetch(base_url: str, entry: Entry, root: str) -> None:
    with tempfile.NamedTemporaryFile(delete=False, dir=root) as tmp:
        with urllib.request.urlopen(f"{base_url}/{entry.relpath}") as resp:
            shutil.copyfileobj(resp, tmp)
    os.replace(tmp.name, os.path.join(root, entry.relpath))


def verify(root: str, manifest: str, base_url: str | None = None) -> int:
    bad = 0
    entries = list(read_manifest(manifest))
    with ProcessPoolExecutor() as pool:
        futures = {pool.submit(sha256, os.path.join(root, e.relpath)): e for e in entries
                   if os.path.exists(os.path.join(root, e.relpath))}
        for fut in as_completed(futures):
            entry = futures[fut]
            if fut.result() != entry.digest:
                log.error("checksum mismatch: %s", entry.relpath)
                bad += 1
    for entry in entries:
        if not os.path.exists(os.path.join(root, entry.relpath)) and base_url:
            log.warning("fetching missing %s", entry.relpath)
            fetch(base_url, entry, root)
    return bad


if __name__ == "__main__":
    import argparse

    logging.basicConfig(level=logging.INFO)
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("manifest")
    ap.add_argument("--base-url")
    ns = ap.parse_args()
    raise SystemExit(1 if verify(ns.root, ns.manifest, ns.base_url) else 0)
