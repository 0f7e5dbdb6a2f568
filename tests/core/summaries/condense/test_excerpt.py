"""Excerpt assembly: a retry loop in the tail folds into one line."""

from ddpui.core.summaries.condense import condense
from tests.core.summaries.condense.helpers import noise


def test_retry_loop_in_tail_folds():
    lines = noise(100) + [f"2024-05-01 12:00:{index % 60:02d} source > Waiting for job 4821 to finish ({index}s elapsed)"
                          for index in range(500)]
    excerpt = condense(lines)
    assert sum("Waiting for job" in text for _, text in excerpt.lines) <= 3
    assert "more times" in excerpt.text
