"""The token estimate against a real model tokenizer: it must never undercount, or the request outgrows
SUMMARY_TOKEN_BUDGET (measured before the fix: 4,103 real tokens at the 3,000 budget on a dbt log).

The real counts are Qwen2.5-Coder's tokenizer (the local model of the real_llm tests), measured through
llama-cpp-python's /extras/tokenize/count by `python -m bench.llm_quality --token-fixture`; the shared logs are
the texts (raw, and numbered as an excerpt numbers its lines). Qwen splits every digit into its own token, which
is what dbt's timestamps and ids are full of.
"""

import json

import pytest

from ddpui.core.summaries.token_estimate import TokenTally, estimate_tokens
from tests.fixtures.labelled_logs import FIXTURES, SHARED_LOGS

COUNTS = json.loads((FIXTURES / "qwen_token_counts.json").read_text())


def shared_log(entry: dict) -> list[str]:
    """The shared log's lines."""
    return (SHARED_LOGS / entry["file"]).read_text(encoding="utf-8").splitlines()


def numbered(lines: list[str]) -> str:
    """Lines numbered as the bench numbered them for the fixture ("  12 | text")."""
    width = len(str(len(lines)))
    return "\n".join(f"{number:>{width}} | {text}" for number, text in enumerate(lines, start=1))


@pytest.mark.parametrize("entry", COUNTS, ids=[entry["file"][:24] for entry in COUNTS])
def test_the_estimate_never_undercounts_the_models_tokenizer(entry):
    lines = shared_log(entry)
    assert estimate_tokens("\n".join(lines)) >= entry["raw_tokens"]
    assert estimate_tokens(numbered(lines)) >= entry["numbered_tokens"]


@pytest.mark.parametrize("entry", COUNTS, ids=[entry["file"][:24] for entry in COUNTS])
def test_the_running_tally_of_a_log_never_undercounts_either(entry):
    tally = TokenTally()
    for line in shared_log(entry):
        tally.add(line, sum(char.isdigit() for char in line))
    assert tally.tokens() >= entry["raw_tokens"]


def test_the_estimate_stays_within_a_useful_margin_of_the_real_count():
    # Over-counting wastes budget: the estimate of all shared logs together stays under 1.6x the real count.
    estimated = sum(estimate_tokens("\n".join(shared_log(entry))) for entry in COUNTS)
    real = sum(entry["raw_tokens"] for entry in COUNTS)
    assert real <= estimated <= 1.6 * real
