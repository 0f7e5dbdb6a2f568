"""Child processes the harness starts (and how tests, benches and the demo start theirs): each in its own process
group, its output in a log file under the run directory, stopped in reverse order of start, killed at once like an
OOM killer would, and described by its log's tail when something goes wrong. Also the one poll (`wait_until`) and
the HTTP probes (`http_ok`, `http_answers`) every caller waits with.
"""

import atexit
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import httpx

LOG_TAIL_LINES = 40
STOP_TIMEOUT_SECONDS = 15
KILL_WAIT_SECONDS = 10


class HarnessError(RuntimeError):
    """Something the harness started did not come up or misbehaved; the message carries the logs' tails."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ManagedProcess:
    """One started child: its Popen, its log file, and how it wants to be stopped.

    `signal_group`: SIGTERM goes to the whole process group (servers whose children should stop with them),
    else only to the main process (qcluster: its main process drains its workers; a group SIGTERM kills
    workers mid-task and hangs the main process). Whatever is left after the timeout is SIGKILLed as a group.
    """

    name: str
    popen: subprocess.Popen
    log_path: Path
    signal_group: bool = True
    # Where this start's output begins in the log (a restarted process appends to the same file).
    log_start: int = 0

    def is_running(self) -> bool:
        """The main process has not exited."""
        return self.popen.poll() is None

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the process's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def output_since_start(self) -> str:
        """What this process (not an earlier one with the same log) has written so far."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_start)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def describe(self) -> str:
        """Name, state and log tail, for an error message."""
        state = "running" if self.is_running() else f"exited with {self.popen.returncode}"
        return f"--- {self.name} ({state}), log {self.log_path} ---\n{self.tail()}"

    def send(self, signum: int) -> None:
        """Send a signal to the process (or its group), ignoring one that is already gone."""
        try:
            if self.signal_group:
                os.killpg(self.popen.pid, signum)
            else:
                self.popen.send_signal(signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole process group at once (main process, sentinel, workers): nothing drains, as when the
        host's OOM killer or a power loss takes it."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=KILL_WAIT_SECONDS)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL whatever is left of the process group."""
        if self.is_running():
            self.send(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Stragglers: workers or grandchildren that outlived the main process.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def descendants(pid: int) -> list[int]:
    """Every live descendant of a process, from /proc (psutil is not installed)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            # The command name in field 2 may hold spaces: the parent pid is the 2nd field after its ")".
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def socket_inodes_to_port(port: int) -> set[str]:
    """Inodes of the established TCP sockets whose REMOTE port is `port` (clients of a local server)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":
                inodes.add(fields[9])
    return inodes


def pids_connected_to(root_pid: int, port: int) -> list[int]:
    """The descendants of `root_pid` holding an open connection to 127.0.0.1:`port` (which worker to kill)."""
    wanted = {f"socket:[{inode}]" for inode in socket_inodes_to_port(port)}
    holders = []
    for pid in descendants(root_pid):
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if links & wanted:
            holders.append(pid)
    return holders


@dataclass
class ProcessStack:
    """The processes of one run, stopped in reverse order of start by stop_all (also at interpreter exit)."""

    run_dir: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop_all)

    def start(
        self, name: str, command: list[str], *, env: dict[str, str], cwd: Path, signal_group: bool = True
    ) -> ManagedProcess:
        """Start a child in its own session (process group), stdout and stderr to `<run_dir>/<name>.log`."""
        log_path = self.run_dir / f"{name}.log"
        log_start = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = ManagedProcess(
            name=name, popen=popen, log_path=log_path, signal_group=signal_group, log_start=log_start
        )
        self.processes.append(process)
        return process

    def remove(self, process: ManagedProcess) -> None:
        """Stop one process and forget it (to restart it with another environment)."""
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        """Stop every process, last started first. Safe to call twice, and after an interrupted call: a
        process is forgotten only once it is stopped."""
        while self.processes:
            self.processes[-1].stop()
            self.processes.pop()

    def describe(self) -> str:
        """Every process's state and log tail."""
        return "\n".join(process.describe() for process in self.processes)


def wait_until(
    check: Callable[[], object],
    *,
    timeout: float,
    what: str,
    watch: Sequence[ManagedProcess] = (),
    interval: float = 0.25,
    progress: Callable[[float], None] | None = None,
) -> object:
    """Call `check` until it returns something truthy and return that; HarnessError after `timeout` seconds
    or as soon as a watched process exits, with the watched processes' log tails."""
    started = time.monotonic()
    while True:
        result = check()
        if result:
            return result
        elapsed = time.monotonic() - started
        dead = [process for process in watch if not process.is_running()]
        if dead or elapsed > timeout:
            reason = f"{', '.join(p.name for p in dead)} exited" if dead else f"not within {timeout:.0f} s"
            tails = "\n".join(process.describe() for process in watch)
            raise HarnessError(f"waiting for {what}: {reason}\n{tails}")
        if progress:
            progress(elapsed)
        time.sleep(interval)


def http_ok(url: str) -> bool:
    """The URL answers 2xx right now."""
    try:
        return httpx.get(url, timeout=2).is_success
    except httpx.HTTPError:
        return False


def http_answers(url: str) -> bool:
    """Something answers HTTP at the URL right now, whatever the status."""
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True
