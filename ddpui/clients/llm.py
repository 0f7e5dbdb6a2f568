"""The only code that speaks to the LLM: one chat-completions call through the openai SDK.

Any OpenAI-compatible server works (OpenAI, Azure through its base URL, vLLM, Ollama, llama.cpp). We ask for a
JSON answer with a JSON schema. Servers differ in what they honour: llama-cpp-python's server answers HTTP 500
to `json_schema` but enforces llama.cpp's `json_object` + `schema` by grammar; others know only `json_object` or
nothing. An error answer (any 4xx/5xx) that names the response format is asked again with the next, plainer
format, and the format that worked is remembered per base URL for the life of the process, so later calls go
straight to it.
"""

import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any

import openai
from django.conf import settings

from ddpui.clients.deadline import deadline, deadline_client

RESPONSE_FORMAT_ORDER = ("json_schema", "json_object", "none")
# An error answer whose text says this is about the response format (not the key, the model or the load).
FORMAT_COMPLAINT = re.compile(r"response_format|response format|json_schema|json_object|schema|grammar", re.IGNORECASE)
# How much of a server's error text is kept in the stored error.
ERROR_TEXT_CHARS = 500
# base URL -> the response format that server honoured last (process-level: the qcluster's workers each learn).
WORKING_FORMATS: dict[str, str] = {}


@dataclass
class LlmAnswer:
    """What the model said and what it cost."""

    content: str
    model: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int
    response_format: str = ""


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
            http_client=deadline_client(settings.LLM_TIMEOUT_SECONDS),
        )
        OPEN_CLIENTS[key] = client
    return client


def response_format_param(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The `response_format` argument for one mode. `json_object` carries the schema too: llama.cpp servers
    turn it into a grammar; OpenAI-style servers ignore the extra field or name it in an error (then: plain)."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "failure_summary", "schema": schema, "strict": False}}
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def server_key() -> str:
    """Which server the remembered formats belong to: the configured base URL (OpenAI's when unset)."""
    return settings.OPENAI_BASE_URL or "https://api.openai.com/v1"


def modes_to_try() -> tuple[str, ...]:
    """The response formats to try in order: from the one this server honoured last, else the configured one."""
    start = WORKING_FORMATS.get(server_key()) or settings.LLM_RESPONSE_FORMAT
    return RESPONSE_FORMAT_ORDER[RESPONSE_FORMAT_ORDER.index(start) if start in RESPONSE_FORMAT_ORDER else 0 :]


def error_text(exc: openai.APIStatusError) -> str:
    """The server's own explanation of an error answer (its JSON `message`, else the body), shortened."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") or inner.get("detail") if isinstance(inner, dict) else inner
        text = message if isinstance(message, str) else json.dumps(body)[:ERROR_TEXT_CHARS]
    else:
        text = exc.response.text if exc.response is not None else str(exc)
    return " ".join(str(text).split())[:ERROR_TEXT_CHARS]


def names_response_format(exc: openai.APIStatusError) -> bool:
    """A 400 always may be the format (servers word it variously); another 4xx/5xx only when its text says so.
    Auth, missing model and rate-limit answers are never about the format."""
    if exc.status_code in (401, 403, 404, 408, 429):
        return False
    return exc.status_code == 400 or bool(FORMAT_COMPLAINT.search(error_text(exc)))


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
    tells whose request it was).

    The whole call, fallbacks to plainer response formats included, ends within LLM_TIMEOUT_SECONDS of
    wall-clock time: a server trickling its answer byte by byte cannot hold a worker longer. An answer cut at
    LLM_MAX_OUTPUT_TOKENS (finish_reason "length") is a format error: at temperature 0 the same request would be
    cut again, so it is not transient.
    """
    with deadline(settings.LLM_TIMEOUT_SECONDS):
        return chat_json_within_deadline(messages, schema=schema, end_user=end_user)


def chat_json_within_deadline(
    messages: list[dict[str, str]], *, schema: dict[str, Any], end_user: str = ""
) -> LlmAnswer:
    """chat_json's work, under the caller's deadline."""
    client = make_client()
    modes = modes_to_try()
    began = time.monotonic()
    refusals: list[str] = []
    for mode in modes:
        kwargs: dict[str, Any] = {
            "model": settings.LLM_MODEL, "messages": messages, "temperature": 0,
            "max_tokens": settings.LLM_MAX_OUTPUT_TOKENS,
        }
        if end_user:
            kwargs["user"] = end_user
        response_format = response_format_param(mode, schema)
        if response_format:
            kwargs["response_format"] = response_format
        try:
            completion = client.chat.completions.create(**kwargs)
        except openai.RateLimitError as exc:
            raise LlmError("LLM rate limit", transient=True, retry_after=retry_after_seconds(exc)) from exc
        except openai.APIStatusError as exc:
            explanation = error_text(exc)
            if names_response_format(exc):
                refusals.append(f"{mode}: HTTP {exc.status_code} {explanation}")
                if mode != modes[-1]:
                    continue
                # Every format refused: the same request would be refused again.
                raise LlmError(f"LLM refused every response format ({'; '.join(refusals)})", transient=False) from exc
            transient = exc.status_code >= 500 or exc.status_code in (408, 409)
            raise LlmError(f"LLM answered HTTP {exc.status_code}: {explanation}", transient=transient) from exc
        except openai.APITimeoutError as exc:
            raise LlmError(f"LLM timed out after {settings.LLM_TIMEOUT_SECONDS:g} s", transient=True) from exc
        except openai.APIConnectionError as exc:
            raise LlmError(f"LLM unreachable: {exc}", transient=True) from exc
        except openai.OpenAIError as exc:
            raise LlmError(f"LLM call failed: {exc}", transient=True) from exc
        except ValueError as exc:
            # The SDK raises a bare JSONDecodeError when the HTTP body is not JSON.
            raise LlmError(f"LLM answered a body that is not JSON: {exc}", transient=True) from exc
        WORKING_FORMATS[server_key()] = mode
        choice = completion.choices[0] if completion.choices else None
        if choice is not None and choice.finish_reason == "length":
            raise LlmError(
                f"LLM answer cut at LLM_MAX_OUTPUT_TOKENS={settings.LLM_MAX_OUTPUT_TOKENS} (finish_reason length, "
                f"format {mode})", transient=False,
            )
        content = (choice.message.content if choice and choice.message else None) or ""
        usage = completion.usage
        return LlmAnswer(
            content=content,
            model=completion.model or settings.LLM_MODEL,
            tokens_in=usage.prompt_tokens if usage else None,
            tokens_out=usage.completion_tokens if usage else None,
            latency_ms=int((time.monotonic() - began) * 1000),
            response_format=mode,
        )
    raise LlmError("no response format left to try", transient=False)
