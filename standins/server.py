"""The base every stand-in builds on: a threaded HTTP server on 127.0.0.1 that routes,
records every request and plays back scripted faults."""

import datetime
import json
import re
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
ANY_PATH = "*"

# Sent by the `invalid_json` fault: valid UTF-8, looks like JSON, does not parse.
INVALID_JSON_BYTES = b'{"truncated": [1, 2, '


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    json: Any  # the parsed body, or None when it was empty or not JSON
    time: float  # time.time() on arrival


@dataclass(frozen=True)
class Fault:
    """A scripted misbehaviour for the next request to a path.

    `delay` runs first; then `close` hangs up without answering, or `status` / `invalid_json`
    replace the normal answer. A delay alone only slows the normal answer down.
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    close: bool = False
    invalid_json: bool = False


class HttpError(Exception):
    """Raised by a route handler to answer with an error status and body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


Handler = Callable[..., tuple]


def json_default(value: Any) -> Any:
    """Serialize the non-JSON types the stand-ins store (datetimes, UUIDs, timedeltas)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError(f"cannot serialize {type(value).__name__}")


class StandinServer:
    """A small HTTP server in a daemon thread, bound to 127.0.0.1.

    Subclasses register routes with `route()`; tests inspect `requests()` and script
    misbehaviour with `add_fault()` and `latency`.
    """

    def __init__(self, port: int = 0, *, latency: float = 0.0):
        self.latency = latency
        self._port = port
        self._routes: list[tuple[str, re.Pattern, Handler]] = []
        self._lock = threading.Lock()
        self._recorded: list[RecordedRequest] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._in_flight = 0
        self._peak_in_flight = 0
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> "StandinServer":
        """Bind and serve in a background thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("stand-in already started")
        self._httpd = ThreadingHTTPServer((HOST, self._port), _RequestHandler)
        self._httpd.daemon_threads = True
        self._httpd.standin = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; wakes handlers sleeping in a delay."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> "StandinServer":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (the requested one until started)."""
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        if self._httpd is None:
            raise RuntimeError("stand-in not started")
        return f"http://{HOST}:{self.port}"

    # routing ---------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer `method` requests whose path fully matches regex `pattern`.

        The handler gets the RecordedRequest and the pattern's named groups as keyword
        arguments, and returns (status, body) or (status, body, headers). A body of None
        sends nothing, bytes go out as they are, anything else as JSON.
        """
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def error_body(self, status: int, message: str) -> Any:
        """The body of an error this server makes up itself; subclasses speak their API's dialect."""
        return {"detail": message}

    def wait(self, seconds: float) -> None:
        """Sleep that ends early when the server stops, so stop() never waits on a delay."""
        if seconds > 0:
            self._stopping.wait(seconds)

    # fault injection -------------------------------------------------------------------

    def add_fault(
        self,
        path: str = ANY_PATH,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float = 0.0,
        close: bool = False,
        invalid_json: bool = False,
        times: int = 1,
    ) -> None:
        """Queue a fault for the next `times` requests to `path` ("*" for any path)."""
        fault = Fault(status, dict(headers or {}), body, delay, close, invalid_json)
        with self._lock:
            self._faults[path].extend([fault] * times)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def pending_faults(self, path: str = ANY_PATH) -> int:
        """How many faults are still queued for `path`."""
        with self._lock:
            return len(self._faults.get(path, ()))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for key in (path, ANY_PATH):
                if self._faults.get(key):
                    return self._faults[key].popleft()
        return None

    # recorded requests -----------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Requests received so far, oldest first, optionally only one method and/or exact path."""
        with self._lock:
            recorded = list(self._recorded)
        return [
            r
            for r in recorded
            if (method is None or r.method == method.upper()) and (path is None or r.path == path)
        ]

    def clear_requests(self) -> None:
        """Forget the recorded requests and reset the concurrency peak."""
        with self._lock:
            self._recorded.clear()
            self._peak_in_flight = self._in_flight

    @property
    def request_count(self) -> int:
        """Number of requests received."""
        with self._lock:
            return len(self._recorded)

    @property
    def in_flight(self) -> int:
        """Requests being answered right now."""
        with self._lock:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """Most requests ever answered at the same moment."""
        with self._lock:
            return self._peak_in_flight

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._recorded.append(request)
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    # dispatch --------------------------------------------------------------------------

    def _dispatch(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        path_known = False
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            path_known = True
            if method != request.method:
                continue
            try:
                answer = handler(request, **match.groupdict())
            except HttpError as exc:
                return exc.status, exc.body, exc.headers
            status, body, *rest = answer
            return status, body, (rest[0] if rest else {})
        if path_known:
            return 405, self.error_body(405, "Method Not Allowed"), {}
        return 404, self.error_body(404, "Not Found"), {}


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns one HTTP exchange into a RecordedRequest and writes the stand-in's answer."""

    # HTTP/1.1 keeps connections alive, as the real servers do for pooled clients.
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections must not pin handler threads forever.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        """Handle GET."""
        self._handle()

    def do_POST(self) -> None:
        """Handle POST."""
        self._handle()

    def do_PUT(self) -> None:
        """Handle PUT."""
        self._handle()

    def do_PATCH(self) -> None:
        """Handle PATCH."""
        self._handle()

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._handle()

    def _handle(self) -> None:
        standin: StandinServer = self.server.standin
        request = self._read_request()
        standin._record(request)
        self._counted = True
        try:
            self._answer(standin, request)
        except OSError:
            # The client gave up (e.g. its timeout fired during a delay): nothing to answer.
            self.close_connection = True
        finally:
            self._uncount()

    def _uncount(self) -> None:
        """The request stops counting as in flight once its answer is decided, BEFORE the answer is written:
        the client may have read it and sent its next request before this thread runs again (GIL, a loaded
        machine), and the peak would then count a request that is over."""
        if getattr(self, "_counted", False):
            self._counted = False
            self.server.standin._done()

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        url = urlsplit(self.path)
        return RecordedRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            json=parsed,
            time=time.time(),
        )

    def _answer(self, standin: StandinServer, request: RecordedRequest) -> None:
        standin.wait(standin.latency)
        fault = standin._take_fault(request.path)
        if fault is not None:
            standin.wait(fault.delay)
        if standin._stopping.is_set():
            self._hang_up()
            return
        if fault is not None and fault.close:
            self._hang_up()
            return
        if fault is not None and fault.invalid_json:
            self._send(fault.status or 200, INVALID_JSON_BYTES, fault.headers)
            return
        if fault is not None and fault.status is not None:
            body = fault.body if fault.body is not None else standin.error_body(fault.status, "injected fault")
            self._send(fault.status, body, fault.headers)
            return
        try:
            status, body, headers = standin._dispatch(request)
        except Exception as exc:  # a stand-in bug must surface as a 500, not a dead socket
            status, body, headers = 500, standin.error_body(500, f"stand-in error: {exc!r}"), {}
        self._send(status, body, headers)

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self._uncount()
        if body is None:
            payload = b""
        elif isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body, default=json_default).encode()
        self.send_response(status)
        header_names = {k.lower() for k in headers}
        if "content-type" not in header_names and payload:
            self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)
