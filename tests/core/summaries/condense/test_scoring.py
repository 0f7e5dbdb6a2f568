"""Ranking by score: the first fatal error over warnings, echoes, downstream skips, retries and success lines."""

from ddpui.core.summaries.condense import condense
from tests.core.summaries.condense.helpers import noise, shown_text


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
