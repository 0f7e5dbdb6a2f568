"""A misbehaving server on a real socket: it accepts connections and then sends its answer one byte at a time
(or never), so that per-read timeouts never trip. For the tests of wall-clock deadlines (HTTP clients, SMTP)."""

import socket
import threading
from typing import Any

HOST = "127.0.0.1"
# A syntactically valid HTTP answer; its body is long enough to take minutes at one byte per interval.
HTTP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
HTTP_BODY = b'{"padding": "' + b"x" * 385 + b'"}'


class TrickleServer:
    """Accepts every connection on 127.0.0.1 and, per `mode`:

    - "body": sends the HTTP head at once, then the body one byte every `interval` seconds;
    - "head": sends the HTTP head itself one byte every `interval` seconds;
    - "silent": sends nothing and keeps the connection open (an SMTP server that never greets).

    Counts connections, so a test can tell whether the client retried.
    """

    def __init__(self, mode: str = "body", *, interval: float = 0.3):
        """A TCP server that misbehaves (silent, or trickling bytes) to test client timeouts."""
        self.mode = mode
        self.interval = interval
        self.connections = 0
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept_loop, name="trickle", daemon=True)

    @property
    def port(self) -> int:
        """The bound port."""
        return self._listener.getsockname()[1]

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://{HOST}:{self.port}"

    def start(self) -> "TrickleServer":
        """Serve in a background thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and end every connection's trickle."""
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> "TrickleServer":
        """Start the server for a with block."""
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        """Stop the server when the with block ends."""
        self.stop()

    def _accept_loop(self) -> None:
        """Accept connections until stopped, serving each on its own thread."""
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        """Hold one connection open the configured way (silent, or one byte per interval)."""
        with connection:
            connection.settimeout(0.5)
            if self.mode != "silent":
                try:
                    connection.recv(65536)  # the request (its first packet is enough)
                except OSError:
                    return
            if self.mode == "body":
                connection.sendall(HTTP_HEAD)
            answer = {"body": HTTP_BODY, "head": HTTP_HEAD + HTTP_BODY, "silent": b""}[self.mode]
            for index in range(len(answer) if answer else 10**9):
                if self._stopping.wait(self.interval):
                    return
                if answer:
                    try:
                        connection.sendall(answer[index:index + 1])
                    except OSError:
                        return
