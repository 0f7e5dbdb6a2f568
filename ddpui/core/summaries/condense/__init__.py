"""Turns a failed step's raw log into a small, redacted, numbered excerpt that fits a token budget.

One streaming pass over the lines, with memory bounded by constants (never by the log's size):

1. every line is ANSI-stripped and redacted before anything else looks at it;
2. a cheap cue check (cached per digit-free line shape) picks the few lines worth classifying;
3. Python tracebacks and Java stack traces are read as blocks (header, frames, chained causes, exception
   lines); other error-looking lines open an *incident* with context before/after and the lines that
   continue the same log record (dbt prints "Database Error in model x" then the database's message);
4. lines whose template (see fingerprint.template_of) repeats an earlier incident fold into it with a count;
5. at the end incidents are ranked: explicit errors and exceptions over generic ones, errors over
   warnings, root causes over downstream echoes ("skipped because of upstream failure"), final-state and
   summary lines, retried attempts and telemetry noise; ties go to the earliest line, so the FIRST fatal
   error wins over its later echoes;
6. lines are packed by priority (root-cause lines, their traceback and context, what ran, the tail, other
   incidents) until the budget is spent, then rendered in log order with their original line numbers,
   gap markers for what was left out and fold notes for repeats.

Modules, in the order a line meets them: lines (LogLine, Line, text helpers), scoring (what an error line
says), tracebacks (blocks), reader (the streaming pass, incidents, folding), excerpt (ranking, offering,
the Excerpt), packing (the budget and the rendering).
"""

from collections.abc import Iterable, Sequence

from ddpui.core.summaries.condense.excerpt import Excerpt, build_excerpt
from ddpui.core.summaries.condense.lines import LogGap, LogLine
from ddpui.core.summaries.condense.reader import Reader
from ddpui.core.summaries.condense.scoring import score_line

__all__ = ["DEFAULT_BUDGET_TOKENS", "Excerpt", "LogGap", "LogLine", "condense", "score_line"]

DEFAULT_BUDGET_TOKENS = 3000


def condense(
    lines: Iterable[str | LogLine | LogGap], *, structured: Sequence[str] = (), budget_tokens: int = DEFAULT_BUDGET_TOKENS
) -> Excerpt:
    """Condense a failed step's log into a redacted, numbered excerpt within ``budget_tokens``.

    ``lines`` is any iterable of strings or LogLines (read once, lazily; a whole log as one string is
    split into lines), with a LogGap where lines were not read. ``structured`` evidence (e.g. Airbyte's failureSummary, Prefect's state message)
    comes first and is always kept, redacted. See the module docstring for how lines are chosen."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    reader = Reader()
    for item in lines:
        reader.feed(item)
    return build_excerpt(reader, structured, max(1, int(budget_tokens)))
