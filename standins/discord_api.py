"""A Discord-shaped webhook server: POST /api/webhooks/{id}/{token} with {"content": ...} answers 204, as
Discord's "execute webhook" does; validates what Discord validates (content present, at most 2000 characters)."""

from standins.server import HttpError, RecordedRequest, StandinServer

WEBHOOK_PATH = r"/api/webhooks/(?P<webhook_id>\d+)/(?P<token>[A-Za-z0-9_\-]+)"


class DiscordStandin(StandinServer):
    """Fake Discord webhooks on a real socket; `messages()` gives the contents received, oldest first."""

    def __init__(self, port: int = 0, *, latency: float = 0.0):
        super().__init__(port, latency=latency)
        self.accepted: list[str] = []
        self.route("POST", WEBHOOK_PATH, self._execute)

    def webhook_url(self, webhook_id: str = "123456", token: str = "standin-token") -> str:
        """A webhook URL on this server."""
        return f"{self.url}/api/webhooks/{webhook_id}/{token}"

    def error_body(self, status: int, message: str) -> dict:
        """Discord's error shape."""
        return {"message": message, "code": 0}

    def _execute(self, request: RecordedRequest, webhook_id: str, token: str) -> tuple:
        """Execute webhook: 204 on success, 400 for what Discord refuses."""
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("content"), str) or not body["content"]:
            raise HttpError(400, {"message": "Cannot send an empty message", "code": 50006})
        if len(body["content"]) > 2000:
            raise HttpError(400, {"message": "Invalid Form Body", "code": 50035})
        self.accepted.append(body["content"])
        return 204, None

    def messages(self) -> list[str]:
        """The contents accepted so far (a faulted request is not a message), oldest first."""
        return list(self.accepted)
