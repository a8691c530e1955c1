"""A ZeroMQ task worker: pulls msgpack-encoded jobs, runs them, pushes results to a sink."""

import os
import signal
import socket
import time

import msgpack
import numpy as np
import zmq

VENTILATOR = os.environ.get("VENTILATOR", "tcp://head-node:5557")
SINK = os.environ.get("SINK", "tcp://head-node:5558")


def handle(job: dict) -> dict:
    rng = np.random.default_rng(job["seed"])
    samples = rng.normal(job["mu"], job["sigma"], size=job["n"])
    return {"id": job["id"], "mean": float(samples.mean()), "std": float(samples.std(ddof=1))}


def main() -> None:
    ctx = zmq.Context()
    receiver = ctx.socket(zmq.PULL)
    receiver.connect(VENTILATOR)
    sender = ctx.socket(zmq.PUSH)
    sender.connect(SINK)
    poller = zmq.Poller()
    poller.register(receiver, zmq.POLLIN)

    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    host = socket.gethostname()
    while running:
        if dict(poller.poll(1000)).get(receiver) != zmq.POLLIN:
            continue
        job = msgpack.unpackb(receiver.recv(), raw=False)
        t0 = time.perf_counter()
        result = handle(job)
        result.update(host=host, seconds=time.perf_counter() - t0)
        sender.send(msgpack.packb(result, use_bin_type=True))
    ctx.destroy(linger=0)


if __name__ == "__main__":
    main()
