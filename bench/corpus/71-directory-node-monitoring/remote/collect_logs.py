"""Fetch the slurmd logs of a list of nodes through the bastion host."""
import sys
from pathlib import Path

import paramiko
from fabric import Config, Connection


def main(nodes):
    cfg = Config(overrides={"connect_kwargs": {"key_filename": str(Path.home() / ".ssh" / "id_ed25519")}})
    bastion = Connection("bastion.example.org", user="ops", config=cfg)
    out = Path("node_logs")
    out.mkdir(exist_ok=True)
    for node in nodes:
        c = Connection(node, user="ops", gateway=bastion, config=cfg, connect_timeout=15)
        try:
            c.sudo("journalctl -u slurmd --since '-1 day' > /tmp/slurmd.log", hide=True)
            c.get("/tmp/slurmd.log", local=str(out / f"{node}.log"))
        except (paramiko.ssh_exception.SSHException, OSError) as exc:
            print(f"{node}: {exc}", file=sys.stderr)
        finally:
            c.close()


if __name__ == "__main__":
    main(sys.argv[1:])
