"""Reading and folding: one streaming pass over a step's log that keeps, within constant memory, what the
excerpt is built from (the first lines, "what ran" lines, the recent tail and up to MAX_INCIDENTS incidents).

Each line is ANSI-stripped and redacted before anything else looks at it; a cheap cue check (cached per
digit-free line shape) picks the few lines worth scoring; tracebacks are read as blocks (tracebacks.py);
other error-looking lines open an incident with context before/after and the lines that continue the
same log record; lines whose template repeats an earlier incident fold into it with a count.
"""

import re
from collections import deque
from dataclasses import dataclass, field

from ddpui.core.redaction import LineRedactor, line_shape, may_hold_secret, redact_text
from ddpui.core.summaries.condense.lines import (
    ANSI,
    ERROR_LEVELS,
    RECORD_START,
    WARN_LEVELS,
    Line,
    LogGap,
    LogLine,
    body_of,
    cut_middle,
    level_name,
)
from ddpui.core.summaries.condense.pointers import OUTCOME_CUE, Pointers
from ddpui.core.summaries.condense.scoring import (
    CUE,
    HEAD_INFO,
    MIN_INCIDENT_SCORE,
    SCORE_EXCEPTION_LINE,
    SCORE_GENERIC,
    SPECIAL_NUMBER,
    score_line,
)
from ddpui.core.summaries.condense.tracebacks import Block, starts_block
from ddpui.core.summaries.fingerprint import template_of
from ddpui.core.summaries.token_estimate import TokenTally

# --- bounds (memory never grows with the log beyond these) ---
RECENT_LINES = 300  # the tail, and the context before a new incident
CONTEXT_BEFORE = 8  # non-blank lines before an error
CONTEXT_AFTER = 5
CONTINUATION_LINES = 6  # lines of the same log record after an error line ("  Not found: Dataset ...")
MAX_INCIDENTS = 48
MAX_TEMPLATES = 4096  # templates of incident lines, for folding repeats
HEAD_SCAN_LINES = 2000  # where "what ran" lines are looked for
MAX_HEAD_LINES = 12
MAX_STORED_CHARS = 4000  # longer lines are cut in the middle when read
CUE_CACHE_SIZE = 8192
PLAIN_TIMESTAMP = re.compile(r"[\d:.,TZ+ -]{8,40}")
FIRST_LINES = 5  # the log's first non-blank lines, kept as they say how it started


@dataclass
class Incident:
    """An error (or warning) found in the log: its anchor line, key lines, context and repeat count."""

    anchor: int
    score: int
    template: str
    starts_record: bool
    key: dict[int, Line] = field(default_factory=dict)
    context: dict[int, tuple[Line, int]] = field(default_factory=dict)  # line -> (line, distance)
    block: dict[int, Line] = field(default_factory=dict)  # the traceback/stack trace it closes
    pointed: dict[int, Line] = field(default_factory=dict)  # code lines its key lines name (pointers.py)
    block_start: int = 0
    repeats: int = 0
    last_repeat: int = 0
    after_left: int = CONTEXT_AFTER
    continuation_left: int = CONTINUATION_LINES


class Reader:
    """The streaming state of one condense() call."""

    def __init__(self) -> None:
        """Empty state; see the bounds at the top of the module."""
        self.redactor = LineRedactor()
        self.count = 0
        self.recent: deque[Line] = deque(maxlen=RECENT_LINES)
        self.head: list[Line] = []
        self.head_info: list[Line] = []
        self.incidents: list[Incident] = []
        self.open: list[Incident] = []
        self.by_template: dict[str, Incident] = {}
        self.block: Block | None = None
        self.cue_cache: dict[bytes, tuple[bool, bool]] = {}
        self.verdicts: dict[bytes, tuple[bool, int, str]] = {}
        self.tally = TokenTally()
        self.skipped: list[tuple[int, int]] = []  # (first, last) line numbers not read
        self.pointers = Pointers()

    # --- reading ---

    def feed(self, item: str | LogLine | LogGap) -> None:
        """Read one input item (a string or LogLine; embedded newlines make several lines; a LogGap stands
        for lines that were not read)."""
        if isinstance(item, LogGap):
            self.skip(item.lines)
            return
        if isinstance(item, LogLine):
            text, level, stamp = item.text or "", level_name(item.level), item.timestamp
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

    def skip(self, count: int) -> None:
        """Number past ``count`` lines that were not read. Nothing spans the gap: a traceback being read ends,
        open incidents take no more context, and the recent lines restart after it."""
        if count <= 0:
            return
        self.close()
        self.open = []
        self.recent.clear()
        self.skipped.append((self.count + 1, self.count + count))
        self.count += count

    def _read(self, text: str, level: str | None, stamp: str | None) -> None:
        """Redact, store and classify one physical line."""
        self.count += 1
        if "\x1b" in text:
            text = ANSI.sub("", text)
        shape, secret_cue, error_cue, outcome_cue = self._cues(text)
        self.tally.add(text, len(text) - len(shape))
        redacted = self.redactor.redact(text, secret_cue)
        if redacted != text:
            text = redacted
            shape, _, error_cue, outcome_cue = self._cues(text)
        if len(text) > MAX_STORED_CHARS:
            text = cut_middle(text, MAX_STORED_CHARS)
        if stamp:
            stamp = str(stamp)
            # A timestamp holds no secret: only anything else the source put there is redacted.
            stamp = (stamp if PLAIN_TIMESTAMP.fullmatch(stamp) else redact_text(stamp))[:40]
            self.tally.add(stamp, 0)
        line = Line(self.count, text, level, stamp)
        if self.count <= HEAD_SCAN_LINES:
            self._note_head(line)
        self.pointers.read(line, outcome_cue)
        if self.block is not None and not self.block.continues_with(line):
            self._close_block()
        if self.block is None:
            self._classify(line, shape if error_cue else None)
        self.recent.append(line)

    def _cues(self, text: str) -> tuple[bytes, bool, bool, bool]:
        """The line's shape (redact.line_shape), whether it may hold a secret, whether it may state an
        error or a stack frame and whether it may state a run's outcome; cached per shape, so noise lines
        that differ only in numbers cost one look."""
        shape = line_shape(text.lower())
        cues = self.cue_cache.get(shape)
        if cues is None:
            cues = (may_hold_secret(shape), CUE.search(shape) is not None, OUTCOME_CUE.search(shape) is not None)
            if len(self.cue_cache) >= CUE_CACHE_SIZE:
                self.cue_cache.clear()
            self.cue_cache[shape] = cues
        return shape, cues[0], cues[1], cues[2]

    def _note_head(self, line: Line) -> None:
        """Keep the first lines and the ones that say what ran (command, versions, model counts)."""
        if len(self.head) < FIRST_LINES and line.text.strip():
            self.head.append(line)
        elif len(self.head_info) < MAX_HEAD_LINES and HEAD_INFO.search(line.text):
            self.head_info.append(line)

    def _verdict(self, line: Line, shape: bytes) -> tuple[bool, int, str]:
        """(starts a traceback, error score, folding template) of a cue line, cached by its shape plus the
        numbers scoring depends on (0 and 4xx/5xx): per-row warnings and retry loops are judged once."""
        key = b"%b\0%b\0%b" % (shape, ",".join(SPECIAL_NUMBER.findall(line.text)).encode(),
                                 (line.level or "").encode())
        verdict = self.verdicts.get(key)
        if verdict is None:
            opens_block = starts_block(body_of(line.text))
            score = 0 if opens_block else score_line(line.text, line.level)
            template = template_of(line.text) if score >= MIN_INCIDENT_SCORE else ""
            verdict = (opens_block, score, template)
            if len(self.verdicts) >= CUE_CACHE_SIZE:
                self.verdicts.clear()
            self.verdicts[key] = verdict
        return verdict

    def _classify(self, line: Line, cue_shape: bytes | None) -> None:
        """Offer the line to open incidents, then start a block or an incident if it is an error.
        ``cue_shape`` is the line's shape when it has an error/stack cue, else None."""
        if cue_shape is not None:
            opens_block, score, template = self._verdict(line, cue_shape)
        elif line.level in ERROR_LEVELS or line.level in WARN_LEVELS:
            opens_block, score, template = False, score_line(line.text, line.level), ""
        else:
            opens_block, score, template = False, 0, ""
        consumed = self.open and self._extend_open(line, can_continue=not opens_block, score=score,
                                                   template=template)
        if opens_block:
            self._open_block(line, body_of(line.text))
        elif not consumed and score >= MIN_INCIDENT_SCORE:
            self._incident(line, score, template or None)

    def _extend_open(self, line: Line, *, can_continue: bool, score: int, template: str) -> bool:
        """Add the line to open incidents as record continuation (a key line) or context; True when it
        continued an error record, so it is not an incident of its own."""
        consumed = False
        still_open = []
        blank = not line.text.strip()
        continues = can_continue and not blank and not RECORD_START.match(line.text)
        for incident in self.open:
            if incident.continuation_left > 0 and continues and (
                incident.starts_record or line.text[:1] in (" ", "\t")
            ):
                incident.continuation_left -= 1
                incident.key[line.number] = line
                self.pointers.note_key_line(incident.pointed, line)
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

    def _context_before(self, limit: int = CONTEXT_BEFORE) -> list[Line]:
        """Up to ``limit`` non-blank recent lines (blank ones in between come along), oldest first."""
        picked: list[Line] = []
        non_blank = 0
        for line in reversed(self.recent):
            if non_blank >= limit or len(picked) >= 3 * limit:
                break
            picked.append(line)
            if line.text.strip():
                non_blank += 1
        picked.reverse()
        return picked

    def _incident(self, line: Line, score: int, template: str | None = None,
                  before: list[Line] | None = None) -> Incident | None:
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
        incident = Incident(anchor=line.number, score=score, template=template,
                             starts_record=bool(RECORD_START.match(line.text)))
        incident.key[line.number] = line
        self.pointers.note_key_line(incident.pointed, line)
        for earlier in self._context_before() if before is None else before:
            incident.context[earlier.number] = (earlier, line.number - earlier.number)
        self.incidents.append(incident)
        self.open.append(incident)
        if len(self.by_template) < MAX_TEMPLATES:
            self.by_template[template] = incident
        return incident

    # --- tracebacks and stack traces ---

    def _open_block(self, line: Line, body: str) -> None:
        """Start reading a traceback/stack trace at ``line``."""
        self.block = Block.opened_at(line, body, self._context_before())
        # The header of a traceback that follows an error record belongs to that record's context.
        for incident in self.open:
            incident.continuation_left = 0

    def close(self) -> None:
        """End of input: a traceback still being read becomes an incident."""
        if self.block is not None:
            self._close_block()

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
            self.pointers.note_key_line(incident.pointed, line)
        incident.block = {line.number: line for line in block.lines()}
        incident.block_start = block.start
        incident.continuation_left = 0

