"""The structured summary: its JSON schema (asked of the model) and a lenient parser that validates an answer."""

import json
import re
from typing import Any

from ddpui.models.vocabulary import SummaryCategory

CATEGORIES = tuple(SummaryCategory.values)

# Lengths and counts are bounded in the schema itself: a server that turns the schema into a grammar (llama.cpp)
# then cannot let a small model loop inside one string or list until its output cap cuts the answer (seen with
# Qwen2.5-Coder 0.5B: an answer cut at 700 tokens). The bounds sit above what the prompt asks for, and the
# longest answer they allow (about 1,000 tokens) fits LLM_MAX_OUTPUT_TOKENS.
SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "maxLength": 150, "description": "One line: what failed, in plain words."},
        "summary": {"type": "string", "maxLength": 700, "description": "2-4 sentences for a non-engineer."},
        "root_cause": {
            "type": "string", "maxLength": 400, "description": "The underlying cause, one or two sentences.",
        },
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "fix_steps": {
            "type": "array", "minItems": 1, "maxItems": 5, "items": {"type": "string", "maxLength": 200},
            "description": "Ordered steps to fix it.",
        },
        "evidence": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"line": {"type": "integer"}, "text": {"type": "string", "maxLength": 300}},
                "required": ["line", "text"],
            },
            "description": "The log lines (by their number in the excerpt) that show the cause.",
        },
        "is_transient": {"type": "boolean", "description": "Would simply re-running likely succeed?"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
# Every property is required; each is a field of StructuredSummary (a test holds them to it).
SUMMARY_SCHEMA["required"] = list(SUMMARY_SCHEMA["properties"])

FENCED = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.DOTALL)
LIMITS = {"title": 300, "summary": 4000, "root_cause": 2000}
MAX_FIX_STEPS = 8
MAX_EVIDENCE = 12


class SummaryFormatError(ValueError):
    """The model's answer is not a usable summary."""


def extract_json_object(content: str) -> dict[str, Any]:
    """The JSON object in a model answer: the whole text, a ```json fence, or the outermost {...}."""
    candidates = [content.strip()]
    fenced = FENCED.search(content)
    if fenced:
        candidates.append(fenced.group(1))
    first, last = content.find("{"), content.rfind("}")
    if first != -1 and last > first:
        candidates.append(content[first : last + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    raise SummaryFormatError("the answer holds no JSON object")


def as_text(value: Any, limit: int) -> str:
    """A trimmed string (numbers and the like are stringified)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return text.strip()[:limit]


def as_bool(value: Any) -> bool | None:
    """true/false, also from "yes"/"no" strings; None when unknown."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no"):
        return False
    return None


def as_confidence(value: Any) -> float | None:
    """A number in [0, 1]; percentages are scaled."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1:
        number = number / 100
    return min(max(number, 0.0), 1.0)


def as_evidence(value: Any) -> list[dict[str, Any]]:
    """[{line, text}] from the model's list (objects, or bare line numbers)."""
    items = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            line, text = item.get("line"), item.get("text")
        else:
            line, text = item, ""
        try:
            items.append({"line": int(line), "text": as_text(text, 500)})
        except (TypeError, ValueError):
            continue
    return items[:MAX_EVIDENCE]


def parse_summary(content: str) -> dict[str, Any]:
    """A validated summary dict from a model answer; raises SummaryFormatError if the essentials are missing."""
    data = extract_json_object(content)
    summary = {name: as_text(data.get(name), limit) for name, limit in LIMITS.items()}
    if not summary["title"] or not (summary["summary"] or summary["root_cause"]):
        raise SummaryFormatError("the answer lacks a title or a summary")
    category = as_text(data.get("category"), 40).lower()
    steps = data.get("fix_steps")
    if isinstance(steps, str):
        steps = [part for part in re.split(r"\n+|(?:^|\s)\d+[.)]\s", steps) if part.strip()]
    summary.update(
        category=category if category in CATEGORIES else SummaryCategory.OTHER,
        fix_steps=[as_text(step, 500) for step in (steps or []) if as_text(step, 500)][:MAX_FIX_STEPS],
        evidence=as_evidence(data.get("evidence")),
        is_transient=as_bool(data.get("is_transient")),
        confidence=as_confidence(data.get("confidence")),
    )
    return summary
