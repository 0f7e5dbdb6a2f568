"""The public condense(): the shared logs' root causes kept within the budget, alone and in noise; no secret
reaches the excerpt; memory does not grow with the log."""

import tracemalloc

from ddpui.core.summaries.condense import DEFAULT_BUDGET_TOKENS, condense
from tests.core.summaries.condense.helpers import assert_budget, iter_noise, noise


def test_shared_logs_keep_every_root_cause_at_default_budget(shared_log, count_kept_root_causes):
    excerpt = condense(shared_log["lines"])
    assert count_kept_root_causes(shared_log, excerpt.lines) == len(shared_log["root_cause_lines"])
    assert_budget(excerpt, DEFAULT_BUDGET_TOKENS)
    assert excerpt.lines_in == len(shared_log["lines"])
    assert excerpt.key_lines


def test_shared_logs_embedded_in_noise_keep_root_causes(shared_log, count_kept_root_causes):
    lines = noise(3000)[:2000] + shared_log["lines"] + noise(1000, seed=2)
    excerpt = condense(iter(lines))
    assert count_kept_root_causes(shared_log, excerpt.lines) == len(shared_log["root_cause_lines"])
    assert_budget(excerpt, DEFAULT_BUDGET_TOKENS)


def test_secrets_never_reach_the_excerpt(secret_lines):
    lines = noise(500)
    for text, _ in secret_lines:
        lines.extend(text.split("\n"))
    lines.append("2024-05-01 12:00:00 ERROR sync failed")
    excerpt = condense(lines, budget_tokens=100_000)
    everything = repr(excerpt)
    for _, secrets in secret_lines:
        for secret in secrets:
            assert secret not in everything


def test_memory_does_not_grow_with_the_log(shared_logs):
    """Streaming: ten times the lines, about the same memory. (Speed is shown by bench/condense.py.)"""
    label = shared_logs[0]

    def log(total: int):
        yield from iter_noise(total // 2)
        yield from label["lines"]
        yield from iter_noise(total // 2, seed=11)

    peaks = []
    for total in (20_000, 200_000):
        tracemalloc.start()
        condense(log(total))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 2 * peaks[0] + 2_000_000
