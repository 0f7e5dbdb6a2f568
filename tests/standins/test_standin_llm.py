"""The LLM stand-in driven by the real openai SDK over sockets."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from standins.llm_api import CHAT_PATH, LlmStandin

LOG = "\n".join(
    [
        "12| 10:00:01 INFO Running with dbt=1.8.0",
        "13| 10:00:02 ERROR Database Error in model stg_households",
        '14| 10:00:02 ERROR column "hh_size" does not exist',
    ]
)
SUMMARY_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "failure_summary",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"category": {"type": "string", "enum": ["missing_object", "permissions", "other"]}},
        },
    },
}
SUMMARY_KEYS = {"title", "summary", "root_cause", "category", "fix_steps", "evidence", "is_transient", "confidence"}


def client_for(standin: LlmStandin, timeout: float = 5.0, max_retries: int = 0) -> openai.OpenAI:
    """An SDK client aimed at the stand-in."""
    return openai.OpenAI(base_url=standin.base_url, api_key="x", timeout=timeout, max_retries=max_retries)


def ask(client: openai.OpenAI, **kwargs):
    """One chat completion with a system prompt and the test log."""
    messages = [{"role": "system", "content": "Summarize the failure as JSON."}, {"role": "user", "content": LOG}]
    return client.chat.completions.create(model="gpt-test", messages=messages, **kwargs)


@pytest.mark.parametrize("response_format", [SUMMARY_SCHEMA, {"type": "json_object"}, None])
def test_answers_a_parsed_json_summary(llm_standin, response_format):
    """Every response_format mode gets a parseable summary, and the request is recorded."""
    extra = {"response_format": response_format} if response_format else {}
    completion = ask(client_for(llm_standin), **extra)
    summary = json.loads(completion.choices[0].message.content)
    assert set(summary) == SUMMARY_KEYS
    assert summary["category"] == "missing_object"
    assert summary["evidence"][0] == {"line": 13, "text": "13| 10:00:02 ERROR Database Error in model stg_households"}
    assert summary["is_transient"] is False
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    (body,) = llm_standin.chat_bodies()
    assert body.get("response_format") == response_format
    assert "hh_size" in llm_standin.prompts()[0]


def test_rejecting_json_schema_gives_bad_request():
    """A server without json_schema support answers 400, so callers can fall back to json_object."""
    with LlmStandin(reject_json_schema=True) as standin:
        client = client_for(standin)
        with pytest.raises(openai.BadRequestError):
            ask(client, response_format=SUMMARY_SCHEMA)
        assert json.loads(ask(client, response_format={"type": "json_object"}).choices[0].message.content)


def test_500_and_429_raise_sdk_errors(llm_standin):
    """Server errors and rate limits surface as the SDK's own error classes."""
    client = client_for(llm_standin)
    llm_standin.fail_next(500)
    with pytest.raises(openai.InternalServerError):
        ask(client)
    llm_standin.fail_next(429, retry_after=3)
    with pytest.raises(openai.RateLimitError) as limited:
        ask(client)
    assert limited.value.response.headers["retry-after"] == "3"
    assert limited.value.body["type"] == "rate_limit_exceeded"


def test_sdk_retries_after_retry_after(llm_standin):
    """The SDK honours a short Retry-After and succeeds on its retry."""
    llm_standin.fail_next(429, retry_after=0.1)
    completion = ask(client_for(llm_standin, max_retries=1))
    assert json.loads(completion.choices[0].message.content)
    assert llm_standin.request_count == 2


def test_delay_past_client_timeout_times_out(llm_standin):
    """A slow answer trips the client timeout instead of hanging the caller."""
    llm_standin.delay_next(2.0)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(client_for(llm_standin, timeout=0.3))
    assert time.monotonic() - started < 1.5


def test_scripted_invalid_content_and_http_garbage(llm_standin):
    """Bad content, a non-JSON body and a hang-up each fail in their own way."""
    client = client_for(llm_standin)
    llm_standin.add_content("Sure! Here is the summary: {not json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(ask(client).choices[0].message.content)
    # A body that is not JSON escapes the SDK as a bare JSONDecodeError, not an OpenAIError.
    llm_standin.add_fault(CHAT_PATH, invalid_json=True)
    with pytest.raises(json.JSONDecodeError):
        ask(client)
    llm_standin.add_fault(CHAT_PATH, close=True)
    with pytest.raises(openai.APIConnectionError):
        ask(client)


def test_custom_responder_and_token_budget():
    """A custom responder's answer is cut at max_tokens with finish_reason length."""
    with LlmStandin(responder=lambda body: "x" * 400) as standin:
        completion = ask(client_for(standin), max_tokens=10)
        assert completion.choices[0].finish_reason == "length"
        assert completion.usage.completion_tokens == 10


def test_peak_concurrency_with_parallel_requests():
    """Parallel SDK calls are counted as concurrent requests."""
    with LlmStandin(latency=0.3) as standin:
        client = client_for(standin)
        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(pool.map(lambda _: ask(client), range(3)))
        assert len(answers) == 3
        assert standin.peak_in_flight == 3
        assert standin.request_count == 3


def test_models_and_api_key():
    """The key is checked when configured and the model list names the configured model."""
    with LlmStandin(api_key="right", model="demo-model") as standin:
        with pytest.raises(openai.AuthenticationError):
            client_for(standin).models.list()
        good = openai.OpenAI(base_url=standin.base_url, api_key="right", max_retries=0)
        assert [m.id for m in good.models.list()] == ["demo-model"]
