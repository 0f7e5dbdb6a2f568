"""Grounding a model's answer in the excerpt it was given, by text.

Small local models quote the right log line under the wrong number, invent quotes, and answer a wrong category
with confidence 0.9-1.0. What we store must never be worse than the offline summary of the same excerpt:

- each quote is looked up in the excerpt by its text; a quote found is stored with its real line number and our
  (redacted) text of that line, a quote not found is dropped;
- the offline summary's evidence (the excerpt's top root-cause lines) is always kept: the root-cause lines the
  model cited come first, then the ones it did not cite, then its other quotes (so when it cites none of them,
  they lead);
- when the offline rules categorize the failure clearly (a rule matched the root-cause lines themselves) and the
  model disagrees, the rules' category is stored, the model's is kept beside it, and the model's confidence is
  capped;
- `grounded` says whether the model's own evidence held up: every quote found and a top root-cause line among
  them.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from ddpui.core.summaries.categorize import Category
from ddpui.core.summaries.condense import Excerpt
from ddpui.core.summaries.fingerprint import strip_log_prefix

MAX_EVIDENCE_LINES = 5
# How many of the excerpt's ranked root-cause lines count as "the top ones" a model must cite.
TOP_KEY_LINES = 3
# A quote shorter than this that is only part of a line is too vague to pin to one line ("Error", "failed").
MIN_PARTIAL_QUOTE_CHARS = 16
# The confidence a model keeps when the rules clearly disagree with its category.
DISPUTED_CONFIDENCE_CAP = 0.5
# What a model may copy in front of a quote: the excerpt's "  123 | " numbering.
QUOTED_NUMBER = re.compile(r"^\s*\d+\s*\|\s?")
SPACES = re.compile(r"\s+")


@dataclass
class Grounding:
    """The evidence to store and what grounding found about the model's answer."""

    evidence: list[dict[str, Any]]
    category: str
    model_category: str
    confidence: float | None
    grounded: bool
    quotes_found: int = 0
    quotes_moved: int = 0
    quotes_dropped: int = 0
    top_lines_added: bool = False
    notes: list[str] = field(default_factory=list)


def normalized(text: str) -> str:
    """A line as compared: no copied numbering, no timestamp/level prefix, single spaces, lower case."""
    text = QUOTED_NUMBER.sub("", text or "", count=1)
    return SPACES.sub(" ", strip_log_prefix(text)).strip().lower()


def find_quote(quote: str, cited_line: int | None, lines: list[tuple[int, str]]) -> int | None:
    """The excerpt line number holding `quote`: an equal line first, else a line containing the quote (or
    contained in it) when long enough to be specific; among several, the one nearest the cited number."""
    wanted = normalized(quote)
    if not wanted:
        return None
    candidates = [(number, normalized(text)) for number, text in lines]
    exact = [number for number, text in candidates if text == wanted]
    partial = [
        number for number, text in candidates
        if text and ((len(wanted) >= MIN_PARTIAL_QUOTE_CHARS and wanted in text)
                     or (len(text) >= MIN_PARTIAL_QUOTE_CHARS and text in wanted))
    ]
    found = exact or partial
    if not found:
        return None
    return min(found, key=lambda number: abs(number - cited_line) if cited_line is not None else 0)


def ground_evidence(cited: list[dict[str, Any]], excerpt: Excerpt) -> tuple[list[dict[str, Any]], int, int, int]:
    """The model's quotes found in the excerpt, with their real numbers and our text (deduplicated, in the
    model's order); also how many were found, found under another number, and dropped."""
    texts = dict(excerpt.lines)
    grounded: list[dict[str, Any]] = []
    found = moved = dropped = 0
    for item in cited:
        number = find_quote(str(item.get("text") or ""), item.get("line"), excerpt.lines)
        if number is None:
            dropped += 1
            continue
        found += 1
        moved += number != item.get("line")
        if all(kept["line"] != number for kept in grounded):
            grounded.append({"line": number, "text": texts[number]})
    return grounded, found, moved, dropped


def key_line_evidence(excerpt: Excerpt) -> list[dict[str, Any]]:
    """The excerpt's top-ranked root-cause lines as evidence: what the offline summary stores."""
    return [{"line": number, "text": text} for number, text in excerpt.key_lines[:MAX_EVIDENCE_LINES]]


def merged_evidence(quotes: list[dict[str, Any]], key_lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's grounded quotes with the offline evidence kept: cited root-cause lines, then the uncited ones,
    then the model's other quotes. Capped where the offline evidence is, so it is never pushed out."""
    key_numbers = {item["line"] for item in key_lines}
    cited = [item for item in quotes if item["line"] in key_numbers]
    cited_numbers = {item["line"] for item in cited}
    uncited = [item for item in key_lines if item["line"] not in cited_numbers]
    others = [item for item in quotes if item["line"] not in key_numbers]
    return (cited + uncited + others)[:max(MAX_EVIDENCE_LINES, len(key_lines))]


def ground_answer(parsed: dict[str, Any], excerpt: Excerpt, rules: Category) -> Grounding:
    """Ground a parsed model answer in `excerpt`, against the offline rules' verdict `rules` on it."""
    evidence, found, moved, dropped = ground_evidence(parsed.get("evidence") or [], excerpt)
    key_lines = key_line_evidence(excerpt)
    top_numbers = {item["line"] for item in key_lines[:TOP_KEY_LINES]}
    cites_top = any(item["line"] in top_numbers for item in evidence)
    notes = []
    if moved:
        notes.append(f"{moved} quote(s) moved to the line that holds them")
    if dropped:
        notes.append(f"{dropped} quote(s) not in the excerpt dropped")
    top_added = bool(top_numbers) and not cites_top
    if top_added:
        notes.append("the model cited none of the top root-cause lines: they were added")
    evidence = merged_evidence(evidence, key_lines)
    category, confidence = parsed.get("category") or "other", parsed.get("confidence")
    model_category = ""
    if rules.clear and rules.category != category:
        notes.append(f"the model's category {category} disagrees with the rules' clear {rules.category}")
        model_category, category = category, rules.category
        confidence = min(confidence, DISPUTED_CONFIDENCE_CAP) if confidence is not None else None
    return Grounding(
        evidence=evidence,
        category=category,
        model_category=model_category,
        confidence=confidence,
        grounded=found > 0 and not dropped and (cites_top or not top_numbers),
        quotes_found=found,
        quotes_moved=moved,
        quotes_dropped=dropped,
        top_lines_added=top_added,
        notes=notes,
    )
