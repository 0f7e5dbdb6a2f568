"""Fingerprints: the same real error across runs shares one; different root causes never do."""

import random
import re
import uuid

import pytest

from ddpui.core.summaries.condense import LogLine, condense
from ddpui.core.summaries.fingerprint import fingerprint, is_generic, normalize_line, template_of
from ddpui.core.summaries.pipeline import failure_fingerprint

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HEX_ID = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b")
CLOCK = re.compile(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?")
DURATION = re.compile(r"\b\d+\.\d+(s| seconds)\b")
ROW_COUNT = re.compile(r"(SELECT |Records read: |rows?: )\d+")
RUN_NAME = re.compile(r"'[a-z]+-[a-z]+'")


def another_run(lines: list[str], seed: int) -> list[str]:
    """The same failure as another run would print it: new ids, times, durations, row counts, run names,
    and a different amount of unrelated output before it."""
    rng = random.Random(seed)

    def vary(line: str) -> str:
        line = UUID.sub(lambda _: str(uuid.UUID(int=rng.getrandbits(128))), line)
        line = HEX_ID.sub(lambda match: "".join(rng.choice("0123456789abcdef") for _ in match.group(0)), line)
        line = CLOCK.sub(lambda _: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
                                   f"{rng.randint(0, 999999):06d}", line)
        line = DURATION.sub(lambda match: f"{rng.random() * 9:.2f}{match.group(1)}", line)
        line = ROW_COUNT.sub(lambda match: f"{match.group(1)}{rng.randint(1, 10**6)}", line)
        return RUN_NAME.sub(lambda _: f"'{rng.choice(['brave', 'calm', 'eager'])}-{rng.choice(['otter', 'lynx'])}'", line)

    filler = [f"2024-05-01 10:00:{index % 60:02d} replication-orchestrator > Records read: {index * 100} (1 MB)"
              for index in range(rng.randint(0, 300))]
    return filler + [vary(line) for line in lines]


def print_of(lines: list, step_kind: str) -> str:
    """The fingerprint the pipeline computes for a log."""
    return failure_fingerprint(condense(lines), step_kind)


def behind_generic_lines(cause: str) -> list[list]:
    """A Prefect task's log in which the only error-level lines are generic ("Task run failed", a traceback
    cut before its exception) and the cause was logged at INFO, as a shell command's output is."""
    return [
        [LogLine("Task run failed", 40), LogLine(cause, 20)],
        [LogLine(cause, 20), LogLine('Traceback (most recent call last):\n  File "/opt/prefect/flows/run.py", '
                                     'line 88, in run_dbt\n    raise', 40)],
        [LogLine("Beginning flow run 'teal-heron' for flow 'dalgo-pipeline'", 20), LogLine(cause, 20),
         LogLine("Encountered exception during execution:", 40), LogLine("Task run failed", 40)],
    ]


def distinct_causes(labels: list[dict]) -> list[str]:
    """Every labelled root-cause line of these logs, once."""
    return list(dict.fromkeys(cause for label in labels for cause in label["root_cause_lines"]))


def test_same_error_other_run_same_fingerprint(shared_log):
    original = print_of(shared_log["lines"], shared_log["step_kind"])
    for seed in (1, 2, 3):
        assert print_of(another_run(shared_log["lines"], seed), shared_log["step_kind"]) == original


def test_shared_logs_have_distinct_fingerprints(shared_logs):
    prints = {print_of(label["lines"], label["step_kind"]) for label in shared_logs}
    assert len(prints) == len(shared_logs)


def test_real_logs_get_distinct_fingerprints(shared_logs, hard_logs):
    logs = shared_logs + hard_logs
    prints = {print_of(label["lines"], label["step_kind"]) for label in logs}
    print(f"distinct fingerprints: {len(prints)}/{len(logs)} real logs")
    assert len(prints) == len(logs)


@pytest.mark.parametrize("line", [
    "Traceback (most recent call last):", "ERROR Task run failed", "dbt.exceptions.DbtRuntimeError: Runtime Error",
    "10:41:58.553 | ERROR   | Task run 'dbt_run-0' - Task run failed", "Encountered exception during execution:",
    "Finished in state Failed('Task run encountered an exception')", '  File "/app/flow.py", line 10, in run',
])
def test_generic_lines_name_no_cause(line):
    assert is_generic(line)


@pytest.mark.parametrize("line", [
    "FileNotFoundError: [Errno 2] No such file", "KeyError: 'id'", "process exited with exit code 137",
    'column "id" does not exist', "Command failed: dbt run -s stg_donors",
])
def test_specific_lines_name_a_cause(line):
    assert not is_generic(line)


def test_different_failures_behind_generic_lines_get_distinct_fingerprints(shared_logs, hard_logs):
    causes = distinct_causes(shared_logs + hard_logs)
    by_print: dict[str, set[str]] = {}
    total = 0
    for cause in causes:
        for log in behind_generic_lines(cause):
            by_print.setdefault(print_of(log, "task"), set()).add(cause)
            total += 1
    shared = [sorted(causes_of) for causes_of in by_print.values() if len(causes_of) > 1]
    print(f"{len(by_print)} distinct fingerprints for {len(causes)} different failures in {total} logs; "
          f"{len(shared)} shared by different failures")
    assert not shared


def test_the_same_failure_behind_generic_lines_matches_on_another_run(shared_logs, hard_logs):
    for cause in distinct_causes(shared_logs + hard_logs):
        for seed, log in enumerate(behind_generic_lines(cause)):
            varied = [LogLine(text, line.level) for line, text in
                      zip(log, another_run([line.text for line in log], seed)[-len(log):], strict=True)]
            assert print_of(varied, "task") == print_of(log, "task")


def test_different_root_causes_differ():
    def sync_log(error: str) -> list[str]:
        return [f"2024-05-01 12:00:0{index} source > Records read: {index * 10} (1 MB)" for index in range(5)] + [
            f"2024-05-01 12:00:09 source > ERROR {error}"]

    causes = [
        "Request to https://api.ngo.org/v1/forms failed with status code 403",
        "Request to https://api.ngo.org/v1/forms failed with status code 500",
        "Request to https://api.ngo.org/v1/forms failed with status code 429",
        'column "email" does not exist',
        'column "phone" does not exist',
        "permission denied for schema analytics",
        "FileNotFoundError: [Errno 2] No such file or directory: '/data/forms.csv'",
        "PermissionError: [Errno 13] Permission denied: '/data/forms.csv'",
        "process exited with exit code 137",
        "process exited with exit code 1",
    ]
    prints = {print_of(sync_log(cause), "airbyte") for cause in causes}
    assert len(prints) == len(causes)


def test_step_kind_is_part_of_the_fingerprint():
    assert fingerprint(["ERROR boom"], "dbt") != fingerprint(["ERROR boom"], "airbyte")


def test_normalize_line_removes_run_specific_parts():
    first = "10:36:42.863 | ERROR   | Flow run 'celadon-chimpanzee' - job 837896b9-42a7-4a51-a539-bf685acc38e9 failed after 12 rows"
    second = "22:01:07.001 | ERROR   | Flow run 'brave-otter' - job 11111111-2222-3333-4444-555555555555 failed after 9,301 rows"
    assert normalize_line(first) == normalize_line(second)
    assert normalize_line("HTTP 403 Forbidden") != normalize_line("HTTP 404 Not Found")
    assert normalize_line("[Errno 2] No such file") != normalize_line("[Errno 13] No such file")
    assert "stg_customers" in normalize_line("Database Error in model stg_customers (models/staging/stg_customers.sql)")


def test_template_folds_variants():
    assert template_of("2024-05-01 12:00:01 source > Records read: 5000 (1 MB)") == \
        template_of("2024-05-02 13:10:41 source > Records read: 125000 (31 MB)")
    assert template_of("WARN value 'abc' at row 5") == template_of("WARN value 'xyz' at row 123456")
