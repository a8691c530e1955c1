"""Push per-node resource usage to the Prometheus pushgateway every minute (cron on each node)."""
import os
import socket

import psutil
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

GATEWAY = os.environ.get("PUSHGATEWAY", "monitor01:9091")


def main():
    reg = CollectorRegistry()
    host = socket.gethostname()
    cpu = Gauge("node_cpu_percent", "CPU utilisation", ["host"], registry=reg)
    mem = Gauge("node_mem_used_bytes", "Used memory", ["host"], registry=reg)
    scratch = Gauge("node_scratch_free_bytes", "Free space on /scratch", ["host"], registry=reg)
    procs = Gauge("node_user_procs", "Processes per user", ["host", "user"], registry=reg)

    cpu.labels(host).set(psutil.cpu_percent(interval=1))
    mem.labels(host).set(psutil.virtual_memory().used)
    scratch.labels(host).set(psutil.disk_usage("/scratch").free)
    counts = {}
    for p in psutil.process_iter(["username"]):
        counts[p.info["username"]] = counts.get(p.info["username"], 0) + 1
    for user, n in counts.items():
        procs.labels(host, user or "?").set(n)
    push_to_gateway(GATEWAY, job="node_usage", registry=reg, grouping_key={"instance": host})


if __name__ == "__main__":
    main()
