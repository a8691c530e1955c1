"""A private single-node Slurm for the engine tests: real ``munged``, ``slurmctld`` and
``slurmd``, private key, socket, ports and state directory, started and stopped by pid file.

The daemons cannot be bound to loopback (they listen on all interfaces, on free ports), so
they authenticate with munge and a key made for the session, not ``auth/none``: nothing
outside this machine can submit jobs, which run as root or as ``nobody`` here.

Measured on Debian 12 (Slurm 22.05): idle ~0.2 s after start; batch jobs start within about a
second of submission with ``batch_sched_delay=0,sched_min_interval=0``. ``sbatch --wait`` polls
at 2 s then 8 s, so :meth:`Slurm.wait` polls ``squeue`` instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
"""Started in this order, stopped in the reverse order."""
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo", "mungekey")
CPUS = 8
"""CPUs the node declares (``config_overrides``): more than this machine's 2 cores, so that an
8-task array of short tasks runs at once instead of in four rounds."""


def _which(name: str) -> str | None:
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def missing_binaries() -> list[str]:
    """The programs (Slurm daemons and clients, runuser) not on PATH or in /usr/sbin."""
    return [name for name in (*DAEMONS, *CLIENTS, "runuser") if _which(name) is None]


def _as_user(user: str | None) -> list[str]:
    return [_which("runuser") or "runuser", "-u", user, "--"] if user else []


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class JobTask:
    """One job (or array task) as ``scontrol show job`` reports it."""

    job_id: str
    state: str
    exit_code: str


class Slurm:
    """A running private Slurm rooted at ``root`` (conf, state, spool, logs, pid files)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.host = socket.gethostname().split(".")[0]

    @property
    def env(self) -> dict[str, str]:
        """Variables the Slurm clients need (add them to a submitter's environment)."""
        return {"SLURM_CONF": str(self.conf)}

    @property
    def munge_socket(self) -> Path:
        return self.root / "munge" / "socket"

    def write_conf(self) -> None:
        for name in ("state", "spool", "log", "munge"):
            (self.root / name).mkdir(mode=0o755, parents=True, exist_ok=True)
        (self.root / "key").mkdir(mode=0o700, exist_ok=True)
        r = self.root
        self.conf.write_text(
            f"""\
ClusterName=pkgtooltest
SlurmctldHost={self.host}(127.0.0.1)
SlurmUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
DefMemPerCPU=256
ReturnToService=2
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
InactiveLimit=0
MinJobAge=300
KillWait=2
Waittime=0
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={CPUS} RealMemory=8192 State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
"""
        )

    def command(self, *args: str, env: Mapping[str, str] | None = None, user: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run a Slurm client (as ``user`` through ``runuser`` when given)."""
        argv = [*_as_user(user), *args]
        full_env = {**(os.environ if env is None else env), **self.env}
        proc = subprocess.run(
            argv, env=full_env, capture_output=True, text=True, timeout=60, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stderr}")
        return proc

    def start(self, timeout: float = 30.0) -> None:
        """Write the configuration, start both daemons (they daemonize) and wait until the
        node is idle. Raises ``AssertionError`` with the log tails when it does not come up."""
        self.write_conf()
        env = {**os.environ, **self.env}
        key = self.root / "key" / "munge.key"
        subprocess.run([_which("mungekey") or "mungekey", "-c", "-k", str(key)], check=True)
        munged = [
            _which("munged") or "munged", f"--socket={self.munge_socket}",
            f"--key-file={key}", f"--pid-file={self.root / 'munged.pid'}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
            f"--seed-file={self.root / 'key' / 'munged.seed'}",
        ]  # fmt: skip
        subprocess.run(munged, env=env, check=True, timeout=30)
        for daemon in DAEMONS[1:]:
            program = _which(daemon) or daemon
            subprocess.run([program, "-f", str(self.conf)], env=env, check=True, timeout=30)
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.command("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.1)
        raise AssertionError(
            f"Slurm node not idle after {timeout} s (state {state!r})\n" + self.logs()
        )

    def logs(self) -> str:
        parts = []
        for log in sorted((self.root / "log").glob("*.log")):
            parts.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-20:]))
        return "\n".join(parts)

    def submit(self, *args: str, env: Mapping[str, str] | None = None, user: str | None = None,
               cwd: Path | None = None) -> str:  # fmt: skip
        """``sbatch --parsable ARGS`` from ``cwd``; returns the job id."""
        argv = [*_as_user(user), "sbatch", "--parsable", *args]
        full_env = {**(os.environ if env is None else env), **self.env}
        proc = subprocess.run(
            argv, env=full_env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0, f"sbatch failed: {proc.stderr}"
        return proc.stdout.strip().split(";")[0]

    def active(self, job_id: str) -> bool:
        """Whether any task of ``job_id`` is still pending, running or completing."""
        proc = self.command("squeue", "-h", "-j", job_id, "-o", "%i %T", check=False)
        return bool(proc.stdout.strip())

    def wait(self, job_id: str, timeout: float = 120.0) -> list[JobTask]:
        """Poll until ``job_id`` has left the queue; return each of its tasks' final state."""
        deadline = time.monotonic() + timeout
        while self.active(job_id):
            if time.monotonic() > deadline:
                self.command("scancel", job_id, check=False)
                raise AssertionError(f"job {job_id} still queued after {timeout} s")
            time.sleep(0.2)
        return self.tasks(job_id)

    def tasks(self, job_id: str) -> list[JobTask]:
        out = self.command("scontrol", "-o", "show", "job", job_id).stdout
        result = []
        for line in out.splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            result.append(JobTask(fields["JobId"], fields["JobState"], fields["ExitCode"]))
        return result

    def cancel_all(self) -> None:
        """Cancel every job in the queue and wait (15 s at most) until it is empty."""
        if not self.conf.exists():
            return
        ids = self.command("squeue", "-h", "-o", "%i", check=False).stdout.split()
        if ids:
            self.command("scancel", *ids, check=False)
            deadline = time.monotonic() + 15
            while (
                time.monotonic() < deadline
                and self.command("squeue", "-h", check=False).stdout.strip()
            ):
                time.sleep(0.2)

    def stop(self) -> None:
        """Cancel every job, then stop both daemons by their pid files (TERM, then KILL)."""
        self.cancel_all()
        for daemon in reversed(DAEMONS):
            _stop_by_pid_file(self.root / f"{daemon}.pid", daemon)


def _stop_by_pid_file(pid_file: Path, name: str) -> None:
    """Stop the process named in ``pid_file`` if it is still ``name`` (no pid reuse)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if not _is_process(pid, name):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _is_process(pid, name):
        time.sleep(0.1)
    if _is_process(pid, name):
        os.kill(pid, signal.SIGKILL)


def _is_process(pid: int, name: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) state ...": a zombie is as good as gone
    comm, _, rest = stat.partition(") ")
    return comm.endswith(f"({name}") and not rest.startswith("Z")


@contextlib.contextmanager
def running_slurm(root: Path) -> Iterator[Slurm]:
    """Start a private Slurm in ``root`` and stop it on exit, whatever happened."""
    slurm = Slurm(root)
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.stop()


def job_tasks_ok(tasks: Sequence[JobTask]) -> bool:
    return bool(tasks) and all(t.state == "COMPLETED" and t.exit_code == "0:0" for t in tasks)
