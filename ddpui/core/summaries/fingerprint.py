"""Line templates and failure fingerprints.

A *template* is a log line with everything that changes from one occurrence to the next replaced by a
placeholder: timestamps, UUIDs, hex ids, numbers, quoted values. The selector folds lines sharing a
template into one ("repeated 9,999 more times").

A *fingerprint* identifies a failure across runs: the selected root-cause lines normalized the same way
plus the failed step's kind, hashed. Generic lines ("Traceback (most recent call last):", "Task run
failed", "DbtRuntimeError: Runtime Error") name no cause and are left out; when every root-cause line is
generic, the specific error text is taken from the log's other error lines, then the structured facts
(state messages, Airbyte's failureSummary), then the last lines. Two runs of one real error (other run ids, times, row counts, flow
run names) share it; different root causes do not, so normalization for fingerprints keeps what names the
cause: error codes (HTTP status, errno, exit code, SQLSTATE), identifiers such as model, column or file
names (quoted or not), and exception messages. Only quoted values that look generated (containing a digit,
or adjective-noun run names like 'celadon-chimpanzee') are dropped.
"""

import hashlib
import re
from collections.abc import Sequence

# Leading log decoration that differs between an error and its later echo: timestamps, levels, thread
# and logger names, Airbyte's "source >", Prefect's "| INFO | logger -".
_PREFIX = re.compile(
    r"""^(?:\s*(?:
        \d{4}-\d{2}-\d{2}(?:[T\s]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|\s?[+-]\d{2}:?\d{2}|\s?UTC)?)?
      | \d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s?[AP]M)?
      | \[(?!Errno)[^\]\n]{0,40}\]:?
      | \|
      | (?:DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|FATAL|TRACE|SEVERE)\b:?
      | (?:source|destination|replication-orchestrator|orchestrator|normalization|dbt|platform)\s+>
      | [\w.$]+(?:\([\w$]*\))?:\d+\s+-
      | [a-z][\w]*(?:\.[\w-]+)+\s+-(?=\s)
      | \(\)
    ))+\s*""",
    re.X,
)
# Starts with a digit class so the regex engine can skip to digits quickly.
_TIMESTAMP = re.compile(
    r"\d(?:\d{3}-\d{2}-\d{2}(?:[T\s]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d?/\d{1,2}/\d{2,4}\b|\d?:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:\s?[AP]M\b)?)"
)
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b")
# Letter-digit mixtures of 8+ characters: temp dirs, pod names, run ids inside paths.
_MIXED_ID = re.compile(r"\b(?=[A-Za-z_]*\d)(?=[\d_]*[A-Za-z])[A-Za-z0-9]{8,}\b")
_QUOTED = re.compile(r"""(?<![\w\\])(['"])([^'"\s]{1,100})\1""")
_QUOTED_ANY = re.compile(r"""(?<![\w\\])'[^'\n]{0,200}'|"[^"\n]{0,200}\"""")
_GENERATED_NAME = re.compile(r"^[a-z]+-[a-z]+(?:-[a-z0-9]+)?$")
_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:[.,]\d+)*")
# For folding: any token that contains a digit (counts, ids, timestamps, versions, sizes) is variable.
_DIGIT_TOKEN = re.compile(r"(?<![\w.:/\-])(?=[\w.:/\-]*\d)[\w.:/\-]+")
# Numbers after these words are error codes that tell causes apart: "status code 403", "[Errno 2]",
# "exit code 137", "SQLSTATE 42703", "<Response [502]>", "ORA-00942".
_CODE_CONTEXT = re.compile(
    r"(?:status(?:\scode)?|http(?:/\d(?:\.\d)?)?|response|errno|exit(?:\s(?:code|status))?|error(?:\scode)?"
    r"|code|sqlstate|ora|returned|signal|killed)\W{0,3}$",
    re.I,
)
_HTTP_ERROR = re.compile(r"^[45]\d\d$")
_SPACES = re.compile(r"\s+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Words every failure says: a line made only of these (and numbers, placeholders) names no cause.
GENERIC_WORDS = frozenset("""
    a above airbyte an and are at below been by call check cli code command commands core crash crashed critical
    dbt debug details during encountered error errors exception exceptions execution exhausted exit exited fail
    failed failing fails failure failures fatal finished flow for from has hex id in info is it job last log logs
    more most of on operation please prefect process q raise raised recent retries retry run runs runtime see
    something state sync task the this to traceback ts unexpected unknown warning warnings was went while with
    wrong
""".split())
MAX_FALLBACK_LINES = 3
# Stack frames say where, not what failed: the same frames close many different failures.
_FRAME = re.compile(r'^\s*(?:File "[^"]*", line \d+|at [\w$.<>/\-]+\(.*\)\s*$|\.\.\. \d+ more|raise\s*$)')


def strip_log_prefix(text: str) -> str:
    """The message part of a log line: leading timestamps, levels, thread/logger names removed."""
    match = _PREFIX.match(text)
    return text[match.end():] if match else text.strip()


def _keep_code(match: re.Match) -> str:
    """Replace a number by ``#`` unless it is an error code (see _CODE_CONTEXT) or an HTTP error status."""
    start = match.start()
    before = match.string[max(0, start - 16): start]
    if _CODE_CONTEXT.search(before) or _HTTP_ERROR.match(match.group(0)):
        return match.group(0)
    return "#"


def _generated_quoted(match: re.Match) -> str:
    """Drop a quoted value that looks generated (has a digit, or is an adjective-noun run name)."""
    value = match.group(2)
    if any(char.isdigit() for char in value) or _GENERATED_NAME.match(value):
        return "<q>"
    return match.group(0)


def _scrub_ids(text: str) -> str:
    """Replace timestamps, UUIDs and hex/mixed ids, which never carry the cause of a failure."""
    text = _TIMESTAMP.sub("<ts>", text)
    text = _UUID.sub("<id>", text)
    text = _HEX.sub("<hex>", text)
    return _MIXED_ID.sub("<id>", text)


def normalize_line(text: str) -> str:
    """A line reduced to what names its failure (see the module docstring); used for fingerprints."""
    text = _scrub_ids(strip_log_prefix(text))
    text = _QUOTED.sub(_generated_quoted, text)
    text = _NUMBER.sub(_keep_code, text)
    return _SPACES.sub(" ", text).strip()


def template_of(text: str) -> str:
    """A line's folding template: its message with every quoted value and every token containing a digit
    (numbers, ids, timestamps, sizes) replaced, so per-row and per-attempt variants of one message fold
    into one line. Coarser and much cheaper than :func:`normalize_line`; called on many lines."""
    text = strip_log_prefix(text)
    if "'" in text or '"' in text:
        text = _QUOTED_ANY.sub("<q>", text)
    return " ".join(_DIGIT_TOKEN.sub("#", text).split())


def is_generic(line: str) -> bool:
    """Whether a line names no cause: only generic failure words, numbers and placeholders once normalized, no
    error code
    (exception class names are split at capitals, so "DbtRuntimeError" is generic, "FileNotFoundError" not), or
    a stack frame."""
    if _FRAME.match(strip_log_prefix(line)):
        return True
    normalized = normalize_line(line)
    if any(char.isdigit() for char in normalized):
        return False  # only error codes keep their digits ("exit code 137", "status code 403")
    words = _WORD.findall(_CAMEL.sub(" ", normalized))
    return not any(part not in GENERIC_WORDS for word in words for part in word.lower().split("_") if part)


def specific_lines(key_lines: Sequence[str], *fallbacks: Sequence[str]) -> list[str]:
    """The lines a fingerprint hashes: the specific root-cause lines; when every one is generic, the first
    specific lines of each fallback in turn (other error lines, structured facts, last lines), at most
    MAX_FALLBACK_LINES; when nothing is specific, the root-cause lines as they are."""
    chosen = [line for line in key_lines if not is_generic(line)]
    for lines in fallbacks:
        if chosen:
            break
        chosen = [line for line in lines if not is_generic(line)][:MAX_FALLBACK_LINES]
    return chosen or list(key_lines)


def fingerprint(key_lines: Sequence[str], step_kind: str) -> str:
    """Hex sha256 of the failed step's kind and its normalized, de-duplicated root-cause lines.

    The lines are de-duplicated and kept in their given (ranked) order, so an error echoed twice hashes
    like the same error printed once."""
    seen: list[str] = []
    for line in key_lines:
        normalized = normalize_line(line)
        if normalized and normalized not in seen:
            seen.append(normalized)
    payload = "\n".join([f"step:{step_kind.strip().lower()}", *seen])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
