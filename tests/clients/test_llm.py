"""chat_json against an OpenAI-compatible stand-in on a real socket: response-format fallbacks as real servers
need them, the answer's token cap, and errors that keep the server's explanation."""

import pytest

from ddpui.clients.llm import WORKING_FORMATS, LlmError, chat_json, server_key
from ddpui.core.summaries.schema import SUMMARY_SCHEMA

MESSAGES = [{"role": "system", "content": "Answer in JSON."}, {"role": "user", "content": "  12 | ERROR boom"}]


def formats_sent(llm_api) -> list[str | None]:
    """The response_format type of every chat request so far."""
    return [(body.get("response_format") or {}).get("type") for body in llm_api.chat_bodies()]


def test_a_500_naming_json_schema_falls_back_to_json_object_with_the_schema_and_is_remembered(llm_api):
    llm_api.reject_json_schema, llm_api.json_schema_status = True, 500
    first = chat_json(MESSAGES, schema=SUMMARY_SCHEMA)
    assert first.response_format == "json_object"
    assert formats_sent(llm_api) == ["json_schema", "json_object"]
    assert llm_api.chat_bodies()[1]["response_format"]["schema"] == SUMMARY_SCHEMA, "llama.cpp's schema field"
    assert WORKING_FORMATS[server_key()] == "json_object"
    second = chat_json(MESSAGES, schema=SUMMARY_SCHEMA)
    assert second.response_format == "json_object"
    assert formats_sent(llm_api) == ["json_schema", "json_object", "json_object"], "no second json_schema try"


def test_a_500_that_does_not_name_the_format_is_transient_and_keeps_the_servers_text(llm_api):
    llm_api.add_fault("/v1/chat/completions", status=500,
                      body={"error": {"message": "CUDA out of memory while loading the model", "type": "server_error"}})
    with pytest.raises(LlmError) as raised:
        chat_json(MESSAGES, schema=SUMMARY_SCHEMA)
    assert raised.value.transient
    assert "HTTP 500" in str(raised.value) and "CUDA out of memory while loading the model" in str(raised.value)
    assert formats_sent(llm_api) == ["json_schema"], "not a format problem: no fallback"


def test_every_format_refused_is_a_deterministic_error_with_each_refusal(llm_api):
    llm_api.add_fault("/v1/chat/completions", status=500, times=3,
                      body={"error": {"message": "unsupported response_format", "type": "server_error"}})
    with pytest.raises(LlmError) as raised:
        chat_json(MESSAGES, schema=SUMMARY_SCHEMA)
    assert not raised.value.transient
    assert formats_sent(llm_api) == ["json_schema", "json_object", None]
    assert str(raised.value).count("unsupported response_format") == 3


def test_max_tokens_is_sent_and_an_answer_cut_at_it_is_a_deterministic_format_error(llm_api, settings):
    settings.LLM_MAX_OUTPUT_TOKENS = 10
    with pytest.raises(LlmError) as raised:
        chat_json(MESSAGES, schema=SUMMARY_SCHEMA)
    assert llm_api.chat_bodies()[0]["max_tokens"] == 10
    assert not raised.value.transient and "finish_reason length" in str(raised.value)
