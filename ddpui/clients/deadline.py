"""Wall-clock deadlines for outbound HTTP calls: a whole call, not each socket read, is bounded.

httpx's timeouts apply to each connect, read and write: a server that trickles one byte every few seconds never
trips a 10 s read timeout and can hold a worker for minutes. Here every socket operation made under a deadline
gets at most the time left (`min(its own timeout, time left)`), and once the deadline has passed the call fails
with DeadlineExceeded, a timeout that prefect-client does not retry (its retries would restart the clock).

Two ways in, nested by the earliest end: `deadline(seconds)` around a block (a whole LLM call with its
fallbacks), and `DeadlineTransport(total_seconds)` for an httpx client, which bounds each request (headers
and body) by that total.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

# time.monotonic() at which the current call must end; None: no deadline.
DEADLINE: ContextVar[float | None] = ContextVar("ddpui_deadline", default=None)


class DeadlineExceeded(httpx.TimeoutException):
    """The call's wall-clock deadline passed (an httpx timeout, so callers' timeout handling applies)."""


@contextmanager
def deadline_at(end: float) -> Iterator[None]:
    """Bound every outbound socket operation in the block by `end` (time.monotonic()); an outer, earlier
    deadline still wins."""
    current = DEADLINE.get()
    token = DEADLINE.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        DEADLINE.reset(token)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound the whole block's outbound calls by `seconds` of wall-clock time from now."""
    with deadline_at(time.monotonic() + seconds):
        yield


def time_left(timeout: float | None) -> float | None:
    """The timeout one socket operation may use: its own, cut to the time left; DeadlineExceeded when none is."""
    end = DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("deadline passed")
    return left if timeout is None else min(timeout, left)


def deadline_passed() -> bool:
    """A deadline is set and has passed."""
    end = DEADLINE.get()
    return end is not None and time.monotonic() >= end


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads, writes and TLS handshake get at most the time left."""

    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read with the time left; a timeout caused by the deadline is DeadlineExceeded."""
        try:
            return self.inner.read(max_bytes, time_left(timeout))
        except httpcore.TimeoutException as exc:
            if deadline_passed():
                raise DeadlineExceeded("deadline passed while reading") from exc
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write with the time left."""
        try:
            self.inner.write(buffer, time_left(timeout))
        except httpcore.TimeoutException as exc:
            if deadline_passed():
                raise DeadlineExceeded("deadline passed while writing") from exc
            raise

    def close(self) -> None:
        """Close the connection."""
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None):
        """TLS handshake with the time left; the TLS stream is bounded the same way."""
        return DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, time_left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        """The wrapped stream's socket, addresses and TLS details."""
        return self.inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend whose connections are DeadlineStreams."""

    def __init__(self, inner: httpcore.NetworkBackend):
        self.inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        """Connect with the time left."""
        try:
            stream = self.inner.connect_tcp(host, port, time_left(timeout), local_address, socket_options)
        except httpcore.TimeoutException as exc:
            if deadline_passed():
                raise DeadlineExceeded("deadline passed while connecting") from exc
            raise
        return DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        """Connect with the time left."""
        return DeadlineStream(self.inner.connect_unix_socket(path, time_left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's connect retries), never past the deadline."""
        self.inner.sleep(min(seconds, time_left(seconds) or seconds))


class DeadlineBody(httpx.SyncByteStream):
    """A response body read under its request's deadline, whenever the caller reads it."""

    def __init__(self, inner: httpx.SyncByteStream, end: float):
        self.inner = inner
        self.end = end

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self.inner)
        while True:
            with deadline_at(self.end):
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
            yield chunk

    def close(self) -> None:
        """Release the connection."""
        self.inner.close()


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport where each request, headers and body, ends within `total_seconds` of wall-clock time.

    Takes httpx.HTTPTransport's arguments (verify, limits, retries, ...).
    """

    def __init__(self, total_seconds: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.total_seconds = total_seconds
        # httpx builds its httpcore pool without a way to pass a network backend: wrap the pool's own.
        self._pool._network_backend = DeadlineBackend(self._pool._network_backend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request with the deadline set; the body, read later, keeps the same deadline."""
        end = time.monotonic() + self.total_seconds
        with deadline_at(end):
            response = super().handle_request(request)
        response.stream = DeadlineBody(response.stream, end)
        return response


def deadline_client(total_seconds: float, **kwargs: Any) -> httpx.Client:
    """An httpx.Client whose every request is bounded by `total_seconds` (per-operation timeouts too)."""
    return httpx.Client(transport=DeadlineTransport(total_seconds), timeout=total_seconds, **kwargs)
