"""What an API answer may show of a stored summary: Dalgo's two result pairs, and text with no traceback and no
server path in it.

The stored row keeps everything (the model prompt, the excerpt, tracebacks in `last_error`) for the admin and
for debugging; an API answer never carries them. Paths on our servers or Dalgo's (a dbt project directory, a
Python file in a traceback) tell a user nothing and an attacker a lot, so an absolute path is cut to its last
part and traceback lines are dropped.
"""

import re
from typing import Any

# Dalgo's exact prompts: its frontends show the pairs in this order (v1 titles the first one "Summary").
SUMMARY_PROMPT = "Summarize the primary error that occurred in this run"
FIX_PROMPT = "What steps can I take to solve the error you identified?"
# When a summary has no fix steps (never from the offline rules; a model may return none).
NO_FIX_STEPS = "Share this summary with your Dalgo support team: the logs did not point to a specific fix."
# What a summary that could not be made says; the reason stays on the row for the admin.
NOT_MADE = "the summary could not be made; try again"

# Traceback lines: Python's header, chain notes and frames (with the source line under a frame), Java frames.
TRACEBACK_LINE = re.compile(
    r"^\s*(?:Traceback \(most recent call last\):?"
    r"|File \"[^\"]*\", line \d+.*"
    r"|at [\w$.<>/\-]+\(.*\)"
    r"|\.\.\. \d+ (?:more|common frames omitted)"
    r"|The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)\s*$"
)
TRACEBACK_HEAD = "Traceback (most recent call last)"
TRACEBACK_STARTS = ("Traceback", "File ", "at ", "... ", "The above", "During handling")
PY_FRAME = re.compile(r"^\s*File \"[^\"]*\", line \d+")
# An absolute path: POSIX (two parts or more, not inside a URL or a relative path) or Windows.
SERVER_PATH = re.compile(r"(?<![\w:/.~-])(?:/[\w.@+~-]+){2,}/?|\b[A-Za-z]:\\[^\s\"']+")
URL = re.compile(r"\bhttps?://\S+")
# "1. Do this" / "2) Do that": a model may number its own steps.
STEP_NUMBER = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")


def last_part(match: re.Match) -> str:
    """A path cut to its last part ("…/stg_orders.sql"): what the user may need, not where it lives."""
    parts = [part for part in re.split(r"[/\\]", match.group(0)) if part]
    return f"…/{parts[-1]}" if parts else "…"


def public_text(text: str) -> str:
    """Text without traceback lines (nor the source line under a Python frame) and with paths cut."""
    if not text:
        return text or ""
    text = str(text)
    if "\n" not in text and "/" not in text and "\\" not in text and "Traceback" not in text:
        # Most texts (a title, a fix step) are one plain line: only a lone frame line ("at x.y(Z.java:1)") goes.
        return "" if TRACEBACK_LINE.match(text) else text.strip()
    kept, after_frame = [], False
    for line in text.splitlines():
        # Cheap checks first: this runs on every text of every read answer.
        if line.lstrip().startswith(TRACEBACK_STARTS) and TRACEBACK_LINE.match(line):
            after_frame = PY_FRAME.match(line) is not None
            continue
        if after_frame and line.startswith((" ", "\t")):
            after_frame = False
            continue
        after_frame = False
        if TRACEBACK_HEAD in line:
            # A message that quotes a traceback ("failed: Traceback (most recent call last):") keeps its words.
            line = line.split(TRACEBACK_HEAD, 1)[0].rstrip()
        if "/" in line or "\\" in line:
            line = SERVER_PATH.sub(last_part, line)
        if line:
            kept.append(line)
    return "\n".join(kept).strip()


def public_value(value: Any) -> Any:
    """public_text over every string of a JSON value (the failed_step object, evidence lines)."""
    if isinstance(value, str):
        return public_text(value)
    if isinstance(value, list):
        return [public_value(item) for item in value]
    if isinstance(value, dict):
        return {key: public_value(item) for key, item in value.items()}
    return value


def public_error(error: str) -> str | None:
    """Why a summary could not be made, for users: the first line of our reason, with no address or path."""
    lines = public_text(error).splitlines()
    return URL.sub("the service", lines[0])[:300] if lines else None


def fix_lines(steps: list[str]) -> str:
    """The fix steps one per line, numbered "1. ...", whatever numbering or line breaks the model used."""
    cleaned = [STEP_NUMBER.sub("", " ".join(public_text(step).split())) for step in steps or []]
    cleaned = [step for step in cleaned if step] or [NO_FIX_STEPS]
    return "\n".join(f"{number}. {step}" for number, step in enumerate(cleaned, 1))


def dalgo_result(*, title: str, summary: str, root_cause: str, fix_steps: list[str]) -> list[dict[str, str]]:
    """Dalgo's completed `result`: exactly two pairs, the summary with its root cause, then the fix steps."""
    first = public_text(summary) or public_text(title)
    if root_cause:
        first = f"{first}\n\nRoot cause: {public_text(root_cause)}".strip()
    return [
        {"prompt": SUMMARY_PROMPT, "response": first},
        {"prompt": FIX_PROMPT, "response": fix_lines(fix_steps)},
    ]
