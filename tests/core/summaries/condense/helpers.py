"""Shared helpers of the condense tests: generated noise lines and excerpt checks."""

import random

from ddpui.core.summaries.condense import Excerpt
from ddpui.core.summaries.token_estimate import estimate_tokens


def iter_noise(count: int, seed: int = 1):
    """Healthy-looking Airbyte progress lines, lazily."""
    rng = random.Random(seed)
    for index in range(count):
        yield (f"2024-05-01 12:00:{index % 60:02d} replication-orchestrator > Records read: {rng.randint(1, 10**6)} "
               f"({rng.randint(1, 99)} MB)")


def noise(count: int, seed: int = 1) -> list[str]:
    """Healthy-looking Airbyte progress lines."""
    return list(iter_noise(count, seed))


def shown_text(excerpt: Excerpt) -> str:
    """All shown line texts joined."""
    return "\n".join(text for _, text in excerpt.lines)


def assert_budget(excerpt: Excerpt, budget: int) -> None:
    """The excerpt's text fits the budget and its token count is the text's estimate."""
    assert excerpt.tokens_out == estimate_tokens(excerpt.text)
    assert excerpt.tokens_out <= budget
    assert excerpt.budget == budget
