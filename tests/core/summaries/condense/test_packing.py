"""Budget packing: the budget holds on large logs; gap markers count every omitted line."""

import re

import pytest

from ddpui.core.summaries.condense import DEFAULT_BUDGET_TOKENS, LogGap, condense
from tests.core.summaries.condense.helpers import assert_budget, noise


@pytest.mark.parametrize("budget", [300, 1000, 3000, 8000])
def test_budget_respected_on_large_logs(shared_logs, budget):
    lines = noise(20000) + shared_logs[5]["lines"] + noise(5000, seed=3)
    excerpt = condense(lines, structured=["Airbyte failureSummary: sync failed"], budget_tokens=budget)
    assert_budget(excerpt, budget)
    assert excerpt.tokens_in > 20 * budget or budget == 8000


def test_gap_markers_and_counts_add_up():
    lines = noise(5000) + ["2024-05-01 12:00:00 ERROR something broke: disk quota exceeded"] + noise(5000, seed=9)
    excerpt = condense(lines)
    omitted = sum(int(count.replace(",", "")) for count in re.findall(r"\.\.\. ([\d,]+) lines? omitted", excerpt.text))
    assert omitted == excerpt.omitted
    assert "lines omitted ..." in excerpt.text
    assert excerpt.lines_in == 10001
    assert any(number == 5001 for number, _ in excerpt.lines)
    assert "\n 5001 | 2024-05-01 12:00:00 ERROR something broke" in excerpt.text


def test_lines_not_read_are_numbered_past_and_named_apart_from_omitted_ones():
    lines = noise(50) + [LogGap(lines=1_000_000)] + noise(50, seed=2)
    lines.append("2024-05-01 12:00:00 ERROR sync failed: disk quota exceeded")
    excerpt = condense(lines)
    assert excerpt.lines_in == 1_000_101 and excerpt.skipped == 1_000_000
    assert excerpt.key_lines[0] == (1_000_101, "2024-05-01 12:00:00 ERROR sync failed: disk quota exceeded")
    assert "Log excerpt (1,000,101 lines, 1,000,000 of them not read; original line numbers):" in excerpt.text
    assert "... 1,000,000 lines omitted: not read, the log is too long ..." in excerpt.text
    omitted = sum(int(count.replace(",", "")) for count in re.findall(r"\.\.\. ([\d,]+) lines? omitted", excerpt.text))
    assert omitted == excerpt.omitted
    assert_budget(excerpt, DEFAULT_BUDGET_TOKENS)
