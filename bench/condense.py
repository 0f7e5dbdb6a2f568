"""Benchmark of the log selector (ddpui.core.summaries.condense) against naive baselines.

Run from the repository root: ``python -m bench.condense`` (about 2-3 minutes on 2 cores). Prints:

1. per shared failure log: lines in, tokens in, tokens out, root-cause lines kept at the default budget
   and at 1,000 tokens, secrets leaked (the log with secret-bearing lines from the corpus mixed in);
2. scale: real failure logs embedded in generated noise at 10k, 100k and 1M lines: wall time, peak
   memory (tracemalloc) and whether the root-cause lines were kept, for condense and for the baselines
   "last 200 lines" and "whole log";
3. redaction: false-positive rate on the shared logs (lines changed that hold no secret) and leaks on the
   secret corpus.
"""

import re
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Iterable

from bench.noise import embedded_log
from ddpui.core.redaction import redact_lines, redact_text
from ddpui.core.summaries.condense import DEFAULT_BUDGET_TOKENS, condense
from ddpui.core.summaries.token_estimate import estimate_tokens
from tests.core import secret_corpus
from tests.fixtures.labelled_logs import HARD_LOGS, load_labels

HARD_LOG_NOISE = 5_000
SMALL_BUDGET = 1000
TAIL_LINES = 200
SCALE_RUNS = (  # (lines, shared log index) — one log per system at each size, one at a million
    (10_000, 0), (10_000, 5), (10_000, 9),
    (100_000, 0), (100_000, 5), (100_000, 9),
    (1_000_000, 5),
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def kept(label: dict, shown: Iterable[str]) -> int:
    """How many of the label's root-cause substrings are in the shown text."""
    text = "\n".join(shown)
    return sum(needle in text for needle in label["root_cause_lines"])


def numbered(lines: Iterable[tuple[int, str]]) -> str:
    """Lines rendered the way an excerpt numbers them (for the baselines' token counts)."""
    return "\n".join(f"{number:>7} | {text}" for number, text in lines)


def last_lines_baseline(lines: Iterable[str]) -> list[tuple[int, str]]:
    """The naive "send the last 200 lines" strategy (ANSI-stripped and redacted, to be fair)."""
    tail = deque(enumerate(lines, start=1), maxlen=TAIL_LINES)
    return list(zip((number for number, _ in tail), redact_lines(ANSI.sub("", text) for _, text in tail), strict=False))


def whole_log_baseline(lines: Iterable[str]) -> list[tuple[int, str]]:
    """The naive "send everything" strategy (ANSI-stripped and redacted)."""
    return list(enumerate(redact_lines(ANSI.sub("", text) for text in lines), start=1))


def timed(action: Callable[[], object]) -> tuple[object, float]:
    """(result, seconds)."""
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def peak_memory(action: Callable[[], object]) -> int:
    """Peak bytes allocated while ``action`` runs (tracemalloc)."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def table(headers: list[str], rows: list[list[object]], text_columns: int) -> str:
    """A plain fixed-width table; the first ``text_columns`` columns are left-aligned, numbers right."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    out = []
    for position, row in enumerate(cells):
        out.append("  ".join(cell.rjust(width) if position and column >= text_columns else cell.ljust(width)
                             for column, (cell, width) in enumerate(zip(row, widths, strict=False))).rstrip())
        if position == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


def per_log_rows(labels: list[dict], corpus) -> list[list[object]]:
    """Rows of the per-shared-log table."""
    secret_entries = corpus.SECRET_LINES
    rows = []
    for index, label in enumerate(labels):
        excerpt = condense(label["lines"])
        small = condense(label["lines"], budget_tokens=SMALL_BUDGET)
        mixed_in = [secret_entries[(index * 7 + offset) % len(secret_entries)] for offset in range(6)]
        with_secrets = [line for text, _ in mixed_in for line in text.split("\n")] + label["lines"]
        leaked_excerpt = repr(condense(with_secrets, budget_tokens=100_000))
        leaked = sum(secret in leaked_excerpt for _, secrets in mixed_in for secret in secrets)
        total = len(label["root_cause_lines"])
        rows.append([
            label["file"][:38], f"{excerpt.lines_in:,}", f"{excerpt.tokens_in:,}", f"{excerpt.tokens_out:,}",
            f"{kept(label, (text for _, text in excerpt.lines))}/{total}",
            f"{kept(label, (text for _, text in small.lines))}/{total} ({small.tokens_out:,} tok)",
            f"{leaked}/{sum(len(secrets) for _, secrets in mixed_in)}",
        ])
    return rows


def scale_rows(labels: list[dict]) -> list[list[object]]:
    """Rows of the scale table: condense and the two baselines on embedded logs."""
    rows = []
    for size, label_index in SCALE_RUNS:
        label = labels[label_index]

        def generate():
            """A fresh lazy copy of the embedded log."""
            return embedded_log(label["lines"], label["system"], size, seed=size + label_index)

        lines = list(generate())
        total = len(label["root_cause_lines"])
        name = f"{size:,} lines + {label['file'][:2]} ({label['system']})"
        excerpt, seconds = timed(lambda: condense(lines))
        memory = peak_memory(lambda: condense(generate()))
        rows.append([name, "condense", f"{seconds:.2f}s", f"{memory / 2**20:.1f} MiB", f"{excerpt.tokens_in:,}",
                     f"{excerpt.tokens_out:,}", f"{kept(label, (text for _, text in excerpt.lines))}/{total}"])
        tail, seconds = timed(lambda: last_lines_baseline(lines))
        rows.append(["", f"last {TAIL_LINES} lines", f"{seconds:.2f}s", "", "",
                     f"{estimate_tokens(numbered(tail)):,}", f"{kept(label, (text for _, text in tail))}/{total}"])
        whole, seconds = timed(lambda: whole_log_baseline(lines))
        rows.append(["", "whole log", f"{seconds:.2f}s", f"~{sum(len(text) for _, text in whole) / 2**20:.0f} MiB text",
                     "", f"{estimate_tokens(numbered(whole)):,}", f"{kept(label, (text for _, text in whole))}/{total}"])
        lines = whole = None  # free the big lists before the next size
    return rows


def hard_log_rows(labels: list[dict]) -> list[list[object]]:
    """Rows of the hard-case table: labelled lines kept, the log alone and inside dbt noise."""
    rows = []
    for label in labels:
        total = len(label["root_cause_lines"])
        alone = condense(label["lines"])
        cells = [label["file"][:40], ", ".join(label["kinds"])[:58], f"{kept(label, (t for _, t in alone.lines))}/{total}"]
        for position, budget in ((0.5, DEFAULT_BUDGET_TOKENS), (1.0, DEFAULT_BUDGET_TOKENS), (0.5, SMALL_BUDGET)):
            lines = embedded_log(label["lines"], "dbt", HARD_LOG_NOISE, position=position)
            excerpt = condense(lines, budget_tokens=budget)
            cells.append(f"{kept(label, (t for _, t in excerpt.lines))}/{total}")
        rows.append(cells)
    return rows


def redaction_rows(labels: list[dict], corpus) -> list[str]:
    """Redaction false-positive rate on the shared logs and leak count on the secret corpus."""
    changed = total = 0
    for label in labels:
        for before, after in zip(label["lines"], redact_lines(label["lines"]), strict=False):
            total += 1
            changed += before != after
    ordinary_changed = sum(redact_text(line) != line for line in corpus.ORDINARY_LINES)
    secrets = [(redact_text(text), secrets) for text, secrets in corpus.SECRET_LINES]
    leaks = sum(secret in redacted for redacted, entry in secrets for secret in entry)
    secret_count = sum(len(entry) for _, entry in secrets)
    return [
        f"Redaction false positives on the shared logs: {changed}/{total} lines changed "
        f"({100 * changed / max(total, 1):.2f}%); ordinary corpus lines changed: {ordinary_changed}/"
        f"{len(corpus.ORDINARY_LINES)}",
        f"Secret corpus: {len(corpus.SECRET_LINES)} log entries holding {secret_count} secrets, "
        f"{leaks} leaked after redaction",
    ]


def main() -> None:
    """Run every part of the benchmark and print the tables."""
    started = time.perf_counter()
    labels = load_labels()
    print(f"Per shared log (budget {DEFAULT_BUDGET_TOKENS:,} tokens; 'at 1,000' = root causes kept at a "
          f"1,000-token budget; secrets leaked = corpus secrets mixed into the log that reach the excerpt)")
    print(table(["log", "lines in", "tokens in", "tokens out", "root cause kept", "at 1,000", "secrets leaked"],
                per_log_rows(labels, secret_corpus), text_columns=1))
    print()
    print(f"Hard cases (tests/fixtures/hard_logs: real logs whose evidence is not an error line): labelled lines "
          f"kept, alone and inside {HARD_LOG_NOISE:,} lines of dbt noise (middle, end; budget "
          f"{DEFAULT_BUDGET_TOKENS:,}, and {SMALL_BUDGET:,} in the middle)")
    print(table(["log", "kinds", "alone", "middle", "end", "middle at 1,000"], hard_log_rows(load_labels(HARD_LOGS)),
                text_columns=2))
    print()
    print(f"Scale (real failure logs embedded in generated noise; budget {DEFAULT_BUDGET_TOKENS:,}; memory = "
          f"tracemalloc peak while streaming from a generator)")
    print(table(["log", "strategy", "time", "peak memory", "tokens in", "tokens out", "root cause kept"],
                scale_rows(labels), text_columns=2))
    print()
    for line in redaction_rows(labels, secret_corpus):
        print(line)
    print(f"\nTotal bench time: {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
