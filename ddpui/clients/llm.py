"""The only code that speaks to the LLM: one chat-completions call through the openai SDK.

Any OpenAI-compatible server works (OpenAI, Azure through its base URL, vLLM, Ollama). We ask for a JSON
answer with a JSON schema; a server that rejects `json_schema` is asked again with `json_object`, then with
no response_format at all (the caller parses leniently).
"""

import os
import time
from dataclasses import dataclass
from typing import Any

import openai
from django.conf import settings

RESPONSE_FORMAT_ORDER = ("json_schema", "json_object", "none")


@dataclass
class LlmAnswer:
    """What the model said and what it cost."""

    content: str
    model: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int


class LlmError(Exception):
    """The model call failed. `transient` says whether a later retry may succeed."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


def llm_configured() -> bool:
    """True when an API key is set: otherwise the offline summarizer is used."""
    return bool(settings.OPENAI_API_KEY)


# One client per process and configuration: building one (SSL context, connection pool) costs ~40 ms, a
# summary's model call with a fast server costs less. Keyed by pid because the qcluster forks its workers.
OPEN_CLIENTS: dict[tuple, openai.OpenAI] = {}


def make_client() -> openai.OpenAI:
    """This process's OpenAI client with our timeout and no SDK retries (our own schedule retries with backoff)."""
    key = (os.getpid(), settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL, settings.LLM_TIMEOUT_SECONDS)
    client = OPEN_CLIENTS.get(key)
    if client is None:
        client = openai.OpenAI(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL or None,
            timeout=settings.LLM_TIMEOUT_SECONDS,
            max_retries=0,
        )
        OPEN_CLIENTS[key] = client
    return client


def response_format_param(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `response_format` argument for one mode."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "failure_summary", "schema": schema, "strict": False}}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def retry_after_seconds(exc: openai.APIStatusError) -> float | None:
    """The server's Retry-After header in seconds, when it sent one we can read."""
    value = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def chat_json(messages: list[dict[str, str]], *, schema: dict[str, Any], end_user: str = "") -> LlmAnswer:
    """One chat completion asking for JSON that follows `schema`; raises LlmError on failure. `end_user` is
    OpenAI's `user` field (the org's slug: an id for the provider's abuse monitoring, and how a test stand-in
    tells whose request it was)."""
    client = make_client()
    configured = settings.LLM_RESPONSE_FORMAT
    modes = RESPONSE_FORMAT_ORDER[RESPONSE_FORMAT_ORDER.index(configured) if configured in RESPONSE_FORMAT_ORDER else 0 :]
    began = time.monotonic()
    for mode in modes:
        kwargs: dict[str, Any] = {"model": settings.LLM_MODEL, "messages": messages, "temperature": 0}
        if end_user:
            kwargs["user"] = end_user
        response_format = response_format_param(mode, schema)
        if response_format:
            kwargs["response_format"] = response_format
        try:
            completion = client.chat.completions.create(**kwargs)
        except openai.BadRequestError as exc:
            # Servers without structured-output support answer 400: try the next, plainer mode.
            if mode != modes[-1]:
                continue
            raise LlmError(f"LLM rejected the request: {exc}", transient=False) from exc
        except openai.RateLimitError as exc:
            raise LlmError("LLM rate limit", transient=True, retry_after=retry_after_seconds(exc)) from exc
        except openai.APIStatusError as exc:
            transient = exc.status_code >= 500 or exc.status_code in (408, 409)
            raise LlmError(f"LLM answered HTTP {exc.status_code}", transient=transient) from exc
        except openai.APITimeoutError as exc:
            raise LlmError(f"LLM timed out after {settings.LLM_TIMEOUT_SECONDS:g} s", transient=True) from exc
        except openai.APIConnectionError as exc:
            raise LlmError(f"LLM unreachable: {exc}", transient=True) from exc
        except openai.OpenAIError as exc:
            raise LlmError(f"LLM call failed: {exc}", transient=True) from exc
        except ValueError as exc:
            # The SDK raises a bare JSONDecodeError when the HTTP body is not JSON.
            raise LlmError(f"LLM answered a body that is not JSON: {exc}", transient=True) from exc
        choice = completion.choices[0] if completion.choices else None
        content = (choice.message.content if choice and choice.message else None) or ""
        usage = completion.usage
        return LlmAnswer(
            content=content,
            model=completion.model or settings.LLM_MODEL,
            tokens_in=usage.prompt_tokens if usage else None,
            tokens_out=usage.completion_tokens if usage else None,
            latency_ms=int((time.monotonic() - began) * 1000),
        )
    raise LlmError("no response format left to try", transient=False)
