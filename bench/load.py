"""Load generation for the benchmarks: a closed loop (N clients, each sends its next request when the last
one is answered) and an open loop (requests start on a fixed schedule whether or not earlier ones are done).

httpx clients in threads, one keep-alive connection per thread, loopback only. Open-loop latency is measured
from the scheduled start, so a stalled server is not hidden by the generator waiting for it.
"""

import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

# (client, request index) -> the response
Request = Callable[[httpx.Client, int], httpx.Response]
OPEN_LOOP_THREADS = 16
WRK_TIMEOUT_SECONDS = 180
REQUEST_TIMEOUT_SECONDS = 10


@dataclass
class LoadResult:
    """What a load run measured."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0

    def add(self, latency: float, status: int | None) -> None:
        """Count one request (status None: no answer)."""
        self.latencies.append(latency)
        if status is None:
            self.errors += 1
        else:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    @property
    def ok(self) -> int:
        """Requests answered 2xx."""
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def rate(self) -> float:
        """Answered requests per second."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """Latency percentile (nearest rank), in milliseconds."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else float("nan")


class ThreadClients:
    """One httpx.Client per thread (keep-alive), all closed at the end."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.local = threading.local()
        self.lock = threading.Lock()
        self.clients: list[httpx.Client] = []

    def get(self) -> httpx.Client:
        """This thread's client."""
        client = getattr(self.local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_SECONDS)
            self.local.client = client
            with self.lock:
                self.clients.append(client)
        return client

    def close(self) -> None:
        """Close every thread's client."""
        for client in self.clients:
            client.close()


def timed(clients: ThreadClients, request: Request, index: int, start: float, result: LoadResult, lock: threading.Lock) -> None:
    """Send request `index`; record its latency from `start` and its status."""
    try:
        status = request(clients.get(), index).status_code
    except httpx.HTTPError:
        status = None
    latency = time.perf_counter() - start
    with lock:
        result.add(latency, status)


def closed_loop(base_url: str, request: Request, *, total: int, concurrency: int) -> LoadResult:
    """`concurrency` clients send `total` requests between them as fast as they are answered."""
    result, lock, clients = LoadResult(), threading.Lock(), ThreadClients(base_url)
    counter = iter(range(total))
    counter_lock = threading.Lock()

    def client_loop() -> None:
        """Take the next index until none is left."""
        while True:
            with counter_lock:
                index = next(counter, None)
            if index is None:
                return
            timed(clients, request, index, time.perf_counter(), result, lock)

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(client_loop) for _ in range(concurrency)]:
                future.result()
    finally:
        clients.close()
    result.seconds = time.perf_counter() - started
    return result


def open_loop(base_url: str, request: Request, *, rate: float, total: int, first_index: int = 0) -> LoadResult:
    """`total` requests started at `rate` per second on a fixed schedule; latency counts from the schedule.

    Every thread and its client (an SSL context, a connection) is made before the schedule starts: made lazily,
    their set-up (tens of ms of CPU each, holding the GIL) landed inside the measurement as false tail latency.
    """
    result, lock, clients = LoadResult(), threading.Lock(), ThreadClients(base_url)
    ready = threading.Barrier(OPEN_LOOP_THREADS + 1)

    def prepare() -> None:
        """Make this thread's client, then wait until every thread has one."""
        clients.get()
        ready.wait()

    try:
        with ThreadPoolExecutor(max_workers=OPEN_LOOP_THREADS) as pool:
            for _ in range(OPEN_LOOP_THREADS):
                pool.submit(prepare)
            ready.wait()
            started = time.perf_counter()
            for offset in range(total):
                scheduled = started + offset / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(timed, clients, request, first_index + offset, scheduled, result, lock)
    finally:
        clients.close()
    result.seconds = time.perf_counter() - started
    return result


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def run_wrk(url: str, *, concurrency: int, seconds: int, script: Path | None = None, script_args: list[str] = (),
            headers: dict[str, str] | None = None) -> dict:
    """A closed loop by `wrk` (2 threads, `concurrency` connections, `seconds` long): requests answered, non-2xx,
    rate, p50 and p99. wrk counts a request when its answer arrives: up to `concurrency` more may have been
    handled by the server when it stops."""
    command = ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    command += [url]
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(command, capture_output=True, text=True, timeout=WRK_TIMEOUT_SECONDS, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)$", output, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": percentiles.get("50", "-"),
        "p99": percentiles.get("99", "-"),
    }
