"""The selector: root causes kept within budget, original line numbers, folding, whole tracebacks, ranking."""

import random
import re
import tracemalloc

import pytest

from ddpui.core.summaries.condense import DEFAULT_BUDGET_TOKENS, Excerpt, LogLine, condense
from ddpui.core.summaries.token_estimate import estimate_tokens

ANSI = re.compile(r"\x1b\[[0-9;]*m")


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


def test_line_numbers_are_original_and_ansi_is_stripped(shared_logs):
    for label in shared_logs:
        excerpt = condense(label["lines"], budget_tokens=1000)
        for number, text in excerpt.lines:
            original = ANSI.sub("", label["lines"][number - 1])
            assert text == original or "chars cut]" in text


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


def test_retry_loop_in_tail_folds():
    lines = noise(100) + [f"2024-05-01 12:00:{index % 60:02d} source > Waiting for job 4821 to finish ({index}s elapsed)"
                          for index in range(500)]
    excerpt = condense(lines)
    assert sum("Waiting for job" in text for _, text in excerpt.lines) <= 3
    assert "more times" in excerpt.text


PY_TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/app/flows/sync.py", line 42, in run_sync',
    "    result = client.trigger(connection_id)",
    '  File "/venv/lib/python3.10/site-packages/httpx/_client.py", line 1722, in send',
    "    response = await transport.handle_async_request(request)",
    '  File "/venv/lib/python3.10/site-packages/httpx/_transports/default.py", line 77, in map_exceptions',
    "    raise mapped_exc(message) from exc",
    "httpx.ConnectError: [Errno 111] Connection refused",
]


def test_python_traceback_kept_whole():
    lines = noise(4000) + ["08:13:12.001 | ERROR   | Task run 'trigger-sync-0' - Encountered exception during execution:"]
    lines += PY_TRACEBACK + noise(4000, seed=5)
    excerpt = condense(lines)
    shown = {number for number, _ in excerpt.lines}
    start = 4002
    assert set(range(start, start + len(PY_TRACEBACK))) <= shown
    assert excerpt.key_lines[0][1] == "httpx.ConnectError: [Errno 111] Connection refused"


def test_long_java_stack_trimmed_in_the_middle():
    prefix = "2024-05-01 12:00:00 destination > "
    stack = [f'{prefix}Exception in thread "main" io.airbyte.workers.WorkerException: Sync failed']
    stack += [f"{prefix}\tat io.airbyte.workers.Step{index}.run(Step{index}.java:{index + 10})" for index in range(300)]
    stack += [f"{prefix}Caused by: java.sql.SQLException: ERROR: permission denied for schema analytics"]
    stack += [f"{prefix}\tat org.postgresql.core.Query{index}.execute(Query{index}.java:{index + 5})" for index in range(200)]
    stack += [f"{prefix}\t... 42 more"]
    lines = noise(2000) + stack + noise(500, seed=4)
    excerpt = condense(lines)
    text = shown_text(excerpt)
    assert "Exception in thread \"main\" io.airbyte.workers.WorkerException" in text
    assert "Caused by: java.sql.SQLException: ERROR: permission denied for schema analytics" in text
    assert "Step0.run" in text and "Step1.run" in text  # the head of the stack
    assert "Step150.run" not in text  # the middle went
    assert any("Caused by" in line for _, line in excerpt.key_lines)
    assert_budget(excerpt, DEFAULT_BUDGET_TOKENS)


def test_first_fatal_error_ranks_above_warnings_echoes_and_downstream():
    lines = [
        "10:00:00.000 [info ] [MainThread]: Running with dbt=1.8.8",
        "10:00:00.100 [warn ] [MainThread]: [WARNING]: Deprecated functionality in profiles.yml",
        "10:00:01.000 [info ] [Thread-1 (]: 1 of 3 START sql table model analytics.stg_donors ..... [RUN]",
        "10:00:01.500 [debug] [Thread-1 (]: Database Error in model stg_donors (models/staging/stg_donors.sql)",
        '  relation "raw.donors" does not exist',
        "10:00:01.600 [error] [Thread-1 (]: 1 of 3 ERROR creating sql table model analytics.stg_donors .... [ERROR in 0.5s]",
        "10:00:01.700 [info ] [Thread-2 (]: 2 of 3 SKIP relation analytics.fct_giving because of upstream failure",
        "10:00:01.800 [error] [Thread-3 (]: 3 of 3 FAIL 1 not_null_fct_giving_amount because of upstream failure",
        "10:00:02.000 [info ] [MainThread]: Completed with 1 error and 0 warnings:",
        "10:00:02.100 [error] [MainThread]:   Database Error in model stg_donors (models/staging/stg_donors.sql)",
        '  relation "raw.donors" does not exist',
        "10:00:02.200 [info ] [MainThread]: Done. PASS=0 WARN=0 ERROR=1 SKIP=1 TOTAL=3",
    ]
    excerpt = condense(noise(3000) + lines)
    first_key = excerpt.key_lines[0][0] - 3000
    assert lines[first_key - 1].endswith("Database Error in model stg_donors (models/staging/stg_donors.sql)")
    assert first_key == 4  # the first occurrence, not the [error] echo at the end
    key_texts = [text for _, text in excerpt.key_lines]
    assert any('relation "raw.donors" does not exist' in text for text in key_texts)
    assert not any("WARNING" in text or "SKIP" in text for text in key_texts)


def test_retried_error_kept_with_final_failure():
    lines = noise(2000)
    for attempt in range(1, 4):
        lines.append(f"2024-05-01 12:00:0{attempt} source > WARN Attempt {attempt} of 3 failed: ConnectionResetError: "
                     f"[Errno 104] Connection reset by peer; retrying in {attempt * 5}s")
    lines.append("2024-05-01 12:00:09 source > ERROR Max retries exceeded for https://api.kobo.org/assets: giving up")
    lines += noise(2000, seed=8)
    excerpt = condense(lines)
    assert "Max retries exceeded" in excerpt.key_lines[0][1]
    text = shown_text(excerpt)
    assert "ConnectionResetError" in text


def test_success_lines_after_a_permission_error_do_not_hide_it():
    lines = noise(1000) + [
        "2024-05-01 12:00:00 destination > ERROR permission denied for schema analytics",
        "2024-05-01 12:00:01 replication-orchestrator > sync summary: status succeeded, 0 records committed",
        "2024-05-01 12:00:02 replication-orchestrator > Completed successfully",
    ] + noise(1000, seed=6)
    excerpt = condense(lines)
    assert excerpt.key_lines[0] == (1001, "2024-05-01 12:00:00 destination > ERROR permission denied for schema analytics")


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
