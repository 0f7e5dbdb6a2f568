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
"""

import bisect
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ddpui.core.redaction import LineRedactor, line_shape, may_hold_secret, redact_text
from ddpui.core.summaries.fingerprint import strip_log_prefix, template_of
from ddpui.core.summaries.tokens import TokenTally, estimate_tokens

DEFAULT_BUDGET_TOKENS = 3000

# --- bounds (memory never grows with the log beyond these) ---
RECENT_LINES = 300  # the tail, and the context before a new incident
CONTEXT_BEFORE = 8  # non-blank lines before an error
CONTEXT_AFTER = 5
CONTINUATION_LINES = 6  # lines of the same log record after an error line ("  Not found: Dataset ...")
MAX_INCIDENTS = 48
MAX_TEMPLATES = 4096  # templates of incident lines, for folding repeats
MAX_BLOCK_HEAD = 160  # traceback lines kept from the start of a block ...
MAX_BLOCK_TAIL = 80  # ... and from its end
MAX_BLOCK_EXCEPTIONS = 24
HEAD_SCAN_LINES = 2000  # where "what ran" lines are looked for
MAX_HEAD_LINES = 12
MAX_STORED_CHARS = 4000  # longer lines are cut in the middle when read
MAX_KEY_CHARS = 1500  # ... and again when rendered
MAX_CONTEXT_CHARS = 400
MAX_KEY_INCIDENTS = 3
MAX_KEY_LINES = 10
CUE_CACHE_SIZE = 8192

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

LEVEL_NAMES = {50: "CRITICAL", 40: "ERROR", 30: "WARNING", 20: "INFO", 10: "DEBUG", 5: "TRACE"}
_ERROR_LEVELS = frozenset({"ERROR", "CRITICAL", "FATAL", "SEVERE", "ERR", "EMERGENCY", "ALERT"})
_WARN_LEVELS = frozenset({"WARN", "WARNING"})

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")

# Lines that may matter: searched in the line's shape (redact.line_shape: lower-cased, digits deleted).
# No digits in here, so a cue in the line is a cue in its shape and the answer can be cached per shape.
_CUE = re.compile(
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
# The only numbers a line's score depends on (see _verdict): zero counts and HTTP 4xx/5xx statuses.
_SPECIAL_NUMBER = re.compile(r"(?<!\d)(?:0|[45]\d\d)(?!\d)")
_HEAD_INFO = re.compile(
    r"running with dbt|found \d+ (?:models?|data tests?|tests?|seeds?|sources?|snapshots?)|registered adapter"
    r"|concurrency:|\bdbt (?:run|test|build|seed|snapshot|deps|compile)\b|running command|executing command"
    r"|command:|airbyte/[\w-]+:[\w.]+|image:|starting (?:replication|sync|source|destination|flow|task|job|attempt)"
    r"|beginning flow run|created task run|attempt number|connector version|using (?:source|destination)",
    re.I,
)

# Body of a line without an Airbyte/log4j-style prefix, indentation kept (frames are recognised by it).
_BODY_PREFIX = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"(?: (?:[A-Z]{3,8}|\[\w+\s*\]))?(?: \(\))?(?: [\w.$-]+(?:\([\w$]*\))?(?::\d+)? (?:>|-))? ?"
)
_RECORD_START = re.compile(r"\s*(?:\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}:\d{2}|\[\d|\d{1,2}/\d{1,2}/\d{2,4})")
_PY_HEADER = "Traceback (most recent call last)"
_PY_FRAME = re.compile(r"^\s*File \"[^\"]*\", line \d+")
_PY_CHAIN = re.compile(r"^(?:The above exception was the direct cause|During handling of the above exception)")
_PY_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$|^[A-Za-z_][\w.]*\(.*$")
_JAVA_HEAD = re.compile(
    r"^(?:Exception in thread \"[^\"]*\"\s+)?(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)\b"
    r"|^Exception in thread "
)
_JAVA_FRAME = re.compile(r"^\s+at [\w$.<>/\-]+\(.*\)\s*$|^\s+\.\.\. \d+ (?:more|common frames omitted)")
_JAVA_CAUSE = re.compile(r"^\s*(?:Caused by|Suppressed):")

# --- packing priorities (higher is kept first) ---
PRIORITY_KEY = 100_000
PRIORITY_NEAR_BLOCK = 80_000  # traceback lines of a root cause, minus PER_BLOCK_DISTANCE per line away
PER_BLOCK_DISTANCE = 200  # from a key line or the block's start: 50 lines away is worth the key context
PRIORITY_KEY_CONTEXT = 70_000
PRIORITY_HEAD_INFO = 65_000
PRIORITY_LAST_LINES = 64_000
LAST_LINES = 8
PRIORITY_OTHER_KEY = 60_000
PRIORITY_OTHER_CONTEXT = 40_000
PRIORITY_BLOCK = 30_000
PRIORITY_TAIL = 20_000
PRIORITY_FIRST_LINES = 15_000
FIRST_LINES = 5
PER_RANK = 1_000
PER_DISTANCE = 10
FOLD_MIN_RUN = 3  # consecutive same-template tail lines folded into one


@dataclass(frozen=True)
class LogLine:
    """One line of a step's log, with the level and timestamp when the source gives them (Prefect gives
    numeric levels such as 40, which are mapped to names)."""

    text: str
    level: str | int | None = None
    timestamp: str | None = None


@dataclass
class Excerpt:
    """The condensed, redacted evidence of a failure, exactly as it is sent to the LLM."""

    text: str  # structured evidence block, then numbered lines "  123 | ..." with gap markers
    lines: list[tuple[int, str]]  # kept lines: (original 1-based line number, redacted text)
    key_lines: list[tuple[int, str]]  # ranked root-cause lines (first = best)
    structured: list[str]  # redacted structured evidence
    lines_in: int
    tokens_in: int
    tokens_out: int
    budget: int
    omitted: int  # input lines neither shown nor folded into a shown line


@dataclass(slots=True)
class _Line:
    """A line as read: original number, redacted text, and the level/timestamp given by the source."""

    number: int
    text: str
    level: str | None = None
    timestamp: str | None = None

    def rendered(self, max_chars: int) -> str:
        """The line's text with timestamp and level, as shown after "123 | "."""
        parts = [part for part in (self.timestamp, self.level) if part]
        return _cut_middle(" ".join([*parts, self.text]) if parts else self.text, max_chars)


@dataclass
class _Incident:
    """An error (or warning) found in the log: its anchor line, key lines, context and repeat count."""

    anchor: int
    score: int
    template: str
    starts_record: bool
    key: dict[int, _Line] = field(default_factory=dict)
    context: dict[int, tuple[_Line, int]] = field(default_factory=dict)  # line -> (line, distance)
    block: dict[int, _Line] = field(default_factory=dict)  # the traceback/stack trace it closes
    block_start: int = 0
    repeats: int = 0
    last_repeat: int = 0
    after_left: int = CONTEXT_AFTER
    continuation_left: int = CONTINUATION_LINES


@dataclass
class _Block:
    """A traceback or stack trace being read; memory bounded by head/tail/exception limits."""

    language: str  # "python" or "java"
    start: int
    head: list[_Line] = field(default_factory=list)
    tail: deque = field(default_factory=lambda: deque(maxlen=MAX_BLOCK_TAIL))
    exceptions: list[_Line] = field(default_factory=list)
    frames_since_exception: int = 0
    after_exception: int = -1  # lines read since the last exception line; -1 before the first
    context_before: list[_Line] = field(default_factory=list)

    def add(self, line: _Line) -> None:
        """Store a line of the block (head first, then a rolling tail)."""
        if len(self.head) < MAX_BLOCK_HEAD:
            self.head.append(line)
        else:
            self.tail.append(line)

    def lines(self) -> list[_Line]:
        """The stored lines of the block in log order."""
        return [*self.head, *self.tail]


def _cut_middle(text: str, max_chars: int) -> str:
    """``text`` shortened to about ``max_chars`` by cutting its middle, with a marker saying how much."""
    if len(text) <= max_chars:
        return text
    keep_head = max_chars * 2 // 3
    keep_tail = max_chars - keep_head
    cut = len(text) - keep_head - keep_tail
    return f"{text[:keep_head]} …[{cut:,} chars cut]… {text[len(text) - keep_tail:]}"


def _level_name(level: str | int | None) -> str | None:
    """A level name such as "ERROR" from a name or a numeric (Python/Prefect) level."""
    if level is None or level == "":
        return None
    if isinstance(level, int):
        return LEVEL_NAMES.get(level) or LEVEL_NAMES.get(level // 10 * 10) or f"LEVEL{level}"
    name = str(level).strip().upper()[:12]
    if name.isdigit():
        return _level_name(int(name))
    return name or None


def _body(text: str) -> str:
    """The line after an Airbyte/log4j-style prefix, with its indentation (for frame detection)."""
    if text[:1].isdigit():
        match = _BODY_PREFIX.match(text)
        if match:
            return text[match.end():]
    return text


def _states_error(message: str, lowered: str) -> bool:
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
    if _states_error(message, lowered):
        score = SCORE_STRONG
    elif _GENERIC.search(lowered):
        score = SCORE_GENERIC
    if level:
        is_error_level, is_warn_level = level in _ERROR_LEVELS, level in _WARN_LEVELS
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


class _Condenser:
    """The streaming state of one condense() call."""

    def __init__(self) -> None:
        """Empty state; see the bounds at the top of the module."""
        self.redactor = LineRedactor()
        self.count = 0
        self.recent: deque[_Line] = deque(maxlen=RECENT_LINES)
        self.head: list[_Line] = []
        self.head_info: list[_Line] = []
        self.incidents: list[_Incident] = []
        self.open: list[_Incident] = []
        self.by_template: dict[str, _Incident] = {}
        self.block: _Block | None = None
        self.cue_cache: dict[bytes, tuple[bool, bool]] = {}
        self.verdicts: dict[bytes, tuple[bool, int, str]] = {}
        self.tally = TokenTally()

    # --- reading ---

    def feed(self, item: str | LogLine) -> None:
        """Read one input item (a string or LogLine; embedded newlines make several lines)."""
        if isinstance(item, LogLine):
            text, level, stamp = item.text or "", _level_name(item.level), item.timestamp
        else:
            text, level, stamp = str(item), None, None
        if "\n" in text or "\r" in text:
            parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if text.endswith(("\n", "\r")):
                parts.pop()
            for index, part in enumerate(parts or [""]):
                self._read(part, level if index == 0 else None, stamp if index == 0 else None)
        else:
            self._read(text, level, stamp)

    def _read(self, text: str, level: str | None, stamp: str | None) -> None:
        """Redact, store and classify one physical line."""
        self.count += 1
        if "\x1b" in text:
            text = _ANSI.sub("", text)
        shape, secret_cue, error_cue = self._cues(text)
        self.tally.add(text, len(text) - len(shape))
        redacted = self.redactor.redact(text, secret_cue)
        if redacted != text:
            text = redacted
            shape, _, error_cue = self._cues(text)
        if len(text) > MAX_STORED_CHARS:
            text = _cut_middle(text, MAX_STORED_CHARS)
        if stamp:
            stamp = redact_text(str(stamp))[:40]
            self.tally.add(stamp, 0)
        line = _Line(self.count, text, level, stamp)
        if self.count <= HEAD_SCAN_LINES:
            self._note_head(line)
        if self.block is not None and not self._continue_block(line):
            self._close_block()
        if self.block is None:
            self._classify(line, shape if error_cue else None)
        self.recent.append(line)

    def _cues(self, text: str) -> tuple[bytes, bool, bool]:
        """The line's shape (redact.line_shape), whether it may hold a secret and whether it may state an
        error or a stack frame; cached per shape, so noise lines that differ only in numbers cost one
        look."""
        shape = line_shape(text.lower())
        cues = self.cue_cache.get(shape)
        if cues is None:
            cues = (may_hold_secret(shape), _CUE.search(shape) is not None)
            if len(self.cue_cache) >= CUE_CACHE_SIZE:
                self.cue_cache.clear()
            self.cue_cache[shape] = cues
        return shape, cues[0], cues[1]

    def _note_head(self, line: _Line) -> None:
        """Keep the first lines and the ones that say what ran (command, versions, model counts)."""
        if len(self.head) < FIRST_LINES and line.text.strip():
            self.head.append(line)
        elif len(self.head_info) < MAX_HEAD_LINES and _HEAD_INFO.search(line.text):
            self.head_info.append(line)

    def _verdict(self, line: _Line, shape: bytes) -> tuple[bool, int, str]:
        """(starts a traceback, error score, folding template) of a cue line, cached by its shape plus the
        numbers scoring depends on (0 and 4xx/5xx): per-row warnings and retry loops are judged once."""
        key = b"%b\0%b\0%b" % (shape, ",".join(_SPECIAL_NUMBER.findall(line.text)).encode(),
                                 (line.level or "").encode())
        verdict = self.verdicts.get(key)
        if verdict is None:
            starts_block = self._starts_block(_body(line.text))
            score = 0 if starts_block else score_line(line.text, line.level)
            template = template_of(line.text) if score >= MIN_INCIDENT_SCORE else ""
            verdict = (starts_block, score, template)
            if len(self.verdicts) >= CUE_CACHE_SIZE:
                self.verdicts.clear()
            self.verdicts[key] = verdict
        return verdict

    def _classify(self, line: _Line, cue_shape: bytes | None) -> None:
        """Offer the line to open incidents, then start a block or an incident if it is an error.
        ``cue_shape`` is the line's shape when it has an error/stack cue, else None."""
        if cue_shape is not None:
            starts_block, score, template = self._verdict(line, cue_shape)
        elif line.level in _ERROR_LEVELS or line.level in _WARN_LEVELS:
            starts_block, score, template = False, score_line(line.text, line.level), ""
        else:
            starts_block, score, template = False, 0, ""
        consumed = self.open and self._extend_open(line, can_continue=not starts_block, score=score,
                                                   template=template)
        if starts_block:
            self._open_block(line, _body(line.text))
        elif not consumed and score >= MIN_INCIDENT_SCORE:
            self._incident(line, score, template or None)

    def _extend_open(self, line: _Line, *, can_continue: bool, score: int, template: str) -> bool:
        """Add the line to open incidents as record continuation (a key line) or context; True when it
        continued an error record, so it is not an incident of its own."""
        consumed = False
        still_open = []
        blank = not line.text.strip()
        continues = can_continue and not blank and not _RECORD_START.match(line.text)
        for incident in self.open:
            if incident.continuation_left > 0 and continues and (
                incident.starts_record or line.text[:1] in (" ", "\t")
            ):
                incident.continuation_left -= 1
                incident.key[line.number] = line
                incident.score = max(incident.score, score)
                consumed = True
            else:
                incident.continuation_left = 0
                if incident.after_left > 0 and (not template or template != incident.template):
                    incident.after_left -= 1
                    distance = line.number - max(incident.key)
                    incident.context[line.number] = (line, distance)
            if incident.after_left > 0 or incident.continuation_left > 0:
                still_open.append(incident)
        self.open = still_open
        return consumed

    def _context_before(self, limit: int = CONTEXT_BEFORE) -> list[_Line]:
        """Up to ``limit`` non-blank recent lines (blank ones in between come along), oldest first."""
        picked: list[_Line] = []
        non_blank = 0
        for line in reversed(self.recent):
            if non_blank >= limit or len(picked) >= 3 * limit:
                break
            picked.append(line)
            if line.text.strip():
                non_blank += 1
        picked.reverse()
        return picked

    def _incident(self, line: _Line, score: int, template: str | None = None,
                  before: list[_Line] | None = None) -> _Incident | None:
        """Fold the line into an earlier incident with the same template, or open a new one with
        ``before`` (default: the recent lines) as its context before; None when the table is full of
        better incidents."""
        template = template if template is not None else template_of(line.text)
        known = self.by_template.get(template)
        if known is not None:
            known.repeats += 1
            known.last_repeat = line.number
            known.score = max(known.score, score)
            return known
        if len(self.incidents) >= MAX_INCIDENTS:
            worst = min(self.incidents, key=lambda incident: (incident.score, -incident.anchor))
            if worst.score >= score:
                return None
            self.incidents.remove(worst)
            if worst in self.open:
                self.open.remove(worst)
        incident = _Incident(anchor=line.number, score=score, template=template,
                             starts_record=bool(_RECORD_START.match(line.text)))
        incident.key[line.number] = line
        for earlier in self._context_before() if before is None else before:
            incident.context[earlier.number] = (earlier, line.number - earlier.number)
        self.incidents.append(incident)
        self.open.append(incident)
        if len(self.by_template) < MAX_TEMPLATES:
            self.by_template[template] = incident
        return incident

    # --- tracebacks and stack traces ---

    @staticmethod
    def _starts_block(body: str) -> bool:
        """Whether a line opens a Python traceback or a Java stack trace."""
        return (
            _PY_HEADER in body
            or _PY_FRAME.match(body) is not None
            or _JAVA_HEAD.match(body) is not None
            or _JAVA_FRAME.match(body) is not None
        )

    def _open_block(self, line: _Line, body: str) -> None:
        """Start reading a traceback/stack trace at ``line``."""
        language = "python" if (_PY_HEADER in body or _PY_FRAME.match(body)) else "java"
        block = _Block(language=language, start=line.number, context_before=self._context_before())
        self.block = block
        block.add(line)
        if language == "python":
            block.frames_since_exception = 1 if _PY_FRAME.match(body) else 0
        elif _JAVA_HEAD.match(body):
            self._note_exception(line)
        # The header of a traceback that follows an error record belongs to that record's context.
        for incident in self.open:
            incident.continuation_left = 0

    def _note_exception(self, line: _Line) -> None:
        """Record an exception line of the current block and the frames that explain it."""
        block = self.block
        if len(block.exceptions) < MAX_BLOCK_EXCEPTIONS:
            block.exceptions.append(line)
        block.after_exception = 0
        block.frames_since_exception = 0

    def _continue_block(self, line: _Line) -> bool:
        """Add ``line`` to the open block if it belongs to it; False ends the block (line not consumed)."""
        block = self.block
        body = _body(line.text)
        stripped = body.strip()
        if block.language == "java":
            if _JAVA_FRAME.match(body):
                block.add(line)
                return True
            if _JAVA_CAUSE.match(body):
                block.add(line)
                self._note_exception(line)
                return True
            return False
        if _PY_FRAME.match(body):
            block.add(line)
            block.frames_since_exception += 1
            block.after_exception = -1 if block.after_exception >= 0 else block.after_exception
            return True
        if _PY_HEADER in body or _PY_CHAIN.match(stripped):
            block.add(line)
            return True
        if not stripped:
            if block.after_exception > 2:
                return False
            block.add(line)
            if block.after_exception >= 0:
                block.after_exception += 1
            return True
        if body[:1] in (" ", "\t") and block.after_exception < 0:
            block.add(line)  # source line under a frame
            return True
        if block.frames_since_exception > 0 and block.after_exception < 0 and _PY_EXCEPTION.match(stripped):
            block.add(line)
            self._note_exception(line)
            return True
        if 0 <= block.after_exception < 3 and body[:1] in (" ", "\t"):
            block.add(line)  # a multi-line exception message ("  LINE 8: ...")
            block.after_exception += 1
            return True
        return False

    def _close_block(self) -> None:
        """Turn the finished block into an incident (or fold it into an identical earlier one)."""
        block, self.block = self.block, None
        anchor = block.exceptions[0] if block.exceptions else block.head[0]
        template = "\n".join(template_of(line.text) for line in block.exceptions) or template_of(anchor.text)
        score = SCORE_EXCEPTION_LINE if block.exceptions else SCORE_GENERIC
        incident = self._incident(anchor, score, template, before=block.context_before)
        if incident is None or incident.anchor != anchor.number:
            return
        for line in block.exceptions:
            incident.key[line.number] = line
        incident.block = {line.number: line for line in block.lines()}
        incident.block_start = block.start
        incident.continuation_left = 0

    # --- the end ---

    def finish(self, structured: Sequence[str], budget: int) -> Excerpt:
        """Rank incidents, pack lines into the budget and render the excerpt."""
        if self.block is not None:
            self._close_block()
        ranked = sorted(self.incidents, key=lambda incident: (-incident.score, incident.anchor))
        key_incidents = self._key_incidents(ranked)
        key_lines = self._key_lines(key_incidents)
        structured_text = self._structured_block(structured, budget)
        packer = _Packer(self.count, budget, structured_text)
        self._offer_all(packer, ranked, key_incidents, key_lines)
        text, shown = packer.render()
        return Excerpt(
            text=text,
            lines=shown,
            key_lines=[(line.number, line.rendered(MAX_KEY_CHARS)) for line in key_lines],
            structured=structured_text,
            lines_in=self.count,
            tokens_in=self.tally.tokens() + sum(estimate_tokens(item) + 1 for item in structured_text),
            tokens_out=estimate_tokens(text),
            budget=budget,
            omitted=packer.omitted(),
        )

    @staticmethod
    def _key_incidents(ranked: list[_Incident]) -> list[_Incident]:
        """The root-cause candidates: the best incident and those scoring within a band of it."""
        if not ranked or ranked[0].score < MIN_KEY_SCORE:
            return []
        floor = max(MIN_KEY_SCORE, ranked[0].score - KEY_SCORE_BAND)
        return [incident for incident in ranked if incident.score >= floor][:MAX_KEY_INCIDENTS]

    def _key_lines(self, key_incidents: list[_Incident]) -> list[_Line]:
        """Ranked root-cause lines; with no error found, the last non-blank lines (where runs fail)."""
        lines: list[_Line] = []
        for incident in key_incidents:
            for number in sorted(incident.key):
                line = incident.key[number]
                if line.text.strip() and len(lines) < MAX_KEY_LINES:
                    lines.append(line)
        if not lines:
            seen: set[str] = set()
            for line in reversed(self.recent):
                template = template_of(line.text)
                if line.text.strip() and template not in seen:
                    seen.add(template)
                    lines.insert(0, line)
                if len(lines) == 3:
                    break
        return lines

    @staticmethod
    def _structured_block(structured: Sequence[str], budget: int) -> list[str]:
        """Redacted structured evidence; items are cut so that together they use at most half the budget."""
        items = [redact_text(str(item)).strip() for item in structured if str(item).strip()]
        if not items:
            return []
        max_chars = max(200, int(budget * 0.5 * 3 / len(items)))
        return [_cut_middle(item, max_chars) for item in items]

    def _offer_all(self, packer: "_Packer", ranked: list[_Incident], key_incidents: list[_Incident],
                   key_lines: list[_Line]) -> None:
        """Offer every candidate line to the packer with its priority."""
        key_numbers = {line.number for line in key_lines}
        packer.folded_templates = {incident.template for incident in ranked if incident.repeats}
        for rank, line in enumerate(key_lines):
            packer.offer(line, PRIORITY_KEY - rank, MAX_KEY_CHARS, is_anchor=True)
        for rank, incident in enumerate(ranked):
            is_key = incident in key_incidents
            rank_cost = rank * PER_RANK
            note = _repeat_note(incident)
            for number, line in incident.key.items():
                base = PRIORITY_KEY if number in key_numbers else PRIORITY_OTHER_KEY
                packer.offer(line, base - rank_cost - (number - incident.anchor),
                             MAX_KEY_CHARS if is_key else MAX_CONTEXT_CHARS,
                             note if number == incident.anchor else "", is_anchor=True)
            for line, distance in incident.context.values():
                base = PRIORITY_KEY_CONTEXT if is_key else PRIORITY_OTHER_CONTEXT
                packer.offer(line, base - rank_cost - abs(distance) * PER_DISTANCE, MAX_CONTEXT_CHARS)
            # A stack is kept whole when it fits; a long one loses its middle first (head and the frames
            # next to each exception line stay).
            base = PRIORITY_NEAR_BLOCK if is_key else PRIORITY_BLOCK
            for line in incident.block.values():
                distance = min(line.number - incident.block_start,
                               min(abs(line.number - number) for number in incident.key))
                packer.offer(line, base - rank_cost - distance * PER_BLOCK_DISTANCE, MAX_CONTEXT_CHARS)
        for index, line in enumerate(self.head_info):
            packer.offer(line, PRIORITY_HEAD_INFO - index, MAX_CONTEXT_CHARS)
        for index, line in enumerate(self.head):
            packer.offer(line, PRIORITY_FIRST_LINES - index, MAX_CONTEXT_CHARS)
        self._offer_tail(packer)

    def _offer_tail(self, packer: "_Packer") -> None:
        """Offer the tail, newest first, folding runs of lines that share a template."""
        tail = list(self.recent)
        templates = [packer.template(line) for line in tail]
        index = len(tail) - 1
        age = 0
        while index >= 0:
            start = index
            while start > 0 and templates[start - 1] == templates[index]:
                start -= 1
            run = index - start + 1
            first = tail[start]
            base = PRIORITY_LAST_LINES if age < LAST_LINES else PRIORITY_TAIL
            if run >= FOLD_MIN_RUN:
                packer.offer(first, base - age, MAX_CONTEXT_CHARS, covers_until=tail[index].number)
            else:
                for offset in range(index, start - 1, -1):
                    packer.offer(tail[offset], base - age - (index - offset), MAX_CONTEXT_CHARS)
            age += run if run < FOLD_MIN_RUN else 1
            index = start - 1


def _repeat_note(incident: _Incident) -> str:
    """The fold note of an incident whose message repeated later in the log."""
    if not incident.repeats:
        return ""
    return (f"(same message repeated {incident.repeats:,} more times, "
            f"lines {incident.anchor:,}-{incident.last_repeat:,})")


@dataclass
class _Candidate:
    """A line offered for the excerpt, with its best priority so far."""

    line: _Line
    priority: int
    max_chars: int
    note: str
    covers_until: int


class _Packer:
    """Greedy budgeted selection of lines, then rendering with gap markers and fold notes."""

    def __init__(self, lines_in: int, budget: int, structured: list[str]) -> None:
        """Start with the fixed parts (header and structured evidence) already counted."""
        self.lines_in = lines_in
        self.budget = budget
        self.structured = structured
        self.width = max(4, len(str(lines_in)))
        self.candidates: dict[int, _Candidate] = {}
        self.starts: list[int] = []  # selected intervals, sorted
        self.ends: list[int] = []
        self.chosen: dict[int, _Candidate] = {}
        self.folded_templates: set[str] = set()  # messages shown once with a repeat count
        self.templates: dict[int, str] = {}

    def template(self, line: _Line) -> str:
        """The line's folding template (computed once per line)."""
        template = self.templates.get(line.number)
        if template is None:
            template = self.templates[line.number] = template_of(line.text)
        return template

    def offer(self, line: _Line, priority: int, max_chars: int, note: str = "", covers_until: int = 0,
              is_anchor: bool = False) -> None:
        """Offer a line; the best priority (and longest allowance) of all offers counts. Repeats of a
        message already shown with a repeat count are not offered again (unless ``is_anchor``)."""
        if not is_anchor and self.folded_templates and self.template(line) in self.folded_templates:
            return
        known = self.candidates.get(line.number)
        if known is None:
            self.candidates[line.number] = _Candidate(line, priority, max_chars, note, max(covers_until, line.number))
            return
        known.priority = max(known.priority, priority)
        known.max_chars = max(known.max_chars, max_chars)
        known.note = known.note or note
        known.covers_until = max(known.covers_until, covers_until)

    # --- rendering pieces (their token costs are what the packer counts) ---

    def _line_text(self, candidate: _Candidate) -> list[str]:
        """The rendered line, plus its note line: a repeat count, or the run of same-template lines it
        stands for (up to ``covers_until``)."""
        number = candidate.line.number
        rendered = [f"{number:>{self.width}} | {candidate.line.rendered(candidate.max_chars)}"]
        end = candidate.covers_until
        note = candidate.note
        if end > number:
            note = f"(repeated {end - number:,} more times, lines {number + 1:,}-{end:,})"
        if note:
            rendered.append(f"{'':>{self.width}}   {note}")
        return rendered

    def _gap_text(self, count: int) -> str:
        """A gap marker for ``count`` omitted lines."""
        return f"{'':>{self.width}}   ... {count:,} line{'s' if count != 1 else ''} omitted ..."

    def _header(self) -> list[str]:
        """The fixed lines before the numbered excerpt."""
        header = []
        if self.structured:
            header.append("Structured evidence:")
            header.extend(f"- {item}" for item in self.structured)
            header.append("")
        header.append(f"Log excerpt ({self.lines_in:,} lines; original line numbers):")
        return header

    def _gap_delta(self, start: int, end: int) -> int:
        """How the number of gap markers changes if lines ``start..end`` are added."""
        position = bisect.bisect_left(self.starts, start)
        previous_end = self.ends[position - 1] if position > 0 else 0
        next_start = self.starts[position] if position < len(self.starts) else self.lines_in + 1
        before = 1 if previous_end + 1 <= next_start - 1 else 0
        after = (1 if previous_end + 1 <= start - 1 else 0) + (1 if end + 1 <= next_start - 1 else 0)
        return after - before

    def _overlaps(self, start: int, end: int) -> bool:
        """Whether lines ``start..end`` touch an already selected interval."""
        position = bisect.bisect_left(self.starts, start)
        if position > 0 and self.ends[position - 1] >= start:
            return True
        return position < len(self.starts) and self.starts[position] <= end

    def _select(self) -> None:
        """Greedy: take candidates by priority while their cost (with gap markers) fits the budget."""
        gap_cost = estimate_tokens(self._gap_text(10**9)) + 1
        spent = sum(estimate_tokens(text) + 1 for text in self._header())
        spent += gap_cost if self.lines_in else 0
        ordered = sorted(self.candidates.values(), key=lambda candidate: (-candidate.priority, candidate.line.number))
        for candidate in ordered:
            start, end = candidate.line.number, candidate.covers_until
            if self._overlaps(start, start):
                continue
            if end > start and self._overlaps(start, end):
                # A run partly shown already: fold only up to the next shown line.
                position = bisect.bisect_left(self.starts, start)
                end = self.starts[position] - 1
                candidate.covers_until = end if end - start + 1 >= FOLD_MIN_RUN else start
                end = candidate.covers_until
            cost = sum(estimate_tokens(text) + 1 for text in self._line_text(candidate))
            cost += self._gap_delta(start, end) * gap_cost
            if spent + cost > self.budget:
                continue
            spent += cost
            position = bisect.bisect_left(self.starts, start)
            self.starts.insert(position, start)
            self.ends.insert(position, end)
            self.chosen[start] = candidate

    def render(self) -> tuple[str, list[tuple[int, str]]]:
        """Select lines and render the excerpt text; also the shown (line number, text) pairs."""
        self._select()
        out = self._header()
        shown: list[tuple[int, str]] = []
        next_expected = 1
        for start, end in zip(self.starts, self.ends):
            if start > next_expected:
                out.append(self._gap_text(start - next_expected))
            candidate = self.chosen[start]
            out.extend(self._line_text(candidate))
            shown.append((start, candidate.line.rendered(candidate.max_chars)))
            next_expected = end + 1
        if self.lines_in >= next_expected:
            out.append(self._gap_text(self.lines_in - next_expected + 1))
        return "\n".join(out), shown

    def omitted(self) -> int:
        """Input lines neither shown nor folded into a shown line."""
        covered = sum(end - start + 1 for start, end in zip(self.starts, self.ends))
        return self.lines_in - covered


def condense(
    lines: Iterable[str | LogLine], *, structured: Sequence[str] = (), budget_tokens: int = DEFAULT_BUDGET_TOKENS
) -> Excerpt:
    """Condense a failed step's log into a redacted, numbered excerpt within ``budget_tokens``.

    ``lines`` is any iterable of strings or LogLines (read once, lazily; a whole log as one string is
    split into lines). ``structured`` evidence (e.g. Airbyte's failureSummary, Prefect's state message)
    comes first and is always kept, redacted. See the module docstring for how lines are chosen."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    condenser = _Condenser()
    for item in lines:
        condenser.feed(item)
    return condenser.finish(structured, max(1, int(budget_tokens)))
