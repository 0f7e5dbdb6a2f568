"""Validating the model's answer: strict schema when possible, lenient parsing when not."""

import json

import pytest

from ddpui.core.summaries.schema import CATEGORIES, SUMMARY_SCHEMA, SummaryFormatError, parse_summary

GOOD = {"title": "dbt model failed", "summary": "A column is missing.", "root_cause": "column id missing",
        "category": "schema", "fix_steps": ["Rename it", "Rerun"], "evidence": [{"line": 6, "text": "x"}],
        "is_transient": False, "confidence": 0.8}


def test_schema_requires_every_field_and_lists_the_categories():
    assert set(SUMMARY_SCHEMA["required"]) == set(GOOD)
    assert SUMMARY_SCHEMA["properties"]["category"]["enum"] == list(CATEGORIES)


@pytest.mark.parametrize("wrap", [
    lambda s: s,
    lambda s: f"```json\n{s}\n```",
    lambda s: f"Sure! Here is the summary:\n{s}\nHope it helps.",
])
def test_json_is_found_in_plain_fenced_or_chatty_answers(wrap):
    assert parse_summary(wrap(json.dumps(GOOD)))["title"] == "dbt model failed"


def test_values_are_coerced_not_trusted():
    messy = {**GOOD, "category": "Weird", "confidence": "85", "is_transient": "yes",
             "fix_steps": "1. Rename it 2. Rerun", "evidence": [6, {"line": "7", "text": "y"}, {"line": "x"}]}
    parsed = parse_summary(json.dumps(messy))
    assert parsed["category"] == "other" and parsed["confidence"] == 0.85 and parsed["is_transient"] is True
    assert parsed["fix_steps"] == ["Rename it", "Rerun"]
    assert [item["line"] for item in parsed["evidence"]] == [6, 7]


@pytest.mark.parametrize("answer", ["", "no json here", "[1, 2]", json.dumps({"summary": "no title"})])
def test_unusable_answers_are_refused(answer):
    with pytest.raises(SummaryFormatError):
        parse_summary(answer)
