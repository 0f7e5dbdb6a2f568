"""Reading and folding: original line numbers, ANSI stripped, levels and timestamps kept, repeats folded."""

import re

from ddpui.core.summaries.condense import LogLine, condense

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_line_numbers_are_original_and_ansi_is_stripped(shared_logs):
    for label in shared_logs:
        excerpt = condense(label["lines"], budget_tokens=1000)
        for number, text in excerpt.lines:
            original = ANSI.sub("", label["lines"][number - 1])
            assert text == original or "chars cut]" in text


def test_ten_thousand_templated_variants_fold_to_one_line():
    lines = ["2024-05-01 12:00:00 source > Starting sync of stream users"]
    lines += [f"2024-05-01 12:{index // 600 % 60:02d}:{index % 60:02d} destination > WARN Value in column 'note_{index % 7}' "
              f"at row {index * 13} was truncated to {index % 500} bytes (record id 9f{index:06x})"
              for index in range(10000)]
    lines += ["2024-05-01 13:00:00 destination > ERROR Sync failed: permission denied for table donations"]
    excerpt = condense(lines)
    folded = [text for _, text in excerpt.lines if "was truncated" in text]
    assert len(folded) == 1
    assert "repeated 9,999 more times, lines 2-10,001" in excerpt.text
    assert excerpt.key_lines[0][0] == 10002
    assert excerpt.tokens_out < 1000


def test_log_lines_with_levels_timestamps_and_structured_evidence():
    lines = [LogLine("Beginning flow run 'clever-fox'", 20, "2024-01-01T00:00:00Z"),
             LogLine("Task run failed: ValueError: bad input password=hunter2", 40, "2024-01-01T00:00:05Z"),
             LogLine("\x1b[31mFinished in state Failed\x1b[0m", "error", None)]
    excerpt = condense(lines, structured=["state message: token=abcd1234efgh5678 failed"])
    assert "   2 | 2024-01-01T00:00:05Z ERROR Task run failed: ValueError: bad input password=[REDACTED:password]" in excerpt.text
    assert "   1 | 2024-01-01T00:00:00Z INFO Beginning flow run" in excerpt.text
    assert "   3 | ERROR Finished in state Failed" in excerpt.text
    assert excerpt.text.startswith("Structured evidence:\n- state message: token=[REDACTED:token] failed")
    assert "hunter2" not in repr(excerpt) and "abcd1234efgh5678" not in repr(excerpt)
    assert excerpt.key_lines[0][0] == 2
