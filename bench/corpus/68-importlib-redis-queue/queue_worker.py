"""Redis-backed work queue for simulation tasks; workers run inside SLURM jobs.

    python queue_worker.py --redis redis://login01:6379/0 --codec zstd
"""
import argparse
import importlib
import os
import socket
import time
import traceback

import numpy as np
import redis

serializer = importlib.import_module("msgpack")

# Optional compression codecs, picked on the command line.
CODECS = {
    "none": None,
    "lz4": "lz4.frame",
    "zstd": "zstandard",
}


def load_codec(name):
    module_name = CODECS[name]
    if module_name is None:
        return (lambda b: b), (lambda b: b)
    mod = importlib.import_module(module_name)
    if name == "zstd":
        return mod.ZstdCompressor(level=6).compress, mod.ZstdDecompressor().decompress
    return mod.compress, mod.decompress


def simulate(task):
    rng = np.random.default_rng(task["seed"])
    steps = rng.standard_normal((task["n_walkers"], task["n_steps"])).cumsum(axis=1)
    return {"id": task["id"], "msd": (steps ** 2).mean(axis=0)[:: task.get("stride", 100)].tolist()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", default=os.environ.get("QUEUE_URL", "redis://localhost:6379/0"))
    ap.add_argument("--codec", choices=sorted(CODECS), default="none")
    ap.add_argument("--idle-exit", type=float, default=120.0)
    args = ap.parse_args()

    compress, decompress = load_codec(args.codec)
    r = redis.Redis.from_url(args.redis)
    me = f"{socket.gethostname()}:{os.getpid()}"
    last = time.time()
    while time.time() - last < args.idle_exit:
        item = r.blpop("tasks", timeout=10)
        if item is None:
            continue
        last = time.time()
        task = serializer.unpackb(decompress(item[1]))
        try:
            result = simulate(task)
            r.rpush("results", compress(serializer.packb(result, use_bin_type=True)))
        except Exception:
            r.hset("failed", task["id"], f"{me}\n{traceback.format_exc()}")
        r.hincrby("done_by", me, 1)


if __name__ == "__main__":
    main()
