"""Slow clients on real sockets: each sends its request one byte at a time, the way a slowloris attack (or a
client on a bad link) does, and keeps its connection open. For the tests and the bench of issue 11, item 2."""

import socket
import threading
from typing import Any
from urllib.parse import urlsplit

# Half of them dribble their headers, half send whole headers and then dribble a declared body.
SLOW_HEADERS = (
    b"POST /webhooks/v1/notification/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    + b"".join(b"X-Slow-%d: %s\r\n" % (n, b"y" * 40) for n in range(200))
)
SLOW_BODY_HEAD = (
    b"POST /webhooks/v1/notification/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"X-Notification-Key: not-the-key\r\nContent-Length: 100000\r\n\r\n"
)


class SlowClients:
    """`count` connections to `base_url`, each sending one more byte every `interval` seconds until stopped."""

    def __init__(self, base_url: str, count: int, *, interval: float = 0.5):
        parts = urlsplit(base_url)
        self.address = (parts.hostname, parts.port)
        self.count = count
        self.interval = interval
        self.sockets: list[tuple[socket.socket, bytes]] = []
        self.sent: list[int] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._trickle, name="slow-clients", daemon=True)

    def start(self) -> "SlowClients":
        """Connect every client and start dribbling; returns self."""
        for index in range(self.count):
            connection = socket.create_connection(self.address, timeout=5)
            if index % 2:
                connection.sendall(SLOW_BODY_HEAD)
                data = b'{"body": "' + b"z" * 99990
            else:
                data = SLOW_HEADERS
            self.sockets.append((connection, data))
            self.sent.append(0)
        self._thread.start()
        return self

    def _trickle(self) -> None:
        while not self._stopping.wait(self.interval):
            for index, (connection, data) in enumerate(self.sockets):
                position = self.sent[index]
                if position >= len(data):
                    continue
                try:
                    connection.sendall(data[position:position + 1])
                    self.sent[index] += 1
                except OSError:
                    self.sent[index] = len(data)  # dropped by the server

    def still_connected(self) -> int:
        """How many of the connections the server has neither answered nor closed."""
        alive = 0
        for connection, _ in self.sockets:
            connection.setblocking(False)
            try:
                connection.recv(1, socket.MSG_PEEK)  # an answer, or b"" when closed: not waiting any more
            except BlockingIOError:
                alive += 1  # nothing to read: still waiting on us
            except OSError:
                pass
            finally:
                connection.setblocking(True)
        return alive

    def stop(self) -> None:
        """Stop dribbling and close every connection."""
        self._stopping.set()
        self._thread.join(timeout=5)
        for connection, _ in self.sockets:
            connection.close()

    def __enter__(self) -> "SlowClients":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
