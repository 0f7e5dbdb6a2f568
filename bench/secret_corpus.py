"""The secret corpus figures: how many secrets redaction catches, and what it changes that holds none.

Run from the repository root: ``python -m bench.secret_corpus`` (a few seconds). Prints:

1. the corpus (``tests/core/secret_corpus.py``): entries, secrets, secrets that survive redaction (leaks),
   entries left without any marker, and the same for the shapes that once passed through (issue 10);
2. false positives: lines changed by redaction among the shared failure logs (``tests/fixtures/shared_logs``),
   the corpus's ordinary lines and generated healthy-log noise (``bench/noise.py``), none of which holds a
   secret; how fast the noise is redacted (wall and CPU time), and the slowest hostile 1 MB line.
"""

import random
import time

from bench.noise import airbyte_noise, dbt_noise, prefect_noise
from ddpui.core.redaction import redact_lines, redact_text
from tests.core import secret_corpus
from tests.fixtures.labelled_logs import load_labels

NOISE_LINES_PER_SYSTEM = 100_000
# Hostile 1 MB lines (the webhook's body limit) built of one repeated piece: the redactor must stay linear.
HOSTILE_UNITS = ("pass", "password", "credentials", "://=credentials", "x://x:x", "password: x ", "--passpass",
                 "<password", "a/b+C1")


def leak_figures(entries: list[tuple[str, list[str]]]) -> tuple[int, int, int, int]:
    """Entries, secrets, secrets found in the redacted text, and entries the redaction left unmarked."""
    secrets = leaks = unmarked = 0
    for text, entry_secrets in entries:
        redacted = redact_text(text)
        secrets += len(entry_secrets)
        leaks += sum(secret in redacted for secret in entry_secrets)
        unmarked += "[REDACTED:" not in redacted
    return len(entries), secrets, leaks, unmarked


def changed_lines(lines: list[str]) -> int:
    """How many lines redaction changes (each is a false positive: these lines hold no secret)."""
    return sum(before != after for before, after in zip(lines, redact_lines(lines), strict=True))


def shared_log_lines() -> list[str]:
    """Every line of the shared failure logs named in their labels."""
    return [line for label in load_labels() for line in label["lines"]]


def noise_lines() -> list[str]:
    """Healthy Airbyte, dbt and Prefect output, generated with a fixed seed."""
    lines: list[str] = []
    for generate in (airbyte_noise, dbt_noise, prefect_noise):
        lines.extend(generate(NOISE_LINES_PER_SYSTEM, random.Random(3)))
    return lines


def main() -> None:
    """Print the corpus and false-positive figures."""
    print("Secret corpus (tests/core/secret_corpus.py)")
    for name, entries in (("all entries", secret_corpus.SECRET_LINES),
                          ("shapes that passed through before issue 10", secret_corpus.PASSED_THROUGH)):
        count, secrets, leaks, unmarked = leak_figures(entries)
        print(f"  {name}: {count} entries holding {secrets} secrets, {leaks} leaked, {unmarked} entries unmarked")
    print("False positives (lines changed that hold no secret)")
    shared = shared_log_lines()
    print(f"  shared failure logs: {changed_lines(shared)}/{len(shared)} lines")
    ordinary = secret_corpus.ORDINARY_LINES
    print(f"  corpus ordinary lines: {changed_lines(ordinary)}/{len(ordinary)} lines")
    noise = noise_lines()
    started, started_cpu = time.perf_counter(), time.process_time()
    changed = changed_lines(noise)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    print(f"  generated healthy-log noise: {changed}/{len(noise):,} lines")
    # CPU time as well: other processes on a shared machine stretch the wall time, not the CPU time
    print(f"Speed: {len(noise):,} noise lines redacted in {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU "
          f"({len(noise) / cpu_seconds:,.0f} lines per CPU second)")
    worst = max(hostile_seconds(unit) for unit in HOSTILE_UNITS)
    print(f"Worst hostile 1 MB line ({len(HOSTILE_UNITS)} kinds): {worst:.2f} s CPU")


def hostile_seconds(unit: str) -> float:
    """CPU seconds to redact one 1 MB line made of ``unit`` repeated."""
    text = unit * (1024 * 1024 // len(unit))
    started = time.process_time()
    redact_text(text)
    return time.process_time() - started


if __name__ == "__main__":
    main()
