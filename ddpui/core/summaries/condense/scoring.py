"""How strongly one (redacted) line states an error: explicit errors and exceptions over generic ones,
errors over warnings, root causes over downstream echoes, end-of-run summaries, retried attempts and
telemetry noise; plus the cheap cues that pick the few lines worth scoring."""

import re

from ddpui.core.summaries.condense.lines import ERROR_LEVELS, WARN_LEVELS
from ddpui.core.summaries.fingerprint import strip_log_prefix

# --- scores of an error line ---
SCORE_EXCEPTION_LINE = 60  # the exception line(s) closing a traceback / heading a stack trace
SCORE_STRONG = 50  # explicit error statements: "Database Error", "FileNotFoundError:", HTTP 4xx/5xx ...
SCORE_GENERIC = 30  # "error", "failed", "not found", "denied", ...
SCORE_ERROR_LEVEL = 20  # logged at ERROR/CRITICAL
SCORE_WARNING = 5  # warnings are kept (and folded) but never outrank errors
PENALTY_WARN_LEVEL = 20
PENALTY_RETRY = 15  # an attempt that will be retried; the final failure outranks it
PENALTY_SUMMARY = 25  # end-of-run summaries and final states repeat an earlier cause
PENALTY_DOWNSTREAM = 40  # "skipped because of upstream failure"
PENALTY_NOISE = 40  # telemetry, "0 errors"
MIN_INCIDENT_SCORE = 5
MIN_KEY_SCORE = 25
KEY_SCORE_BAND = 15  # incidents this close to the best one are root-cause candidates too

# Lines that may matter: searched in the line's shape (redact.line_shape: lower-cased, digits deleted).
# No digits in here, so a cue in the line is a cue in its shape and the answer can be cached per shape.
CUE = re.compile(
    rb"err|exception|traceback|fail|fatal|warn|critical|panic|denied|refused|forbidden|unauthori|timeout"
    rb"|timed out|deadline|killed|out of memory|oom|retr|backoff|backing off|abort|crash|cannot|can't"
    rb"|could not|couldn't|unable|not found|no such|does not exist|doesn't exist|invalid|skip|caused by"
    rb"|file \"|\tat |^\s+at [\w$]|bad gateway|unavailable|too many requests|status code|http/|response \["
    rb"|exit code|exited|terminated|cancel|violat|refus|missing"
)
# What an error line says, matched in the lower-cased message (re.IGNORECASE is several times slower).
# Explicit error statements: an exception class name ends with one of these words, followed by ":" or "("
# or the end of the line ("FileNotFoundError: ...", "httpx.ReadTimeout"); checked case-sensitively.
_EXCEPTION_NAME = re.compile(r"(?:Error|Exception|Exit|Fault|Failure|Timeout|Interrupt)(?:\s*[:(]|\s*$)")
_EXCEPTION_STEMS = ("error", "exception", "exit", "fault", "failure", "timeout", "interrupt")
_STRONG_PHRASES = (
    "database error", "compilation error", "runtime error", "parsing error", "dependency error",
    "internal error", "failure in test", "error in model", "error in test", "error in seed", "error in snapshot",
    "error in macro", "error in source", "warning in test", "encountered an error", "exception in thread",
    "caused by:", "configured to fail", "configured to warn", "outofmemory", "out of memory", "oomkilled",
    "no space left on device", "permission denied", "access denied", "authentication failed", "max retr",
    "maximum retr", "retries exceeded", "giving up", "syntax error",
)
_HTTP_STEMS = ("status", "http", "response", "client error", "server error", "bad request", "unauthorized",
               "forbidden", "not found", "conflict", "too many", "gateway", "unavailable")
_HTTP_ERROR = re.compile(
    r"(?:status(?: code)?|http(?:/\d(?:\.\d)?)?|response \[)\s*[45]\d\d\b|\b[45]\d\d (?:client|server) error"
    r"|\b[45]\d\d (?:bad request|unauthorized|forbidden|not found|conflict|too many requests"
    r"|internal server error|bad gateway|service unavailable|gateway time-?out)"
)
_DBT_FAIL = re.compile(r"\bFAIL\b")
_GENERIC = re.compile(
    r"\b(?:errors?|failed|failure|fatal|exception|denied|refused|forbidden|unauthori[sz]ed|timed ?out|timeout"
    r"|killed|panic|abort(?:ed|ing)?|crash(?:ed)?|cannot|can't|could not|couldn't|unable to|not found|no such"
    r"|does not exist|doesn't exist|invalid|missing|violat(?:es|ed|ion)|terminated|cancell?ed)\b"
)
_DOWNSTREAM = re.compile(
    r"\bskip(?:ped|ping)?\b|upstream (?:failure|error)|because of (?:upstream|status)|due to (?:an )?upstream"
    r"|depends on (?:a )?failed|marking all children"
)
_SUMMARY = re.compile(
    r"finished in state (?:failed|crashed|cancelled|timedout)|completed with \d+ errors?|done\. pass=|error creating"
    r"|\b\d+ of \d+ error\b|command `[^`]*` failed|flow run .{0,80}(?:failed|crashed)|job (?:\d+ )?failed"
    r"|sync (?:job )?failed|process completed with exit code|encountered an exception\.|finished with errors"
)
_RETRY = re.compile(r"\bretr(?:y|ying|ies|ied)\b|\bbackoff\b|backing off|\battempt \d+")
_FINAL = re.compile(r"max(?:imum)? retr|retries exceeded|giving up|gave up|all \d+ attempts|final attempt|exhausted")
_NOISE = re.compile(
    r"usage events|anonymous usage|telemetry|\b0 errors?\b|\berrors?[=:]\s*0\b|\bno errors?\b|without errors?"
    r"|warn_error|on_error|error_?handler|error_count"
)
_ERROR_PREFIX_WORDS = ("ERROR", "FATAL", "CRITICAL", "SEVERE")
# The only numbers a line's score depends on (see reader.Reader._verdict): zero counts and HTTP 4xx/5xx statuses.
SPECIAL_NUMBER = re.compile(r"(?<!\d)(?:0|[45]\d\d)(?!\d)")
HEAD_INFO = re.compile(
    r"running with dbt|found \d+ (?:models?|data tests?|tests?|seeds?|sources?|snapshots?)|registered adapter"
    r"|concurrency:|\bdbt (?:run|test|build|seed|snapshot|deps|compile)\b|running command|executing command"
    r"|command:|airbyte/[\w-]+:[\w.]+|image:|starting (?:replication|sync|source|destination|flow|task|job|attempt)"
    r"|beginning flow run|created task run|attempt number|connector version|using (?:source|destination)",
    re.I,
)



def states_error(message: str, lowered: str) -> bool:
    """Whether a message states an error explicitly (an exception, a dbt/database error, HTTP 4xx/5xx...)."""
    if any(stem in lowered for stem in _EXCEPTION_STEMS) and _EXCEPTION_NAME.search(message):
        return True
    if any(phrase in lowered for phrase in _STRONG_PHRASES):
        return True
    if "FAIL" in message and _DBT_FAIL.search(message):
        return True
    return any(stem in lowered for stem in _HTTP_STEMS) and _HTTP_ERROR.search(lowered) is not None


def score_line(text: str, level: str | None = None) -> int:
    """How strongly a (redacted) line states an error; <= 0 when it does not. See the module docstring."""
    message = strip_log_prefix(text)
    prefix = text[: len(text) - len(message)].upper() if text.endswith(message) else ""
    lowered = message.lower()
    score = 0
    if states_error(message, lowered):
        score = SCORE_STRONG
    elif _GENERIC.search(lowered):
        score = SCORE_GENERIC
    if level:
        is_error_level, is_warn_level = level in ERROR_LEVELS, level in WARN_LEVELS
    else:
        is_error_level = any(word in prefix for word in _ERROR_PREFIX_WORDS)
        is_warn_level = "WARN" in prefix
    if is_error_level:
        score += SCORE_ERROR_LEVEL
    if score == 0:
        return SCORE_WARNING if is_warn_level or "warn" in lowered or "deprecat" in lowered else 0
    if is_warn_level:
        score -= PENALTY_WARN_LEVEL
    if _DOWNSTREAM.search(lowered):
        score -= PENALTY_DOWNSTREAM
    if _SUMMARY.search(lowered):
        score -= PENALTY_SUMMARY
    if _RETRY.search(lowered) and not _FINAL.search(lowered):
        score -= PENALTY_RETRY
    if _NOISE.search(lowered):
        score -= PENALTY_NOISE
    return score

