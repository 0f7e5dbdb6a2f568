"""An OpenAI-compatible chat-completions stand-in: records what the model was sent, answers
with a configurable responder, and can misbehave the ways real LLM endpoints do."""

import json
import math
import re
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable

from standins.server import HttpError, RecordedRequest, StandinServer

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
DEFAULT_MODEL = "standin-llm"

# Roughly four characters per token for English text and logs; exact counts need the model's tokenizer.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4

# Log line markers the default responder treats as evidence, strongest first.
EVIDENCE_RE = re.compile(r"traceback|exception|error|fatal|failed|failure|denied|timed? ?out", re.IGNORECASE)
# A line number the caller may have prefixed to a line: "12|", "12:", "[12]", "L12 ".
LINE_NUMBER_RE = re.compile(r"^\s*\[?L?(\d+)\]?[|:\s]")
TRANSIENT_RE = re.compile(r"timed? ?out|timeout|\b50[234]\b|rate limit|connection (reset|refused)|temporar", re.IGNORECASE)
CATEGORY_RULES = [
    (re.compile(r"permission|denied|\b40[13]\b|unauthori[sz]ed|credential|scope", re.IGNORECASE), "permissions"),
    (re.compile(r"out of memory|\boom\b|killed|memory", re.IGNORECASE), "resources"),
    (re.compile(r"not found|does not exist|no such|missing", re.IGNORECASE), "missing_object"),
    (TRANSIENT_RE, "transient"),
    (re.compile(r"test failed|accepted_values|assert", re.IGNORECASE), "data_quality"),
]

Responder = Callable[[dict], str]


def estimate_tokens(text: str) -> int:
    """Token estimate used for `usage`."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        # Content parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def prompt_text(body: dict) -> str:
    """Every message's text in a chat request, joined: what the model 'read'."""
    return "\n".join(_message_text(m) for m in body.get("messages", []))


def _schema_enum(body: dict, field: str) -> list | None:
    response_format = body.get("response_format") or {}
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    return ((schema.get("properties") or {}).get(field) or {}).get("enum")


def default_summary(body: dict) -> str:
    """A valid JSON failure summary built from the last user message of a chat request."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = _message_text(users[-1]) if users else prompt_text(body)
    lines = text.splitlines()
    evidence = []
    for index, line in enumerate(lines, start=1):
        if EVIDENCE_RE.search(line):
            numbered = LINE_NUMBER_RE.match(line)
            evidence.append({"line": int(numbered.group(1)) if numbered else index, "text": line.strip()[:300]})
        if len(evidence) == 3:
            break
    headline = evidence[0]["text"] if evidence else (lines[-1].strip() if lines else "No log lines were given")
    category = next((name for pattern, name in CATEGORY_RULES if pattern.search(text)), "unknown")
    allowed = _schema_enum(body, "category")
    if allowed and category not in allowed:
        category = "other" if "other" in allowed else allowed[0]
    transient = bool(TRANSIENT_RE.search(text))
    summary = {
        "title": headline[:80],
        "summary": f"The run failed. The clearest signal in the log is: {headline[:200]}",
        "root_cause": headline[:300],
        "category": category,
        "fix_steps": ["Read the quoted error line.", "Fix the cause it names.", "Re-run the pipeline."],
        "evidence": evidence,
        "is_transient": transient,
        "confidence": 0.7 if evidence else 0.2,
    }
    return json.dumps(summary)


class LlmStandin(StandinServer):
    """Fake OpenAI-compatible endpoint. Point the SDK at `base_url` (it ends in /v1).

    `responder(body) -> content` makes each answer (default: default_summary). `add_content()`
    queues literal contents that are served first (e.g. "not json"). With
    `reject_json_schema`, a json_schema response_format gets `json_schema_status` (400 as some servers do;
    500 as llama-cpp-python's server does).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        latency: float = 0.0,
        model: str = DEFAULT_MODEL,
        responder: Responder | None = None,
        reject_json_schema: bool = False,
        json_schema_status: int = 400,
        api_key: str | None = None,
    ):
        super().__init__(port, latency=latency)
        self.model = model
        self.responder = responder or default_summary
        self.reject_json_schema = reject_json_schema
        self.json_schema_status = json_schema_status
        self.api_key = api_key
        self._scripted_lock = threading.Lock()
        self._scripted: deque[str] = deque()
        self.route("POST", CHAT_PATH, self._chat)
        self.route("GET", MODELS_PATH, self._models)

    @property
    def base_url(self) -> str:
        """The value for openai.OpenAI(base_url=...)."""
        return f"{self.url}/v1"

    def error_body(self, status: int, message: str) -> Any:
        """OpenAI's error envelope."""
        error_type = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
        return {"error": {"message": message, "type": error_type, "param": None, "code": None}}

    # scripting -------------------------------------------------------------------------

    def add_content(self, *contents: str) -> None:
        """Queue literal assistant contents, served (one per request) before the responder."""
        with self._scripted_lock:
            self._scripted.extend(contents)

    def fail_next(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        """The next `times` chat requests get `status` (with Retry-After when given)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.add_fault(CHAT_PATH, status=status, headers=headers, times=times)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """The next `times` chat requests are answered only after `seconds`."""
        self.add_fault(CHAT_PATH, delay=seconds, times=times)

    # recorded --------------------------------------------------------------------------

    def chat_bodies(self) -> list[dict]:
        """The JSON bodies of every chat-completions request, oldest first."""
        return [r.json for r in self.requests("POST", CHAT_PATH)]

    def prompts(self) -> list[str]:
        """The message text of every chat-completions request, oldest first."""
        return [prompt_text(body or {}) for body in self.chat_bodies()]

    # endpoints -------------------------------------------------------------------------

    def _check_key(self, request: RecordedRequest) -> None:
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise HttpError(
                401,
                {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}},
            )

    def _models(self, request: RecordedRequest) -> tuple:
        self._check_key(request)
        return 200, {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "standin"}]}

    def _bad_request(self, message: str, param: str) -> HttpError:
        return HttpError(400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}})

    def _chat(self, request: RecordedRequest) -> tuple:
        self._check_key(request)
        body = request.json
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            raise self._bad_request("'messages' is a required property", "messages")
        if body.get("stream"):
            raise self._bad_request("the stand-in does not stream", "stream")
        format_type = (body.get("response_format") or {}).get("type", "text")
        if format_type not in ("text", "json_object", "json_schema"):
            raise self._bad_request(f"Invalid value for response_format.type: {format_type}", "response_format")
        if format_type == "json_schema" and self.reject_json_schema:
            message = "response_format of type 'json_schema' is not supported by this model"
            if self.json_schema_status != 400:
                raise HttpError(self.json_schema_status, self.error_body(self.json_schema_status, message))
            raise self._bad_request(message, "response_format")
        with self._scripted_lock:
            content = self._scripted.popleft() if self._scripted else None
        if content is None:
            content = self.responder(body)
        finish_reason = "stop"
        budget = body.get("max_completion_tokens") or body.get("max_tokens")
        if budget and estimate_tokens(content) > budget:
            # A real model stops mid-answer at its token budget; callers must handle "length".
            content = content[: budget * CHARS_PER_TOKEN]
            finish_reason = "length"
        prompt_tokens = estimate_tokens(prompt_text(body)) + TOKENS_PER_MESSAGE * len(body["messages"])
        completion_tokens = estimate_tokens(content)
        return 200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_standin",
        }
