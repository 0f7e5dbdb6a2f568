"""How long the harness (e2e tests, the demo) waits for a summary: it follows the model's timeout."""

from harness.scenarios import SUMMARY_TIMEOUT_SECONDS, summary_wait_seconds


def test_without_a_model_the_wait_is_the_offline_bound():
    assert summary_wait_seconds({"LLM_TIMEOUT_SECONDS": "300"}) == SUMMARY_TIMEOUT_SECONDS


def test_with_a_model_the_wait_covers_two_calls_of_llm_timeout_seconds():
    wait = summary_wait_seconds({"OPENAI_API_KEY": "sk-x", "LLM_TIMEOUT_SECONDS": "150"})
    assert wait >= 2 * 150 > 121, "a 1.5B model on CPU took 121 s for one call"
