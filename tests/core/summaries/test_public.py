"""What an answer may show: Dalgo's two result pairs, text with no traceback and no server path."""

from ddpui.core.summaries.public import (
    FIX_PROMPT,
    NO_FIX_STEPS,
    SUMMARY_PROMPT,
    dalgo_result,
    fix_lines,
    public_error,
    public_text,
    public_value,
)


def test_result_is_two_pairs_summary_with_root_cause_then_numbered_fixes():
    result = dalgo_result(title="t", summary="The sync failed.", root_cause="The API key expired.",
                          fix_steps=["Renew the key", "Run the sync again"])
    assert result == [
        {"prompt": SUMMARY_PROMPT, "response": "The sync failed.\n\nRoot cause: The API key expired."},
        {"prompt": FIX_PROMPT, "response": "1. Renew the key\n2. Run the sync again"},
    ]


def test_fix_lines_renumber_the_models_own_numbering_and_join_broken_lines():
    assert fix_lines(["1. Open the connection", "2) Renew\nthe key", "- Run it again", "  "]) == (
        "1. Open the connection\n2. Renew the key\n3. Run it again"
    )
    assert fix_lines([]) == f"1. {NO_FIX_STEPS}"


def test_a_summary_without_text_falls_back_to_its_title():
    assert dalgo_result(title="Sync failed", summary="", root_cause="", fix_steps=["x"])[0]["response"] == "Sync failed"


def test_traceback_lines_and_the_source_under_a_frame_are_dropped():
    text = ("Task run failed: Traceback (most recent call last):\n"
            '  File "/opt/prefect/flows/dbt.py", line 12, in run\n'
            "    raise RuntimeError(msg)\n"
            "    at org.postgresql.Driver.connect(Driver.java:12)\n"
            "RuntimeError: dbt exited with 1")
    assert public_text(text) == "Task run failed:\nRuntimeError: dbt exited with 1"


def test_absolute_paths_are_cut_to_their_last_part_but_urls_and_project_paths_stay():
    text = ("cd /home/ddp/clientdbts/ngo-one/dbtrepo failed; see C:\\dalgo\\logs\\run.log; "
            "models/staging/stg_orders.sql; GET https://api.example.org/v3/marketing/lists 403")
    assert public_text(text) == ("cd …/dbtrepo failed; see …/run.log; models/staging/stg_orders.sql; "
                                 "GET https://api.example.org/v3/marketing/lists 403")


def test_public_value_walks_json_and_keeps_other_types():
    value = {"label": "dbtjob-dbt-run", "path": ["/srv/a/b"], "seq": 3, "ok": None}
    assert public_value(value) == {"label": "dbtjob-dbt-run", "path": ["…/b"], "seq": 3, "ok": None}


def test_public_error_is_one_line_without_addresses():
    error = 'Prefect API at http://10.0.0.5:4200/api failed: Traceback (most recent call last):\n  File "/x/y.py", line 1'
    assert public_error(error) == "Prefect API at the service failed:"
    assert public_error("") is None
