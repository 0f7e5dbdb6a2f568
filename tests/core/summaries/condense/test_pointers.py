"""What an error points at is kept even when it is not an error line: the code or SQL line a line reference
names, the runs' outcome lines, caret pointers and placeholders left unexpanded (real logs of these kinds
in tests/fixtures/hard_logs)."""

import pytest

from bench.noise import embedded_log
from ddpui.core.summaries.condense import condense
from tests.core.summaries.condense.helpers import noise


def shown_lines(excerpt) -> str:
    """The shown lines' texts, one per line."""
    return "\n".join(text for _, text in excerpt.lines)


@pytest.mark.parametrize("position", [0.5, 1.0])
def test_hard_logs_keep_their_labelled_lines_inside_a_long_dbt_log(hard_log, position):
    lines = list(embedded_log(hard_log["lines"], "dbt", 5000, position=position))
    text = shown_lines(condense(lines))
    missing = [needle for needle in hard_log["root_cause_lines"] if needle not in text]
    assert not missing


def test_the_sql_line_a_database_error_names_is_kept_from_the_statement_printed_before(shared_logs):
    log = next(label for label in shared_logs if label["file"].startswith("15_"))
    lines = list(embedded_log(log["lines"], "dbt", 20_000, position=0.5))
    statement = next(index for index, text in enumerate(lines) if "On model.jaffle_shop.stg_customers: /*" in text)
    excerpt = condense(lines, budget_tokens=1000)
    # PostgreSQL's "LINE 8:" counts from the statement's first line, the "On model...: /* ... */" line.
    assert (statement + 8, "   id as customer_id,") in excerpt.lines


def test_a_listing_line_a_line_reference_names_is_kept():
    lines = noise(3000) + [
        "dbt encountered an error while trying to read your profiles.yml file.",
        "Syntax error near line 4",
        "------------------------------",
        *[f"{number}  |       key_{number}: value" for number in range(1, 4)],
        "4  |       host: {{ env_var('DB_HOST') }}",
        *[f"{number}  |       key_{number}: value" for number in range(5, 9)],
    ] + noise(3000, seed=3)
    text = shown_lines(condense(lines, budget_tokens=800))
    assert "4  |       host: {{ env_var('DB_HOST') }}" in text
    assert "Syntax error near line 4" in text


def test_a_dollar_placeholder_left_unexpanded_is_kept():
    lines = noise(2000) + ["2024-05-01 12:00:00 source > Connecting to postgresql://${DB_HOST}:5432/analytics"]
    lines += noise(2000, seed=4) + ["2024-05-01 12:30:00 source > ERROR Connection attempt failed: timeout"]
    text = shown_lines(condense(lines, budget_tokens=800))
    assert "Connecting to postgresql://${DB_HOST}:5432/analytics" in text


def test_every_runs_outcome_is_kept_when_one_log_holds_several_runs():
    lines = []
    for step, selector in enumerate(("staging", "raw_vault", "business_vault")):
        lines += noise(1500, seed=step) + [
            f"12:04:0{step}  The selection criterion '{selector}' does not match any enabled nodes",
            f"12:04:0{step}  Nothing to do. Try checking your model configs and model specification args",
        ]
    lines += noise(1500, seed=9) + [
        "12:04:12  1 of 2 ERROR not_null_readings_id ........................ [ERROR in 0.15s]",
        "12:04:12    Database Error in test not_null_readings_id (models/silver/schema.yml)",
        "12:04:12    Schema 'raw_vault_silver' does not exist",
        "12:04:12  Done. PASS=0 WARN=0 ERROR=1 SKIP=0 TOTAL=1",
    ] + noise(200, seed=10)
    text = shown_lines(condense(lines))
    for selector in ("staging", "raw_vault", "business_vault"):
        assert f"The selection criterion '{selector}' does not match any enabled nodes" in text
    assert "Done. PASS=0 WARN=0 ERROR=1 SKIP=0 TOTAL=1" in text
