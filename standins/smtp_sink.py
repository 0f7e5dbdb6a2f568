"""A local SMTP sink on a real socket: speaks enough SMTP (RFC 5321) for Django's SMTP backend and keeps every
message received, parsed. Used by the tests and the demo instead of a mail server."""

import email
import email.policy
import socketserver
import threading
import time
from email.message import EmailMessage

HOST = "127.0.0.1"


class SmtpSink:
    """Start, point EMAIL_HOST/EMAIL_PORT at `port`, read `messages`; `fail_next(n)` answers 451 to n messages."""

    def __init__(self, port: int = 0):
        self.messages: list[EmailMessage] = []
        self.received_at: list[float] = []
        self._lock = threading.Lock()
        self._failures = 0
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            """One SMTP session."""

            def handle(self) -> None:
                """Greet, then answer commands until QUIT."""
                self.reply("220 sink ESMTP")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line.decode("ascii", "replace").strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 sink")
                    elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        self.reply(sink.accept(self.read_data()))
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

            def read_data(self) -> bytes:
                """The message up to the lone dot, dot-unstuffed."""
                lines = []
                while True:
                    line = self.rfile.readline()
                    if not line or line.rstrip(b"\r\n") == b".":
                        break
                    lines.append(line[1:] if line.startswith(b"..") else line)
                return b"".join(lines)

            def reply(self, text: str) -> None:
                """One reply line."""
                self.wfile.write(text.encode("ascii") + b"\r\n")

        self.server = socketserver.ThreadingTCPServer((HOST, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def accept(self, raw: bytes) -> str:
        """Keep a message, or refuse it while a failure is scripted."""
        with self._lock:
            if self._failures:
                self._failures -= 1
                return "451 try again later"
            self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
            self.received_at.append(time.time())
        return "250 queued"

    def fail_next(self, count: int) -> None:
        """Answer 451 (temporary failure) to the next `count` messages."""
        with self._lock:
            self._failures = count

    @property
    def port(self) -> int:
        """The port the sink listens on."""
        return self.server.server_address[1]

    def start(self) -> "SmtpSink":
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[str]:
        """The plain-text bodies received, oldest first."""
        return [message.get_body(("plain",)).get_content().replace("\r\n", "\n") for message in self.messages]
